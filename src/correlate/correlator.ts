import type { Alert, AlertIncident, Attribution, Detection, Enrichment, SubjectEnrichment } from '../core/alert';
import { fingerprint } from '../alert/fingerprint';
import type { JsonObject, SecurityEvent } from '../core/event';
import type { Logger } from '../observability/logger';
import type { LazyValue, StateStore } from '../store/port';
import { attribute, runtimeTarget, sameAttribution, type AttributionOptions, type RuntimeTarget } from './attribution';
import type { FactSource } from './facts';
import { incidentRef, type Added, type IncidentTracker } from './incidents';
import { addSession, expireSessions, sessionFromAudit, type Session } from './sessions';
import {
  GenerationalCache,
  MAX_RECORD_BYTES,
  ParsedCache,
  PodIndex,
  localStore,
  readValue,
  listEntries,
  listText,
  textOf,
  updateList,
  whenDone,
  type LocalStore,
} from './state';

export interface CorrelatorOptions extends AttributionOptions {
  waitForAuditMs: number;
  lateAuditMs: number;
  maxSessionsPerPod: number;
  maxPods: number;
}

export interface CorrelatorDeps {
  store: StateStore;
  /** The RBAC facts of an attributed user, as an audit alert's subject gets them. */
  subject?: (cluster: string, user: string, groups: string[]) => Promise<SubjectEnrichment>;
  /** Updates an alert in place: announced already, or still held before its first announcement. */
  amend: (alert: Alert) => Promise<void>;
  incidents?: IncidentTracker;
  /** An incident gained a member other than its first: its parent message is updated in place. */
  incidentGrew?: (incident: AlertIncident) => void;
  /** The bus's partition generation (`EventBus.generation`); absent: this replica sees every pod. */
  generation?: () => number;
  /**
   * The state store is this process's alone (embedded mode, no Redis): records are kept as lazy
   * values where the store allows (made only if read or written out), read back without being made.
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
 * A runtime alert that a late audit event may still attribute (or attribute better). The pod's list
 * holds only these small entries; the alert itself is kept under a key of its own, written once.
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
const SESSIONS = 'corr:s:';
const PENDING = 'corr:r:';
const PENDING_ALERT = 'corr:ra:';

/**
 * The correlate stage. `observe` sees every event and records the exec/attach/debug sessions audit
 * events open; `correlate` attributes a runtime detection to the session it ran in; `track` remembers
 * runtime alerts so an audit event that arrives late (the webhook batches for up to 30 s) updates
 * them in place, and puts every alert into its incident. All state lives in the state store (Redis
 * in scale-out mode), keyed by pod — the bus partition key — so another replica carries on after a
 * crash or a rebalance. Time is event time throughout; the clock is only used for waits.
 */
export class Correlator {
  private readonly pods: PodIndex;
  private readonly sessions = new ParsedCache<Session[]>(4096);
  private readonly pending = new ParsedCache<PendingAlert[]>(4096);
  /**
   * Pods the store had no sessions for when this replica last looked, with the bus generation then:
   * a runtime alert there skips the store read (the fast negative path). Sound because an exec's
   * audit event and the Falco events of its pod share a partition key: while this replica holds the
   * pod's partition (the generation is unchanged) every session of the pod is observed here first,
   * and observing one drops the pod from this map. After a rebalance (or a restart: the map is
   * empty) the store is read again. Bounded like the pods this replica tracks.
   */
  private readonly noSessions: GenerationalCache<number>;
  /** The runtime side of the join, computed once per event for `correlate` and `track`. */
  private readonly targets = new GenerationalCache<RuntimeTarget | null>(512);
  /**
   * The store when it is this process's alone and in process (embedded mode): a runtime alert is
   * correlated and tracked in one synchronous turn, without a promise per step (see `IncidentTracker.add`).
   */
  private readonly local?: LocalStore;

  constructor(
    private readonly deps: CorrelatorDeps,
    private readonly options: CorrelatorOptions,
  ) {
    // Evicting a pod forgets its sessions and its list of pending alerts (their own keys expire by TTL).
    this.noSessions = new GenerationalCache(options.maxPods);
    this.local = localStore(deps.store, deps.exclusiveStore);
    this.pods = new PodIndex(options.maxPods, (pod) => {
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
    this.pods.touch(key);
    this.noSessions.delete(key);
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
    await this.reattribute(key, sessions);
  }

  /**
   * Synchronous (no promise) when nothing it reads or writes waits: in embedded mode, a runtime alert
   * no one is attributed to (the RBAC facts of an attributed user are looked up) that joins at most
   * one incident.
   */
  correlate(detection: Detection, enrichment: Enrichment): Correlation | Promise<Correlation> {
    const target = this.targetOf(detection.event);
    const attributed = target
      ? whenDone(this.sessionsOf(target.key), (sessions) =>
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

  private sessionsOf(key: string): Session[] | Promise<Session[]> {
    const generation = this.deps.generation?.() ?? 0;
    if (this.noSessions.get(key) === generation) return [];
    return whenDone(readValue(this.deps.store, SESSIONS + key, this.deps.exclusiveStore === true), (raw) => {
      if (raw !== undefined) return this.sessions.parse(SESSIONS + key, raw);
      this.noSessions.set(key, generation);
      return [];
    });
  }

  /** `runtimeTarget`, once per event: `track` sees the alert's copy of the event `correlate` saw. */
  private targetOf(event: SecurityEvent): RuntimeTarget | undefined {
    const cached = this.targets.get(event.id);
    if (cached !== undefined) return cached ?? undefined;
    const target = runtimeTarget(event);
    this.targets.set(event.id, target ?? null);
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
    const target = this.targetOf(alert.event);
    // The first occurrence in the dedup window is what an announcement shows; repeats are attributed on their own.
    if (!target || alert.count !== 1 || alert.attribution?.confidence === 'exact') return undefined;
    // The pod's key as its other pending alerts keep it (one string a pod, not one an alert).
    target.key = this.pods.touch(target.key);
    const entry: PendingAlert = {
      fingerprint: alert.fingerprint,
      firstSeen: alert.firstSeen,
      target,
      attribution: summary(alert.attribution),
    };
    // Most pending alerts expire unread: an in-process store serialises one only if a late audit
    // event reads it (or the data dir writes it out); Redis gets it at once, for the other replicas.
    const kept = keptText(alert);
    const key = pendingAlertKey(alert.fingerprint, alert.firstSeen);
    const local = this.local;
    if (local) {
      local.setNow(key, kept, this.options.lateAuditMs);
      const listKey = PENDING + target.key;
      const stored = local.peek(listKey);
      const { next, dropped } = withPending(this.pendingIn(listKey, stored), entry);
      // Written the way `updateLocalList` writes it, with nothing serialised when its bound shows it
      // fits; else cut from the front to fit, and what the cut took leaves the list too.
      const carried = listEntries<PendingAlert>(stored)?.bound;
      let bound = carried === undefined ? LIST_FIXED : carried + entryBound(entry);
      if (carried === undefined) for (const p of next) bound += entryBound(p);
      else for (const p of dropped) bound -= entryBound(p);
      const whole = bound > MAX_RECORD_BYTES ? next.slice() : undefined;
      const value = listText(next, bound);
      const gone = whole ? [...dropped, ...whole.filter((p) => !next.includes(p))] : dropped;
      local.setNow(listKey, value, this.options.lateAuditMs);
      this.pending.put(listKey, value, next);
      // An alert that left its pod's list (pushed out by newer ones, or replaced by a newer
      // occurrence) is never read again: its record goes now, not at the end of `lateAuditMs`. In
      // bench/correlate.js's http-shaped scenario most records were such, and they kept their alert
      // (~1.5 kB each on the heap) and a key in the store's map for five minutes. With Redis they
      // expire by TTL, as before (a delete there is a round trip per runtime alert).
      for (const p of gone) {
        const goneKey = pendingAlertKey(p.fingerprint, p.firstSeen);
        if (goneKey !== key) local.deleteNow(goneKey);
      }
      return undefined;
    }
    const add = (current: PendingAlert[]) => withPending(current, entry).next;
    return this.deps.store
      .set(key, kept, this.options.lateAuditMs)
      .then(() => updateList(this.deps.store, PENDING + target.key, this.options.lateAuditMs, add, this.pending))
      .then(() => undefined);
  }

  /** The pod's pending alerts from the value an in-process store holds for them. */
  private pendingIn(listKey: string, raw: LazyValue | undefined): readonly PendingAlert[] {
    if (raw === undefined) return [];
    return listEntries<PendingAlert>(raw)?.entries ?? this.pending.parse(listKey, raw);
  }

  /** A session was opened or ended on the pod: alerts already out may now say (or say better) who did it. */
  private async reattribute(key: string, sessions: Session[]): Promise<void> {
    const local = this.local;
    const raw = local ? local.peek(PENDING + key) : await readValue(this.deps.store, PENDING + key, false);
    const pending = this.pendingIn(PENDING + key, raw);
    // Embedded, the alerts' records are read in this same turn, with the list: a runtime alert
    // tracked later may push one out of the list and delete its record (`track`).
    const found: { entry: PendingAlert; next: Attribution | undefined; record: LazyValue | undefined }[] = [];
    for (const entry of pending) {
      const next = attribute(entry.target, sessions, this.options);
      if (sameAttribution(next, entry.attribution)) continue;
      found.push({ entry, next, record: local?.peek(pendingAlertKey(entry.fingerprint, entry.firstSeen)) });
    }
    const changed: { entry: PendingAlert; alert: Alert }[] = [];
    for (const { entry, next, record } of found) {
      const raw = local
        ? record && textOf(record)
        : await this.deps.store.get(pendingAlertKey(entry.fingerprint, entry.firstSeen));
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

/**
 * The pod's pending alerts with `entry` last (one of the same fingerprint replaced), at most
 * `MAX_PENDING_PER_POD`, and those that left the list.
 */
const NONE_DROPPED: readonly PendingAlert[] = Object.freeze([]);

function withPending(
  current: readonly PendingAlert[],
  entry: PendingAlert,
): { next: PendingAlert[]; dropped: readonly PendingAlert[] } {
  let kept = 0;
  for (let i = current.length - 1; i >= 0 && kept < MAX_PENDING_PER_POD - 1; i--)
    if (current[i]!.fingerprint !== entry.fingerprint) kept++;
  // Made to its length: a list grown by `push` has room for 16, and every pod's list is kept.
  const next = new Array<PendingAlert>(kept + 1);
  let dropped = NONE_DROPPED;
  let at = kept;
  next[at] = entry;
  for (let i = current.length - 1; i >= 0; i--) {
    const p = current[i]!;
    if (at > 0 && p.fingerprint !== entry.fingerprint) next[--at] = p;
    else dropped = dropped.length ? [...dropped, p] : [p]; // usually one: an array grown by `push` has room for 16
  }
  return { next, dropped };
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
