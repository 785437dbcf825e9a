import type { Alert, AlertIncident, Attribution, Detection, Enrichment, SubjectEnrichment } from '../core/alert';
import { fingerprint } from '../alert/fingerprint';
import type { JsonObject, SecurityEvent } from '../core/event';
import type { Logger } from '../observability/logger';
import type { StateStore } from '../store/port';
import { attribute, runtimeTarget, sameAttribution, type AttributionOptions, type RuntimeTarget } from './attribution';
import type { FactSource } from './facts';
import { incidentRef, type Added, type IncidentTracker } from './incidents';
import { addSession, expireSessions, sessionFromAudit, type Session } from './sessions';
import {
  MAX_RECORD_BYTES,
  ParsedCache,
  PodIndex,
  localStore,
  readValue,
  textOf,
  updateList,
  whenDone,
  type LocalStore,
  type PodNode,
} from './state';

export interface CorrelatorOptions extends AttributionOptions {
  waitForAuditMs: number;
  lateAuditMs: number;
  maxSessionsPerPod: number;
  maxPods: number;
  /** Embedded mode: runtime alerts (each held) a late audit event can still update, in all. */
  maxPendingAlerts: number;
}

export interface CorrelatorDeps {
  store: StateStore;
  /** The RBAC facts of an attributed user, as an audit alert's subject gets them. */
  subject?: (cluster: string, user: string, groups: string[]) => Promise<SubjectEnrichment>;
  /** Updates an alert in place: announced already, or still held before its first announcement. */
  amend: (alert: Alert) => Promise<void>;
  /**
   * Embedded mode: the alert of `fingerprint` first seen at `firstSeen` where the pipeline keeps it
   * (the recent alerts), for a late update of one this process no longer holds (one tracked before a
   * restart, or pushed out of the newest tracked). Absent: only those this process holds are updated.
   */
  recall?: (fingerprint: string, firstSeen: number) => Alert | undefined;
  incidents?: IncidentTracker;
  /** An incident gained a member other than its first: its parent message is updated in place. */
  incidentGrew?: (incident: AlertIncident) => void;
  /** The bus's partition generation (`EventBus.generation`); absent: this replica sees every pod. */
  generation?: () => number;
  /**
   * The state store is this process's alone (embedded mode, no Redis): records are kept as lazy
   * values where the store allows (made only if read or written out), read back without being made,
   * and the pending alerts in process when it tells the time (`MemoryStateStore`).
   */
  exclusiveStore?: boolean;
  log?: Pick<Logger, 'warn'>;
}

/** What the correlate stage adds to a detection before it becomes an alert. */
export interface Correlation {
  attribution?: Attribution;
  incident?: AlertIncident;
  /** How long the first announcement may wait for the audit event that would attribute it. */
  holdMs: number;
}

/**
 * A runtime alert that a late audit event may still attribute (or attribute better): an entry of
 * the pod's list. With a shared store the alert itself is kept under a key of its own, written once;
 * embedded, the entry (`Pending`) holds the alert in process.
 */
interface PendingAlert {
  fingerprint: string;
  firstSeen: number;
  target: RuntimeTarget;
  /** Confidence, user and audit IDs of the attribution the alert went out with. */
  attribution?: AttributionSummary;
}

type AttributionSummary = Pick<Attribution, 'confidence' | 'user' | 'auditID'> & { candidates: { auditID: string }[] };

function summary(a: Attribution | undefined): AttributionSummary | undefined {
  return a
    ? {
        confidence: a.confidence,
        user: a.user,
        auditID: a.auditID,
        candidates: a.candidates.map((c) => ({ auditID: c.auditID })),
      }
    : undefined;
}

const MAX_PENDING_PER_POD = 16;
/** The runtime targets of the events being correlated: `track` finds its event's among them. */
const TARGETS_KEPT = 16;
const SESSIONS = 'corr:s:';
const PENDING = 'corr:r:';
const PENDING_ALERT = 'corr:ra:';

/**
 * The correlate stage. `observe` sees every event and records the exec/attach/debug sessions audit
 * events open; `correlate` attributes a runtime detection to the session it ran in; `track` remembers
 * runtime alerts so an audit event that arrives late (the webhook batches for up to 30 s) updates
 * them in place, and puts every alert into its incident. With a shared store (Redis, scale-out) all
 * state lives in it, keyed by pod — the bus partition key — so another replica carries on after a
 * crash or a rebalance. Embedded (the store is this process's alone), the pending alerts are kept in
 * process on their pod (and in the data dir, when there is one, for a restart). Time is event time
 * throughout; the clock is only used for waits and for how long an alert stays pending.
 */
export class Correlator {
  private readonly pods: PodIndex<PodState>;
  private readonly sessions = new ParsedCache<Session[]>(4096);
  private readonly pending = new ParsedCache<PendingAlert[]>(4096);
  /** The runtime side of the join of the latest runtime events correlated (a ring), for `correlate` and `track`. */
  private readonly targetEvents: (SecurityEvent | undefined)[] = new Array<SecurityEvent | undefined>(TARGETS_KEPT).fill(
    undefined,
  );
  private readonly targetValues: (RuntimeTarget | undefined)[] = new Array<RuntimeTarget | undefined>(TARGETS_KEPT).fill(
    undefined,
  );
  private targetAt = 0;
  /**
   * The store when it is this process's alone and in process (embedded mode): a runtime alert is
   * correlated and tracked in one synchronous turn, without a promise per step (see `IncidentTracker.add`).
   */
  private readonly local?: LocalStore;
  /** `local` when it tells the time too: the pending alerts are then kept in process, not as records. */
  private readonly inProcess?: LocalStore & { now(): number };
  /**
   * Embedded mode: every pending alert still on its pod's list, oldest first; beyond
   * `options.maxPendingAlerts` the oldest leaves its pod's list. An entry that leaves its pod's list
   * (pushed out by the pod's newer alerts, replaced, expired) leaves this queue too, so a noisy pod
   * holds at most 16 of its places and cannot push out the alerts of quieter pods.
   */
  private readonly queue = new PendingQueue();

  constructor(
    private readonly deps: CorrelatorDeps,
    private readonly options: CorrelatorOptions,
  ) {
    this.local = localStore(deps.store, deps.exclusiveStore);
    if (this.local?.now) this.inProcess = this.local as LocalStore & { now(): number };
    // Evicting a pod forgets its sessions and its pending alerts (with Redis, their own keys expire by TTL).
    this.pods = new PodIndex<PodState>(options.maxPods, (pod) => {
      void Promise.all([deps.store.delete(SESSIONS + pod), deps.store.delete(PENDING + pod)]).catch(() => undefined);
    });
  }

  private get sessionTtlMs(): number {
    return this.options.maxSessionMs + this.options.lateAuditMs + this.options.skewMs;
  }

  /** Undefined (no promise) for the events that open no session: nearly all of them. */
  observe(event: SecurityEvent): Promise<void> | undefined {
    const found = sessionFromAudit(event);
    return found ? this.record(found.key, found.session) : undefined;
  }

  private async record(key: string, session: Session): Promise<void> {
    const node = this.pods.node(key);
    if (node.state) node.state.noSessions = undefined;
    const sessions = await updateList<Session>(
      this.deps.store,
      SESSIONS + key,
      this.sessionTtlMs,
      (current) => {
        const latest = Math.max(session.start, ...current.map((s) => s.start));
        const kept = expireSessions(current, latest, this.options.maxSessionMs, this.options.lateAuditMs + this.options.skewMs);
        return addSession(kept, session, this.options.maxSessionsPerPod);
      },
      this.sessions,
      this.deps.exclusiveStore,
    );
    const local = this.inProcess;
    await (local ? this.reattributeLocally(local, node.pod, sessions) : this.reattribute(key, sessions));
  }

  /**
   * Synchronous (no promise) when nothing it reads or writes waits: in embedded mode, a runtime alert
   * no one is attributed to (the RBAC facts of an attributed user are looked up) that joins at most
   * one incident.
   */
  correlate(detection: Detection, enrichment: Enrichment): Correlation | Promise<Correlation> {
    const target = this.targetOf(detection.event);
    const attributed = target
      ? whenDone(this.sessionsOf(target), (sessions) =>
          sessions.length ? this.withSubject(detection.event.k8s.cluster, attribute(target, sessions, this.options)) : undefined,
        )
      : undefined;
    return attributed instanceof Promise
      ? attributed.then((attribution) => this.withIncident(detection, enrichment, target, attribution))
      : this.withIncident(detection, enrichment, target, attributed);
  }

  private withIncident(
    detection: Detection,
    enrichment: Enrichment,
    target: RuntimeTarget | undefined,
    attribution: Attribution | undefined,
  ): Correlation | Promise<Correlation> {
    const holdMs = target && (!attribution || attribution.confidence === 'low') ? this.options.waitForAuditMs : 0;
    if (!this.deps.incidents) return correlation(attribution, undefined, holdMs);
    return whenDone(this.joinIncident(factSource(detection, enrichment, attribution)), (incident) =>
      correlation(attribution, incident, holdMs),
    );
  }

  /**
   * The pod's sessions. Pods the store had no sessions for when this replica last looked, with the
   * bus generation then, skip the store read (the fast negative path). Sound because an exec's audit
   * event and the Falco events of its pod share a partition key: while this replica holds the pod's
   * partition (the generation is unchanged) every session of the pod is observed here first, and
   * observing one clears the mark. After a rebalance (or a restart, or the pod's eviction from the
   * index) the store is read again. The target's key becomes the pod's one string (`track` keeps it).
   */
  private sessionsOf(target: RuntimeTarget): Session[] | Promise<Session[]> {
    // Marked used by `track` (or `record`), not here: a lookup costs less than moving the pod in the index.
    const node = this.pods.peek(target.key) ?? this.pods.node(target.key);
    target.key = node.pod;
    const state = (node.state ??= new PodState(this.queue));
    const generation = this.deps.generation?.() ?? 0;
    if (state.noSessions === generation) return [];
    // One key string a pod: its hash is computed once, not for every alert of a pod with sessions.
    const key = (state.sessionsKey ??= SESSIONS + node.pod);
    return whenDone(readValue(this.deps.store, key, this.deps.exclusiveStore === true), (raw) => {
      if (raw !== undefined) return this.sessions.parse(key, raw);
      state.noSessions = generation;
      return [];
    });
  }

  /**
   * `runtimeTarget`, once per event (an event's detections share it): `track` sees the alert's copy
   * of the event `correlate` saw, the same object unless its raw payload was cut (then found by id).
   */
  private targetOf(event: SecurityEvent, byId = false): RuntimeTarget | undefined {
    const events = this.targetEvents;
    const newest = this.targetAt + TARGETS_KEPT - 1;
    // Newest first: `track` follows its `correlate` closely, and each miss by id reads an event.
    for (let i = newest; i > newest - TARGETS_KEPT; i--)
      if (events[i % TARGETS_KEPT] === event) return this.targetValues[i % TARGETS_KEPT];
    if (byId)
      for (let i = newest; i > newest - TARGETS_KEPT; i--)
        if (events[i % TARGETS_KEPT]?.id === event.id) return this.targetValues[i % TARGETS_KEPT];
    const target = runtimeTarget(event);
    // Only runtime events are kept (small ones): an audit event's target is undefined at once, and
    // the ring should not hold a big request body.
    if (!target) return undefined;
    const at = this.targetAt;
    events[at] = event;
    this.targetValues[at] = target;
    this.targetAt = (at + 1) % TARGETS_KEPT;
    return target;
  }

  private joinIncident(
    alert: Parameters<IncidentTracker['add']>[0],
    changedMember = false,
  ): AlertIncident | undefined | Promise<AlertIncident | undefined> {
    if (!this.deps.incidents) return undefined;
    return whenDone(this.deps.incidents.add(alert, changedMember), (added) => this.joined(alert, added));
  }

  private joined(alert: Parameters<IncidentTracker['add']>[0], { incident, created, changed, absorbed }: Added): AlertIncident {
    const ref = incidentRef(incident);
    if (changed && !created && incident.parent !== alert.fingerprint) this.deps.incidentGrew?.(ref);
    // An absorbed incident's parent message is updated once more, to say which incident it went into.
    for (const gone of absorbed) this.deps.incidentGrew?.({ ...incidentRef(gone), mergedInto: incident.id });
    return ref;
  }

  /** Synchronous (no promise) in embedded mode. */
  track(alert: Alert): Promise<void> | undefined {
    const target = this.targetOf(alert.event, true);
    // The first occurrence in the dedup window is what an announcement shows; repeats are attributed on their own.
    if (!target || alert.count !== 1 || alert.attribution?.confidence === 'exact') return undefined;
    const local = this.inProcess;
    if (local) {
      this.trackLocally(local, alert, target);
      return undefined;
    }
    // The pod's key as its other pending alerts keep it (one string a pod, not one an alert).
    target.key = this.pods.touch(target.key);
    const entry: PendingAlert = {
      fingerprint: alert.fingerprint,
      firstSeen: alert.firstSeen,
      target,
      attribution: summary(alert.attribution),
    };
    const add = (current: PendingAlert[]) => withPending(current, entry);
    return this.deps.store
      .set(pendingAlertKey(alert.fingerprint, alert.firstSeen), keptText(alert), this.options.lateAuditMs)
      .then(() => updateList(this.deps.store, PENDING + target.key, this.options.lateAuditMs, add, this.pending))
      .then(() => undefined);
  }

  /**
   * Embedded: the alert joins its pod's pending list in process, as `withPending` and the record's
   * cut would leave a shared store's list (newest 16, within `MAX_RECORD_BYTES` as JSON), each entry
   * pending for `lateAuditMs` on the store's clock, and at most `PENDING_KEPT` in all. The alert itself
   * is not copied: a late update amends the alert as the alert stage made it. Nothing is written to
   * the store unless it is persistent (a data dir), and then only the pod's list, made when written out.
   */
  private trackLocally(local: LocalStore & { now(): number }, alert: Alert, target: RuntimeTarget): void {
    const node = this.pods.node(target.key);
    target.key = node.pod;
    const state = this.pendingOf(local, node);
    const list = state.pending;
    const now = local.now();
    while (list.length && list[0]!.until <= now) state.drop(0);
    const fp = alert.fingerprint;
    for (let i = 0; i < list.length; i++)
      if (list[i]!.fingerprint === fp) {
        state.drop(i);
        break;
      }
    this.enter(
      state,
      new Pending(state, fp, alert.firstSeen, target, summary(alert.attribution), now + this.options.lateAuditMs, alert),
      now,
    );
    if (list.length > MAX_PENDING_PER_POD) state.drop(0);
    if (state.bound > MAX_RECORD_BYTES) state.cutToFit();
    if (local.persistent) local.setNow(state.key!, state.text(), this.options.lateAuditMs);
  }

  /** `entry` joins its pod's list and the queue; beyond the bound, the oldest pending alert leaves its pod's list. */
  private enter(state: PodState, entry: Pending, now: number): void {
    state.add(entry);
    const queue = this.queue;
    for (
      let oldest = queue.oldest;
      oldest && (queue.size > this.options.maxPendingAlerts || oldest.until <= now);
      oldest = queue.oldest
    ) {
      oldest.pod.remove(oldest);
      queue.unlink(oldest); // a no-op when its pod's list had it
    }
  }

  /** The pod's in-process state with its pending list; with a data dir, read back from the store once (a restart). */
  private pendingOf(local: LocalStore & { now(): number }, node: PodNode<PodState>): PodState {
    const state = (node.state ??= new PodState(this.queue));
    if (state.tracked) return state;
    state.tracked = true;
    if (!local.persistent) return state;
    state.key = PENDING + node.pod;
    const raw = local.peek(state.key);
    if (raw === undefined) return state;
    const until = local.now() + (local.ttlLeft?.(state.key) ?? this.options.lateAuditMs);
    for (const p of JSON.parse(textOf(raw)) as PendingAlert[]) {
      const entry = new Pending(
        state,
        p.fingerprint,
        p.firstSeen,
        { ...p.target, key: node.pod },
        p.attribution,
        until,
        undefined,
      );
      entry.restored = true;
      this.enter(state, entry, local.now());
    }
    return state;
  }

  /** `reattribute` in embedded mode: the pod's list is read and updated in this turn, the alerts amended after. */
  private async reattributeLocally(local: LocalStore & { now(): number }, pod: string, sessions: Session[]): Promise<void> {
    const node = this.pods.peek(pod);
    if (!node) return;
    const state = this.pendingOf(local, node);
    const list = state.pending;
    const now = local.now();
    const changed: { alert: Alert; entry: Pending; next: Attribution | undefined }[] = [];
    for (let i = 0; i < list.length; i++) {
      let entry = list[i]!;
      if (entry.until <= now) continue;
      const next = attribute(entry.target, sessions, this.options);
      if (sameAttribution(next, entry.attribution)) continue;
      // Held since it was tracked; for an entry read back from the data dir, where the pipeline keeps it (if it still does).
      const held = entry.alert ?? this.deps.recall?.(entry.fingerprint, entry.firstSeen);
      if (held?.firstSeen !== entry.firstSeen) continue;
      if (next) {
        entry = new Pending(state, entry.fingerprint, entry.firstSeen, entry.target, summary(next), entry.until, held);
        state.replace(i, entry);
      }
      changed.push({ alert: held, entry, next });
    }
    if (changed.length === 0) return;
    if (state.bound > MAX_RECORD_BYTES) state.cutToFit();
    if (local.persistent) local.setNow(state.key!, state.text(), this.options.lateAuditMs);
    for (const { alert, entry, next } of changed) {
      const attribution = await this.withSubject(alert.event.k8s.cluster, next);
      const amended: Alert = { ...alert };
      if (attribution) amended.attribution = attribution;
      else delete amended.attribution;
      if (entry.alert === alert) entry.alert = amended;
      const incident = await this.joinIncident(amended, true);
      await this.deps.amend(incident ? { ...amended, incident } : amended);
    }
  }

  /** A session was opened or ended on the pod: alerts already out may now say (or say better) who did it. */
  private async reattribute(key: string, sessions: Session[]): Promise<void> {
    const raw = await readValue(this.deps.store, PENDING + key, false);
    const pending = raw === undefined ? [] : this.pending.parse(PENDING + key, raw);
    const changed: { entry: PendingAlert; alert: Alert }[] = [];
    for (const entry of pending) {
      const next = attribute(entry.target, sessions, this.options);
      if (sameAttribution(next, entry.attribution)) continue;
      const raw = await this.deps.store.get(pendingAlertKey(entry.fingerprint, entry.firstSeen));
      if (raw === undefined) continue;
      const alert = JSON.parse(raw) as Alert;
      const attribution = await this.withSubject(alert.event.k8s.cluster, next);
      if (attribution) alert.attribution = attribution;
      else delete alert.attribution;
      changed.push({ entry: { ...entry, ...(attribution ? { attribution: summary(attribution)! } : {}) }, alert });
    }
    if (changed.length === 0) return;
    await updateList<PendingAlert>(
      this.deps.store,
      PENDING + key,
      this.options.lateAuditMs,
      (current) =>
        current.map(
          (p) => changed.find((c) => c.entry.fingerprint === p.fingerprint && c.entry.firstSeen === p.firstSeen)?.entry ?? p,
        ),
      this.pending,
      this.deps.exclusiveStore,
    );
    for (const { alert } of changed) {
      await this.deps.store.set(
        pendingAlertKey(alert.fingerprint, alert.firstSeen),
        JSON.stringify(alert),
        this.options.lateAuditMs,
      );
      const incident = await this.joinIncident(alert, true);
      await this.deps.amend(incident ? { ...alert, incident } : alert);
    }
  }

  private withSubject(
    cluster: string,
    attribution: Attribution | undefined,
  ): Attribution | undefined | Promise<Attribution | undefined> {
    const subject = this.deps.subject;
    if (!attribution?.user || !subject) return attribution;
    return this.subjectOf(subject, cluster, attribution.user, attribution);
  }

  private async subjectOf(
    subject: NonNullable<CorrelatorDeps['subject']>,
    cluster: string,
    user: string,
    attribution: Attribution,
  ): Promise<Attribution> {
    try {
      return { ...attribution, subject: await subject(cluster, user, attribution.groups) };
    } catch (err) {
      this.deps.log?.warn({ err: (err as Error).message }, 'RBAC facts of the attributed user failed');
      return attribution;
    }
  }

  stats(): { pods: number } {
    return { pods: this.pods.size };
  }
}

/** What this process keeps for a pod it tracks (on its `PodIndex` node, evicted with it). */
class PodState {
  /** The bus generation when the store last had no sessions for the pod (the fast negative path). */
  noSessions?: number = undefined;
  /** The pod's sessions' record key, once a runtime alert read it. */
  sessionsKey?: string = undefined;
  /** Embedded mode: the pending list is set up (read back from the data dir, if any). */
  tracked = false;
  /** Embedded mode: the pod's pending alerts, oldest first. */
  readonly pending: Pending[] = [];
  /** At least the length of `pending`'s JSON as a record: `LIST_FIXED` plus each entry's `bound`. */
  bound = LIST_FIXED;
  /** With a data dir: the list's record key. */
  key?: string = undefined;
  private made?: () => string = undefined;

  constructor(private readonly queue: PendingQueue) {}

  add(entry: Pending): void {
    this.pending.push(entry);
    this.bound += entry.bound;
    this.queue.push(entry);
  }

  /** The entry leaves the list (and lets go of its alert): pushed out, replaced, expired, cut, or out of the queue. */
  drop(i: number): void {
    const entry = this.pending[i]!;
    this.bound -= entry.bound;
    entry.alert = undefined;
    entry.restored = false;
    this.queue.unlink(entry);
    if (i === 0) this.pending.shift();
    else this.pending.splice(i, 1);
  }

  remove(entry: Pending): void {
    const i = this.pending[0] === entry ? 0 : this.pending.indexOf(entry);
    if (i !== -1) this.drop(i);
  }

  replace(i: number, entry: Pending): void {
    const old = this.pending[i]!;
    this.bound += entry.bound - old.bound;
    old.alert = undefined;
    old.restored = false;
    this.queue.replace(old, entry);
    this.pending[i] = entry;
  }

  /** The list cut from the front until its JSON fits a record, as `updateList` cuts a shared store's. */
  cutToFit(): void {
    let length = this.pending.length + 1;
    for (const p of this.pending) length += pendingJson(p).length;
    while (length > MAX_RECORD_BYTES && this.pending.length > 1) {
      length -= pendingJson(this.pending[0]!).length + 1;
      this.drop(0);
    }
  }

  /** The list's record as the store keeps it, made (from the list as it then stands) only if written out or read. */
  text(): () => string {
    return (this.made ??= () => `[${this.pending.map(pendingJson).join(',')}]`);
  }
}

/**
 * A pending alert as embedded mode keeps it in process: a `PendingAlert` (its JSON is the shared
 * store's list entry, for the data dir), until when (store clock) a late update may amend it, and
 * the alert itself while it is pending. Replaced, not changed, when its attribution changes, so its
 * text is made at most once.
 */
class Pending {
  text?: string = undefined;
  /** Its neighbours in the `PendingQueue` while on it (older, newer). */
  older?: Pending = undefined;
  newer?: Pending = undefined;
  queued = false;
  /** Read back from the data dir, still pending: no alert held (`recall` may find it). */
  restored = false;
  /** At least the length of its JSON (`entryBound`). */
  readonly bound: number;

  constructor(
    readonly pod: PodState,
    readonly fingerprint: string,
    readonly firstSeen: number,
    readonly target: RuntimeTarget,
    readonly attribution: AttributionSummary | undefined,
    readonly until: number,
    /** The alert as the alert stage made it (amended since, maybe); undefined once it left its pod's list. */
    public alert: Alert | undefined,
  ) {
    this.bound = entryBound(this);
  }

  toJSON(): PendingAlert {
    return { fingerprint: this.fingerprint, firstSeen: this.firstSeen, target: this.target, attribution: this.attribution };
  }
}

/**
 * Embedded mode: every pending alert still on its pod's list, oldest first, linked through the
 * entries themselves (no Map whose iteration slows with the holes deletions leave, no array shifted).
 */
class PendingQueue {
  oldest?: Pending = undefined;
  private newest?: Pending = undefined;
  size = 0;

  push(entry: Pending): void {
    entry.older = this.newest;
    entry.newer = undefined;
    if (this.newest) this.newest.newer = entry;
    else this.oldest = entry;
    this.newest = entry;
    entry.queued = true;
    this.size++;
  }

  unlink(entry: Pending): void {
    if (!entry.queued) return;
    if (entry.older) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else this.newest = entry.older;
    entry.older = entry.newer = undefined;
    entry.queued = false;
    this.size--;
  }

  /** `next` takes `old`'s place (a late update replaced the entry): its age is the alert's. */
  replace(old: Pending, next: Pending): void {
    if (!old.queued) return this.push(next);
    next.older = old.older;
    next.newer = old.newer;
    if (old.older) old.older.newer = next;
    else this.oldest = next;
    if (old.newer) old.newer.older = next;
    else this.newest = next;
    next.queued = true;
    old.older = old.newer = undefined;
    old.queued = false;
  }
}

function pendingJson(p: Pending): string {
  return (p.text ??= JSON.stringify(p));
}

function correlation(attribution: Attribution | undefined, incident: AlertIncident | undefined, holdMs: number): Correlation {
  const c: Correlation = { holdMs };
  if (attribution) c.attribution = attribution;
  if (incident) c.incident = incident;
  return c;
}

/** What the detection's incident is found by, as a literal: a spread of the detection cost more (it runs for every alert). */
function factSource(detection: Detection, enrichment: Enrichment, attribution: Attribution | undefined): FactSource {
  const { rule, ruleId, priority, tags, summary, event } = detection;
  return { fingerprint: fingerprint(detection), rule, ruleId, priority, tags, summary, event, enrichment, attribution };
}

/** The pod's pending alerts with `entry` last (one of the same fingerprint replaced), at most `MAX_PENDING_PER_POD`. */
function withPending(current: readonly PendingAlert[], entry: PendingAlert): PendingAlert[] {
  const kept = current.filter((p) => p.fingerprint !== entry.fingerprint).slice(-(MAX_PENDING_PER_POD - 1));
  kept.push(entry);
  return kept;
}

/**
 * At least the length of the entry's JSON in a list, without making it: every character of a string
 * at most 6 (`\u00XX`), and the fields' names, punctuation and numbers (at most 24 characters each)
 * within the `_FIXED` allowances (165 and 84 characters at most). A list's bound is `LIST_FIXED`
 * plus its entries'.
 */
function entryBound(p: PendingAlert): number {
  const t = p.target;
  let n = ENTRY_FIXED + 6 * (p.fingerprint.length + t.key.length + (t.container?.length ?? 0) + (t.execAuditID?.length ?? 0));
  for (const name of t.names) n += 3 + 6 * name.length;
  const a = p.attribution;
  if (a) {
    n += ATTRIBUTION_FIXED + 6 * ((a.user?.length ?? 0) + (a.auditID?.length ?? 0));
    for (const c of a.candidates) n += 16 + 6 * c.auditID.length;
  }
  return n;
}

const LIST_FIXED = 2;
/** `{"fingerprint":"","firstSeen":N,"target":{"key":"","container":"","timeMs":N,"execAuditID":"","names":[],"tty":false}},` */
const ENTRY_FIXED = 192;
/** `,"attribution":{"confidence":"ambiguous","user":null,"auditID":null,"candidates":[]}` */
const ATTRIBUTION_FIXED = 112;

/** Joined, not a template: the key lives as long as its record, and one flat string is half a concatenation's bytes. */
function pendingAlertKey(fingerprint: string, firstSeen: number): string {
  return [PENDING_ALERT, fingerprint, ':', firstSeen].join('');
}

/** One empty payload shared by every kept alert (it is only ever serialised). */
const NO_RAW: JsonObject = Object.freeze({});

/**
 * The alert as kept for a late update, made into text only when read (or written out): without the
 * raw payload (it is in the notify record already). Made here, not in `track`: a closure there would
 * share `track`'s context, and every record would hold what `track`'s other closures use (the pod's
 * previous list of pending alerts) for its five minutes.
 */
function keptText(alert: Alert): () => string {
  const kept: Alert = { ...alert, event: { ...alert.event, raw: NO_RAW } };
  // Bound rather than a closure: no context object beside it (25 bytes less a record).
  return JSON.stringify.bind(JSON, kept);
}
