import type { Alert, AlertIncident, Attribution, Detection, Enrichment, SubjectEnrichment } from '../core/alert';
import { fingerprint } from '../alert/fingerprint';
import type { JsonObject, SecurityEvent } from '../core/event';
import type { Logger } from '../observability/logger';
import type { StateStore } from '../store/port';
import { attribute, runtimeTarget, sameAttribution, type AttributionOptions, type RuntimeTarget } from './attribution';
import type { FactSource } from './facts';
import { incidentRef, type Added, type IncidentTracker } from './incidents';
import { addSession, expireSessions, sessionFromAudit, type Session } from './sessions';
import { whenDone } from '../core/when-done';
import { localStore, ParsedCache, readValue, textOf, type LocalStore } from '../store/local';
import { MAX_RECORD_BYTES, PodIndex, updateList, type PodNode } from './state';
import { NONE, PendingSlots, PodPending, type AttributionSummary, type PendingAlert } from './pending';

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
  /** The pod index's node of each of `targetValues`, so `track` finds it without a lookup. */
  private readonly targetNodes: (PodNode<PodState> | undefined)[] = new Array<PodNode<PodState> | undefined>(TARGETS_KEPT).fill(
    undefined,
  );
  private targetAt = 0;
  /** Where in the ring `targetOf` last found (or put) its target. */
  private targetIndex = 0;
  /**
   * The store when it is this process's alone and in process (embedded mode): a runtime alert is
   * correlated and tracked in one synchronous turn, without a promise per step (see `IncidentTracker.add`).
   */
  private readonly local?: LocalStore;
  /** `local` when it tells the time too: the pending alerts are then kept in process, not as records. */
  private readonly inProcess?: LocalStore & { now(): number };
  /**
   * Embedded mode: every pending alert still on its pod's list, in the order tracked; beyond
   * `options.maxPendingAlerts` the oldest leaves its pod's list. An entry that leaves its pod's list
   * (pushed out by the pod's newer alerts, replaced, expired) leaves the queue too, so a noisy pod
   * holds at most 16 of its places and cannot push out the alerts of quieter pods.
   */
  private readonly slots: PendingSlots<PodState>;

  constructor(
    private readonly deps: CorrelatorDeps,
    private readonly options: CorrelatorOptions,
  ) {
    this.local = localStore(deps.store, deps.exclusiveStore);
    this.slots = new PendingSlots<PodState>(options.maxPendingAlerts);
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
      ? whenDone(this.sessionsOf(), (sessions) =>
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
   * The sessions of the pod of the target `targetOf` just gave (its node beside it). Pods the store had no sessions for when this replica last looked, with the
   * bus generation then, skip the store read (the fast negative path). Sound because an exec's audit
   * event and the Falco events of its pod share a partition key: while this replica holds the pod's
   * partition (the generation is unchanged) every session of the pod is observed here first, and
   * observing one clears the mark. After a rebalance (or a restart, or the pod's eviction from the
   * index) the store is read again.
   */
  private sessionsOf(): Session[] | Promise<Session[]> {
    let node = this.targetNodes[this.targetIndex]!;
    // Evicted from the index since its event was first seen (its state would be lost with it).
    if (!node.indexed) node = this.targetNodes[this.targetIndex] = this.pods.peek(node.pod) ?? this.pods.node(node.pod);
    const state = (node.state ??= new PodState());
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
   * `runtimeTarget`, once per event (an event's detections share it), with the pod's node in the
   * index: `track` sees the alert's copy of the event `correlate` saw, the same object unless its raw
   * payload was cut (then found by id). The target's key becomes the pod's one string (a pending
   * alert keeps it). The pod is not marked used here (`track` and `record` do): a lookup costs less
   * than moving the pod in the index.
   */
  private targetOf(event: SecurityEvent, byId = false): RuntimeTarget | undefined {
    const events = this.targetEvents;
    const newest = this.targetAt + TARGETS_KEPT - 1;
    // Newest first: `track` follows its `correlate` closely, and each miss by id reads an event.
    for (let i = newest; i > newest - TARGETS_KEPT; i--)
      if (events[i % TARGETS_KEPT] === event) return this.targetValues[(this.targetIndex = i % TARGETS_KEPT)];
    if (byId)
      for (let i = newest; i > newest - TARGETS_KEPT; i--)
        if (events[i % TARGETS_KEPT]?.id === event.id) return this.targetValues[(this.targetIndex = i % TARGETS_KEPT)];
    const target = runtimeTarget(event);
    // Only runtime events are kept (small ones): an audit event's target is undefined at once, and
    // the ring should not hold a big request body.
    if (!target) return undefined;
    const node = this.pods.peek(target.key) ?? this.pods.node(target.key);
    target.key = node.pod;
    const at = this.targetAt;
    events[at] = event;
    this.targetValues[at] = target;
    this.targetNodes[at] = node;
    this.targetIndex = at;
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
    // The first occurrence in the dedup window is what an announcement shows; repeats are attributed on their own.
    if (alert.count !== 1 || alert.attribution?.confidence === 'exact') return undefined;
    const target = this.targetOf(alert.event, true);
    if (!target) return undefined;
    const local = this.inProcess;
    if (local) {
      // The pod's node as `correlate` found it, marked used (looked up again only if it left the index since).
      this.trackLocally(local, alert, target, this.pods.use(this.targetNodes[this.targetIndex]!));
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
   * pending for `lateAuditMs` on the store's clock, and at most `maxPendingAlerts` in all. The alert
   * itself is not copied: a late update amends the alert as the alert stage made it. Nothing is
   * written to the store unless it is persistent (a data dir), and then only the pod's list, made
   * when written out.
   */
  private trackLocally(
    local: LocalStore & { now(): number },
    alert: Alert,
    target: RuntimeTarget,
    node: PodNode<PodState>,
  ): void {
    const state = this.pendingOf(local, node);
    const slots = this.slots;
    const now = local.now();
    while (state.first !== NONE && slots.until[state.first]! <= now) slots.drop(state.first);
    const fp = alert.fingerprint;
    const same = slots.find(state, fp);
    if (same !== NONE) slots.drop(same);
    this.enter(state, fp, alert.firstSeen, target, summary(alert.attribution), now + this.options.lateAuditMs, alert, now);
    if (state.count > MAX_PENDING_PER_POD) slots.drop(state.first);
    if (state.bound > MAX_RECORD_BYTES) slots.cutToFit(state, MAX_RECORD_BYTES);
    if (local.persistent) local.setNow(state.key!, state.text(slots), this.options.lateAuditMs);
  }

  /** A new entry joins its pod's list and the queue; beyond the bound (or expired), the oldest pending alerts leave their pods' lists. */
  private enter(
    state: PodState,
    fingerprint: string,
    firstSeen: number,
    target: RuntimeTarget,
    attribution: AttributionSummary | undefined,
    until: number,
    alert: Alert | undefined,
    now: number,
  ): void {
    const slots = this.slots;
    // Room made before the entry joins (the arrays need no place more than the bound): the same
    // entries leave as if it joined first, since it is the newest.
    const max = this.options.maxPendingAlerts;
    for (let oldest = slots.oldest; oldest !== NONE && (slots.size >= max || slots.until[oldest]! <= now); oldest = slots.oldest)
      slots.drop(oldest);
    slots.add(state, fingerprint, firstSeen, target, attribution, until, alert);
  }

  /** The pod's in-process state with its pending list; with a data dir, read back from the store once (a restart). */
  private pendingOf(local: LocalStore & { now(): number }, node: PodNode<PodState>): PodState {
    const state = (node.state ??= new PodState());
    if (state.tracked) return state;
    state.tracked = true;
    if (!local.persistent) return state;
    state.key = PENDING + node.pod;
    const raw = local.peek(state.key);
    if (raw === undefined) return state;
    const until = local.now() + (local.ttlLeft?.(state.key) ?? this.options.lateAuditMs);
    for (const p of JSON.parse(textOf(raw)) as PendingAlert[])
      this.enter(state, p.fingerprint, p.firstSeen, { ...p.target, key: node.pod }, p.attribution, until, undefined, local.now());
    return state;
  }

  /** `reattribute` in embedded mode: the pod's list is read and updated in this turn, the alerts amended after. */
  private async reattributeLocally(local: LocalStore & { now(): number }, pod: string, sessions: Session[]): Promise<void> {
    const node = this.pods.peek(pod);
    if (!node) return;
    const state = this.pendingOf(local, node);
    const slots = this.slots;
    const now = local.now();
    const changed: { alert: Alert; slot: number; version: number; next: Attribution | undefined }[] = [];
    for (let s = state.first; s !== NONE; s = slots.next(s)) {
      if (slots.until[s]! <= now) continue;
      const next = attribute(slots.target[s]!, sessions, this.options);
      if (sameAttribution(next, slots.attribution[s])) continue;
      const fingerprint = slots.fingerprint[s]!;
      const firstSeen = slots.firstSeen[s]!;
      // Held since it was tracked; for an entry read back from the data dir, where the pipeline keeps it (if it still does).
      const held = slots.alert[s] ?? this.deps.recall?.(fingerprint, firstSeen);
      if (held?.firstSeen !== firstSeen) continue;
      if (next) slots.reattributed(s, summary(next)!, held);
      changed.push({ alert: held, slot: s, version: slots.version[s]!, next });
    }
    if (changed.length === 0) return;
    if (state.bound > MAX_RECORD_BYTES) slots.cutToFit(state, MAX_RECORD_BYTES);
    if (local.persistent) local.setNow(state.key!, state.text(slots), this.options.lateAuditMs);
    for (const { alert, slot, version, next } of changed) {
      const attribution = await this.withSubject(alert.event.k8s.cluster, next);
      const amended: Alert = { ...alert };
      if (attribution) amended.attribution = attribution;
      else delete amended.attribution;
      // Still the same entry (not dropped or replaced since): it holds the amended alert from now on.
      if (slots.version[slot] === version && slots.alert[slot] === alert) slots.alert[slot] = amended;
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
class PodState extends PodPending {
  /** The bus generation when the store last had no sessions for the pod (the fast negative path). */
  noSessions?: number = undefined;
  /** The pod's sessions' record key, once a runtime alert read it. */
  sessionsKey?: string = undefined;
  /** Embedded mode: the pending list is set up (read back from the data dir, if any). */
  tracked = false;
  /** With a data dir: the list's record key. */
  key?: string = undefined;
  private made?: () => string = undefined;

  /** The list's record as the store keeps it, made (from the list as it then stands) only if written out or read. */
  text(slots: PendingSlots<PodState>): () => string {
    return (this.made ??= () => slots.listText(this));
  }
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
