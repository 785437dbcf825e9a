import { randomUUID } from 'node:crypto';
import type { Alert, AlertIncident } from '../core/alert';
import type { Clock, TimerHandle } from '../core/clock';
import { DeliveryError } from '../core/errors';
import { atLeast } from '../core/priority';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { whenDone } from '../core/when-done';
import { lazyText, ParsedCache, readValue } from '../store/local';
import type { StateStore } from '../store/port';
import type { DeliveryRef, Notifier, SendContext } from './port';
import { DeadLetters, type DeadLetter } from './dead-letters';

export type { DeadLetter } from './dead-letters';

export interface DispatcherOptions {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Duplicates within this delay fold into one `update` call per alert. */
  updateDebounceMs: number;
  /** How long "this alert was announced" is remembered (the dedup window). */
  windowMs: number;
  /** Most notifications waiting per receiver; beyond it they go to the dead-letter store. */
  queueCapacity: number;
  deadLetterCapacity: number;
  /** Where dead letters are kept; in memory (`deadLetterCapacity` of them) when unset. */
  deadLetters?: DeadLetters;
  /**
   * Who this dispatcher is in the claims it takes; random when unset. Embedded mode keeps it in its
   * data dir, so after a restart the sends the last run claimed are taken over at once (no other
   * replica could hold them) instead of after their lease.
   */
  owner?: string;
  /**
   * No other process uses the store (embedded mode, memory-only or with a data dir): no replica can
   * take a send over, so a send takes no in-flight claim (two round trips of the whole alert through
   * the store) and the alert to send is kept here until it is sent. The store's record and outbox
   * entry still say `pending` until then, so a restart sends what this run did not.
   */
  exclusiveStore?: boolean;
  /** How long a send claim holds without renewal; a dead replica's claim is taken over after it. Default 30 s. */
  leaseMs?: number;
  /** How long a handed-off notification waits for the replica that took it before others may. Default lease / 3. */
  claimGraceMs?: number;
  /**
   * How often the outbox is searched for notifications nobody is sending (their replica died).
   * Off when undefined: only a store shared with other replicas needs it.
   */
  recoverIntervalMs?: number;
  /**
   * The routing tree's answer: the receivers an alert goes to (docs/alerting.md). When undefined, every
   * receiver whose minimum priority it reaches (the behaviour without `route:`).
   */
  route?: (alert: Alert) => Iterable<string>;
}

/**
 * A notification's state record in the store, under `notify:<receiver>:<fingerprint>:<firstSeen>`.
 * `pending`: handed off, nobody sending yet; `inflight`: `owner` is sending and holds a lease;
 * `sent`: done, with where it landed (for updates).
 */
type NotifyRecord =
  | { state: 'pending'; receiver: string; alert: Alert }
  | { state: 'inflight'; receiver: string; owner: string; leaseUntil: number; alert: Alert }
  | { state: 'sent'; ref?: DeliveryRef };

/**
 * The incident's parent message for one receiver, under `thread:<receiver>:<incident>`: while the
 * parent's send is held, when it will go (members wait as long, so they land in its thread); then
 * where it landed. Every member's hand-off and send reads it, so it stays small: the parent alert an
 * incident update re-renders is kept beside it, under `thread-alert:` (records written before that
 * carry it inline as `alert`).
 */
type ThreadRecord = { pendingUntil: number; ref?: undefined } | { ref: DeliveryRef; alert?: Alert };

/** How an occurrence is handed off: held a while first (correlation), or without refreshing an existing announcement. */
export interface AnnounceOptions {
  /** Wait this long before the first send (a Falco alert waiting for its exec audit event). */
  holdMs?: number;
  /**
   * False: an alert whose mute lifted is announced if nobody did, but its possibly older copy
   * refreshes nothing.
   */
  refreshExisting?: boolean;
}

interface Job {
  kind: 'send' | 'update' | 'amend' | 'thread' | 'resolve';
  alert: Alert;
  attempts: number;
  lastError?: DeliveryError;
  /** Where a sent alert landed, kept so a failed write of the record does not send it twice. */
  ref?: DeliveryRef | undefined;
  /** For `resolve`: when the alert resolved. */
  resolvedAt?: number;
  /** The notification's record key, made once per job (`keyOf`): a send uses it four times. */
  key?: string;
}

interface Lane {
  notifier: Notifier;
  jobs: Job[];
  running: boolean;
  /** Waiting on a backoff timer: the lane's head job is retried when it fires. */
  waiting: boolean;
  pendingUpdates: Map<string, { timer: TimerHandle; alert: Alert }>;
  /** Incidents whose parent message is due for an update, by incident id: the latest reference each. */
  pendingIncidents: Map<string, { timer: TimerHandle; incident: AlertIncident }>;
  /**
   * `threadKey` by incident id (bounded: cleared when full). Every member reads its thread twice; a
   * key made each time is a new string to hash for the store's map and the cache's.
   */
  threadKeys: Map<string, string>;
  /**
   * With an exclusive store, the thread records this lane wrote or read, by incident id (bounded:
   * cleared when full): this process is their only writer, so a member reads its thread here, not in
   * the store (a lookup in its map of every record and mark was most of a member's thread cost).
   */
  knownThreads: Map<string, { record: ThreadRecord; expiresAt: number }>;
}

const RECOVERY_BATCH = 100;
/** Thread records and parent alerts remembered as parsed (by key and the text or lazy value read). */
const THREADS_KEPT = 4096;

/**
 * The delivery queue: one serial lane per receiver (which also paces calls to rate-limited APIs),
 * retries with exponential backoff honouring Retry-After, and a dead-letter store for what cannot be
 * delivered.
 *
 * At-least-once across replicas (docs/reliability.md): `announce` resolves only once every eligible
 * receiver's notification is durably handed off — a `pending` record in the store, listed in its
 * outbox — so the bus may then commit the event. Before each attempt a send is claimed in the store
 * as in-flight under a lease (renewed while sending), so a redelivered event or a second replica does
 * not post the same alert twice, and a replica that dies mid-send leaves a claim others take over
 * once the lease expires.
 */
export class Dispatcher {
  private readonly lanes: Lane[];
  private readonly dead: DeadLetters;
  private active = new Set<Promise<void>>();
  /** Record keys of the sends queued in this process, so recovery does not queue them twice. */
  private readonly queued = new Set<string>();
  /**
   * With an exclusive store: the alert each handed-off notification will send, by record key, until
   * it is sent or given up (what its `pending` record holds). Bounded by the outbox.
   */
  private readonly unsent = new Map<string, Alert>();
  private readonly exclusive: boolean;
  private readonly owner: string;
  private readonly leaseMs: number;
  private readonly claimGraceMs: number;
  /**
   * Every member of an incident reads its thread record, at hand-off and again at send: what was
   * read (or written here) is parsed once, and with an exclusive store read without a promise.
   */
  private readonly threads = new ParsedCache<unknown>(THREADS_KEPT);
  private recoveryTimer?: TimerHandle;
  /** With an owner kept across restarts, the first recovery also takes the last run's claims that are not due yet. */
  private resumed: boolean;
  private closed = false;

  constructor(
    notifiers: Notifier[],
    private readonly store: StateStore,
    private readonly clock: Clock,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly options: DispatcherOptions,
  ) {
    this.lanes = notifiers.map((notifier) => ({
      notifier,
      jobs: [],
      running: false,
      waiting: false,
      pendingUpdates: new Map(),
      pendingIncidents: new Map(),
      threadKeys: new Map(),
      knownThreads: new Map(),
    }));
    this.dead = options.deadLetters ?? new DeadLetters(options.deadLetterCapacity);
    this.owner = options.owner ?? randomUUID();
    this.resumed = options.owner === undefined;
    this.exclusive = options.exclusiveStore === true;
    this.metrics.deadLetters.set(this.dead.size);
    this.leaseMs = options.leaseMs ?? 30_000;
    this.claimGraceMs = options.claimGraceMs ?? Math.ceil(this.leaseMs / 3);
    this.scheduleRecovery();
  }

  /**
   * An alert occurrence, handed off durably: for every receiver whose minimum priority it reaches,
   * the first hand-off of its fingerprint and window announces it; a later one (a duplicate, or a
   * redelivered event) refreshes the announcement instead (unless `refreshExisting` is false: an
   * alert whose mute lifted is announced if nobody did, but its possibly older copy refreshes nothing).
   * Rejects when the store cannot take it.
   */
  announce(alert: Alert, options: AnnounceOptions = {}): Promise<void> {
    const lanes = this.eligible(alert);
    const handedOff =
      lanes.length === 1
        ? this.handOff(lanes[0]!, alert, options)
        : Promise.all(lanes.map((lane) => this.handOff(lane, alert, options))).then(() => undefined);
    this.trackSettled(handedOff);
    return handedOff;
  }

  /**
   * The alert resolved at `at`: each receiver that was told about it and understands resolution hears
   * it, once across replicas (a claim per announcement and occurrence), whether or not the alert is
   * silenced or inhibited now (unlike Alertmanager, #226: no incident is left open).
   */
  resolve(alert: Alert, at: number): Promise<void> {
    const claimed = Promise.all(
      this.eligible(alert)
        .filter((lane) => lane.notifier.resolve)
        .map(async (lane) => {
          const key = recordKey(lane, alert);
          if ((await this.store.get(key)) === undefined) return; // never announced: nothing to take back
          if (!(await this.store.setIfAbsent(`resolved:${key}:${alert.lastSeen}`, '1', this.options.windowMs))) return;
          this.enqueue(lane, { kind: 'resolve', alert, attempts: 0, resolvedAt: at });
        }),
    ).then(() => undefined);
    this.track(claimed.catch(() => undefined));
    return claimed;
  }

  /** A new version of an announcement, sent now (a group's later notification: its timers already paced it). */
  update(alert: Alert): void {
    for (const lane of this.eligible(alert)) if (lane.notifier.update) this.enqueue(lane, { kind: 'update', alert, attempts: 0 });
  }

  /** A notification for one named receiver only (the posture digest), whatever its minimum priority. */
  announceTo(receiver: string, alert: Alert): Promise<void> {
    const lane = this.lanes.find((l) => l.notifier.name === receiver);
    if (!lane) return Promise.reject(new Error(`no receiver named ${receiver}`));
    const handedOff = this.handOff(lane, alert);
    this.track(handedOff.catch(() => undefined));
    return handedOff;
  }

  /** A duplicate: receivers that can update an announcement do so, debounced. */
  refresh(alert: Alert): void {
    for (const lane of this.eligible(alert)) this.refreshIn(lane, alert);
  }

  /**
   * The alert changed after the fact (attribution, incident): an immediate update of the announcement,
   * or, while the first send is still waiting, a change to what it will send.
   */
  amend(alert: Alert): Promise<void> {
    for (const lane of this.eligible(alert)) {
      const pending = lane.pendingUpdates.get(alert.fingerprint);
      if (pending) {
        this.clock.clearTimeout(pending.timer);
        lane.pendingUpdates.delete(alert.fingerprint);
      }
      this.enqueue(lane, { kind: 'amend', alert, attempts: 0 });
    }
    return Promise.resolve();
  }

  /** The incident grew: its parent message is updated (debounced per incident) to say so. */
  incidentChanged(incident: AlertIncident): void {
    for (const lane of this.lanes) {
      if (!lane.notifier.update) continue;
      const pending = lane.pendingIncidents.get(incident.id);
      if (pending) {
        pending.incident = incident;
        continue;
      }
      const timer = this.clock.setTimeout(() => {
        const entry = lane.pendingIncidents.get(incident.id);
        lane.pendingIncidents.delete(incident.id);
        if (entry) this.enqueue(lane, threadJob(entry.incident));
      }, this.options.updateDebounceMs);
      lane.pendingIncidents.set(incident.id, { timer, incident });
    }
  }

  deadLetters(): readonly DeadLetter[] {
    return this.dead.list();
  }

  /** Takes the dead letters out and queues them again (an operator's replay). */
  replayDeadLetters(): number {
    const letters = this.dead.takeAll();
    this.metrics.deadLetters.set(0);
    for (const letter of letters) {
      const lane = this.lanes.find((l) => l.notifier.name === letter.receiver);
      if (!lane) continue;
      if (letter.kind === 'resolve')
        this.enqueue(lane, {
          kind: 'resolve',
          alert: letter.alert,
          attempts: 0,
          resolvedAt: letter.alert.resolvedAt ?? letter.at,
        });
      else if (letter.kind !== 'send') this.enqueue(lane, { kind: letter.kind, alert: letter.alert, attempts: 0 });
      else
        this.track(
          this.handOff(lane, letter.alert).catch((err: unknown) =>
            this.deadLetter(lane, { kind: 'send', alert: letter.alert, attempts: 0 }, (err as Error).message),
          ),
        );
    }
    return letters.length;
  }

  depth(): number {
    return this.lanes.reduce((n, l) => n + l.jobs.length, 0);
  }

  /** Resolves once no lane is working (lanes waiting on a backoff timer count as not working). */
  async settled(): Promise<void> {
    while (this.active.size) await Promise.all([...this.active]);
  }

  /** Stops taking work, flushes debounced updates, and waits for what is running. */
  async close(): Promise<void> {
    if (this.recoveryTimer) this.clock.clearTimeout(this.recoveryTimer);
    this.recoveryTimer = undefined;
    for (const lane of this.lanes) {
      for (const [fp, { timer, alert }] of lane.pendingUpdates) {
        this.clock.clearTimeout(timer);
        lane.pendingUpdates.delete(fp);
        lane.jobs.push({ kind: 'update', alert, attempts: 0 });
      }
      // Not flushed: one parent update per pending incident, under the receiver's rate limit, would
      // hold the shutdown up; the incident's next member updates its parent again.
      for (const { timer } of lane.pendingIncidents.values()) this.clock.clearTimeout(timer);
      lane.pendingIncidents.clear();
      this.run(lane);
    }
    await this.settled();
    this.closed = true;
    await Promise.all(this.lanes.map((l) => l.notifier.close?.().catch(() => undefined)));
  }

  private eligible(alert: Alert): Lane[] {
    const lanes = this.lanes.filter((l) => atLeast(alert.priority, l.notifier.minPriority));
    const group = alert.group;
    if (group) return lanes.filter((l) => l.notifier.name === group.receiver);
    if (!this.options.route) return lanes;
    const routed = new Set(this.options.route(alert));
    return lanes.filter((l) => routed.has(l.notifier.name));
  }

  private async handOff(lane: Lane, alert: Alert, options: AnnounceOptions = {}): Promise<void> {
    let holdMs = options.holdMs ?? 0;
    const incident = alert.incident;
    if (incident && incident.parent !== alert.fingerprint) {
      const read = this.thread(lane, incident.id);
      const thread = read instanceof Promise ? await read : read;
      if (thread && !thread.ref && thread.pendingUntil > this.clock.now()) {
        holdMs = Math.max(holdMs, thread.pendingUntil - this.clock.now() + 1);
      }
    }
    // A copy: what the reconciler later marks on the recent alert (resolvedAt, mutes) is not what was handed off.
    const record: NotifyRecord = { state: 'pending', receiver: lane.notifier.name, alert: { ...alert } };
    const key = recordKey(lane, alert);
    const created = await this.store.handOff(
      key,
      () => JSON.stringify(record),
      this.options.windowMs,
      this.clock.now() + this.claimGraceMs + holdMs,
    );
    if (created && this.exclusive) this.unsent.set(key, record.alert);
    if (created && incident?.parent === alert.fingerprint) {
      const marker: ThreadRecord = { pendingUntil: this.clock.now() + holdMs };
      if (await this.store.setIfAbsent(this.threadKeyOf(lane, incident.id), JSON.stringify(marker), this.options.windowMs))
        this.knowThread(lane, incident.id, marker);
    }
    if (!created) {
      if (options.refreshExisting !== false) this.refreshIn(lane, alert);
    } else if (holdMs <= 0) this.enqueue(lane, { kind: 'send', alert, attempts: 0, key });
    else {
      // Held: what is sent is the record's alert at send time, so an amend in between is sent with it.
      this.queued.add(key);
      this.clock.setTimeout(() => {
        this.queued.delete(key);
        this.enqueue(lane, { kind: 'send', alert, attempts: 0, key });
      }, holdMs);
    }
  }

  private refreshIn(lane: Lane, alert: Alert): void {
    if (!lane.notifier.update) return;
    const pending = lane.pendingUpdates.get(alert.fingerprint);
    if (pending) {
      pending.alert = alert;
      return;
    }
    const timer = this.clock.setTimeout(() => {
      const entry = lane.pendingUpdates.get(alert.fingerprint);
      lane.pendingUpdates.delete(alert.fingerprint);
      if (entry) this.enqueue(lane, { kind: 'update', alert: entry.alert, attempts: 0 });
    }, this.options.updateDebounceMs);
    lane.pendingUpdates.set(alert.fingerprint, { timer, alert });
  }

  private enqueue(lane: Lane, job: Job): void {
    const refusal = this.closed
      ? 'shutting down'
      : lane.jobs.length >= this.options.queueCapacity
        ? 'delivery queue full'
        : undefined;
    if (refusal) {
      // With a shared store the record stays in the outbox for a replica (or a later pass) to send.
      // Given up here (recovery reads the record again): the memory of what to send is bounded by the queue.
      if (job.kind === 'send') this.unsent.delete(keyOf(lane, job));
      if (job.kind === 'send' && this.options.recoverIntervalMs !== undefined) {
        this.log.warn(
          { receiver: lane.notifier.name, fingerprint: job.alert.fingerprint, reason: refusal },
          'notification left in the outbox',
        );
        return;
      }
      return this.deadLetter(lane, job, refusal);
    }
    if (job.kind === 'send') this.queued.add(keyOf(lane, job));
    lane.jobs.push(job);
    this.metrics.queueDepth.set(this.depth());
    this.run(lane);
  }

  private track(work: Promise<void>): void {
    const tracked = work.finally(() => this.active.delete(tracked));
    this.active.add(tracked);
  }

  /**
   * `track` for work whose caller hears how it ended (a hand-off's promise is returned to it): one
   * promise per hand-off instead of a `catch` and a `finally`.
   */
  private trackSettled(work: Promise<void>): void {
    const done = () => {
      this.active.delete(tracked);
    };
    const tracked = work.then(done, done);
    this.active.add(tracked);
  }

  private run(lane: Lane): void {
    if (lane.running || lane.waiting || lane.jobs.length === 0) return;
    lane.running = true;
    this.track(this.drain(lane));
  }

  private async drain(lane: Lane): Promise<void> {
    try {
      while (lane.jobs.length) {
        const job = lane.jobs[0]!;
        const outcome = await this.attempt(lane, job);
        if (outcome === 'retry') {
          lane.waiting = true;
          this.clock.setTimeout(() => {
            lane.waiting = false;
            this.run(lane);
          }, this.backoff(job));
          return;
        }
        lane.jobs.shift();
        if (job.kind === 'send') this.queued.delete(keyOf(lane, job));
        this.metrics.queueDepth.set(this.depth());
      }
    } finally {
      lane.running = false;
    }
  }

  private async attempt(lane: Lane, job: Job): Promise<'done' | 'retry'> {
    const { notifier } = lane;
    const key = keyOf(lane, job);
    job.attempts++;
    try {
      if (job.kind === 'send') {
        if (job.ref === undefined) {
          // The claim is the in-flight record text; an exclusive store's send needs none.
          const claim = this.exclusive ? this.takeUnsent(key, job) : await this.claim(lane, key, job);
          if (claim === undefined) return 'done'; // sent, being sent by a live replica, or gone
          // Only an incident's member reads a thread, and only its parent writes one: others make no promise for them.
          const incident = job.alert.incident;
          const read = incident && incident.parent !== job.alert.fingerprint ? this.sendContext(lane, job.alert) : undefined;
          const context = read instanceof Promise ? await read : read;
          const send = () => notifier.send(job.alert, context);
          job.ref = (claim === '' ? await send() : await this.whileHolding(key, claim, send)) ?? {};
          if (incident?.parent === job.alert.fingerprint) await this.rememberThread(lane, job.alert, job.ref);
          this.metrics.notifications.inc({ receiver: notifier.name, outcome: 'sent' });
          this.metrics.ingestToNotify.observe(
            { receiver: notifier.name },
            (this.clock.now() - job.alert.event.receivedAt) / 1000,
          );
        }
        const sent: NotifyRecord = { state: 'sent', ref: job.ref };
        // An in-process store takes it in this turn (`setNow`, the same write as `set`).
        if (this.store.setNow) this.store.setNow(key, JSON.stringify(sent), this.options.windowMs);
        else await this.store.set(key, JSON.stringify(sent), this.options.windowMs);
        this.unsent.delete(key);
        await this.store.unschedule(key);
      } else if (job.kind === 'thread') {
        const incident = job.alert.incident!;
        const read = this.thread(lane, incident.id);
        const thread = read instanceof Promise ? await read : read;
        if (!thread?.ref) return 'done'; // the parent is not posted (yet): it will go out with the incident as it stands
        const stored = thread.alert ?? this.parsed<Alert>(threadAlertKey(lane, incident.id));
        const parent = stored instanceof Promise ? await stored : stored;
        if (!parent) return 'done'; // expired with its window
        await notifier.update!({ ...parent, incident }, thread.ref);
        this.metrics.notifications.inc({ receiver: notifier.name, outcome: 'updated' });
      } else if (job.kind === 'resolve') {
        if (this.unsent.has(key)) throw new DeliveryError('announcement not delivered yet', true);
        const raw = await this.store.get(key);
        if (raw === undefined) return 'done';
        const record = JSON.parse(raw) as NotifyRecord;
        // Behind its own announcement (a retry in flight, here or on another replica): wait for it.
        if (record.state !== 'sent') throw new DeliveryError('announcement not delivered yet', true);
        await notifier.resolve!(job.alert, record.ref ?? {}, job.resolvedAt ?? this.clock.now());
        this.metrics.notifications.inc({ receiver: notifier.name, outcome: 'resolved' });
      } else if (this.unsent.has(key)) {
        // Not sent yet (this process is the only sender): an amend changes what the send will carry;
        // an update has nothing to update. The lane is serial, so that send is not running now.
        if (job.kind !== 'amend') return 'done';
        const pending: NotifyRecord = { state: 'pending', receiver: notifier.name, alert: job.alert };
        await this.store.set(key, JSON.stringify(pending), this.options.windowMs);
        this.unsent.set(key, job.alert);
      } else {
        const record = await this.store.get(key);
        if (job.kind === 'amend' && record) {
          const parsed = JSON.parse(record) as NotifyRecord;
          if (parsed.state === 'pending') {
            const next: NotifyRecord = { ...parsed, alert: job.alert };
            if (await this.store.replace(key, record, JSON.stringify(next), this.options.windowMs)) return 'done';
            throw new DeliveryError('notification record changed while amending it', true);
          }
          if (parsed.state === 'inflight') throw new DeliveryError('amending an alert whose send is in flight', true);
        }
        const ref = record ? (JSON.parse(record) as { ref?: DeliveryRef }).ref : undefined;
        if (!ref || Object.keys(ref).length === 0) return 'done'; // not announced (yet), or without a ref: nothing to update
        if (!notifier.update) return 'done';
        await notifier.update!(job.alert, ref);
        this.metrics.notifications.inc({ receiver: notifier.name, outcome: 'updated' });
      }
      return 'done';
    } catch (err) {
      const error = err instanceof DeliveryError ? err : new DeliveryError((err as Error).message, true);
      if (error.retryable && job.attempts < this.options.maxAttempts) {
        job.lastError = error;
        this.log.warn(
          { receiver: notifier.name, rule: job.alert.rule, attempt: job.attempts, err: error.message },
          'delivery failed, will retry',
        );
        this.metrics.notifications.inc({ receiver: notifier.name, outcome: 'retried' });
        if (job.kind === 'send' && !this.exclusive) await this.holdThroughBackoff(key, job).catch(() => undefined);
        return 'retry';
      }
      // Release the claim so a replay of the dead letter (or a redelivery) can send it.
      if (job.kind === 'send') {
        this.unsent.delete(key);
        await Promise.all([this.store.delete(key), this.store.unschedule(key)]).catch(() => undefined);
      }
      this.deadLetter(lane, job, error.message);
      return 'done';
    }
  }

  /** A member of an incident whose parent message is out is posted in its thread; a chain's completion is broadcast. */
  private sendContext(lane: Lane, alert: Alert): SendContext | undefined | Promise<SendContext | undefined> {
    const incident = alert.incident;
    if (!incident || incident.parent === alert.fingerprint) return undefined;
    const thread = this.thread(lane, incident.id);
    return thread instanceof Promise ? thread.then((t) => contextOf(t, alert)) : contextOf(thread, alert);
  }

  private thread(lane: Lane, incidentId: string): ThreadRecord | undefined | Promise<ThreadRecord | undefined> {
    const known = this.exclusive ? lane.knownThreads.get(incidentId) : undefined;
    if (known && known.expiresAt > this.clock.now()) return known.record;
    const key = this.threadKeyOf(lane, incidentId);
    return whenDone(this.parsed<ThreadRecord>(key), (record) => {
      // What an earlier run left (the data dir), or the first read here: known from now on, until it expires.
      const ttl = record && this.exclusive ? this.store.ttlLeft?.(key) : undefined;
      if (record && ttl !== undefined) this.knowThread(lane, incidentId, record, ttl);
      return record;
    });
  }

  /** With an exclusive store: what this lane just wrote (or read) under the incident's thread key, for `ttlMs`. */
  private knowThread(lane: Lane, incidentId: string, record: ThreadRecord, ttlMs = this.options.windowMs): void {
    if (!this.exclusive) return;
    if (lane.knownThreads.size >= THREADS_KEPT) lane.knownThreads.clear();
    lane.knownThreads.set(incidentId, { record, expiresAt: this.clock.now() + ttlMs });
  }

  private threadKeyOf(lane: Lane, incidentId: string): string {
    let key = lane.threadKeys.get(incidentId);
    if (key === undefined) {
      if (lane.threadKeys.size >= THREADS_KEPT) lane.threadKeys.clear();
      lane.threadKeys.set(incidentId, (key = threadKey(lane, incidentId)));
    }
    return key;
  }

  /** A thread record or parent alert: with an exclusive store as set (a lazy value recognised unmade), parsed once per value. */
  private parsed<T>(key: string): T | undefined | Promise<T | undefined> {
    return whenDone(readValue(this.store, key, this.exclusive), (raw) =>
      raw === undefined ? undefined : (this.threads.parse(key, raw) as T),
    );
  }

  private async rememberThread(lane: Lane, alert: Alert, ref: DeliveryRef): Promise<void> {
    const incident = alert.incident;
    if (!incident || incident.parent !== alert.fingerprint || Object.keys(ref).length === 0) return;
    const { raw: _raw, ...event } = alert.event;
    const parent: Alert = { ...alert, event: { ...event, raw: {} } };
    // Made only if read as text or written out (an in-process store): the parent is re-read as this object.
    const parentText = lazyText(() => JSON.stringify(parent));
    const record: ThreadRecord = { ref };
    const recordText = JSON.stringify(record);
    const alertKey = threadAlertKey(lane, incident.id);
    const key = this.threadKeyOf(lane, incident.id);
    // The alert first: whoever reads the ref finds it.
    await this.store.set(alertKey, parentText, this.options.windowMs);
    this.threads.put(alertKey, parentText, parent);
    await this.store.set(key, recordText, this.options.windowMs);
    this.threads.put(key, recordText, record);
    this.knowThread(lane, incident.id, record);
  }

  /**
   * With an exclusive store, the send is this process's to make while its alert is remembered as
   * unsent: an empty claim (nothing to hold), or undefined.
   */
  private takeUnsent(key: string, job: Job): '' | undefined {
    const alert = this.unsent.get(key);
    if (!alert) return undefined; // sent, given up, or never handed off here
    job.alert = alert;
    return '';
  }

  /**
   * Takes the send for this replica: from `pending`, from a claim of its own, or from a claim whose
   * lease ran out (its replica died). Returns the claim's record text, or undefined when the send is
   * not ours to make. The compare-and-set makes the take-over atomic between replicas.
   */
  private async claim(lane: Lane, key: string, job: Job): Promise<string | undefined> {
    const raw = await this.store.get(key);
    if (raw === undefined) return undefined;
    const record = JSON.parse(raw) as NotifyRecord;
    if (record.state === 'sent') {
      await this.store.unschedule(key);
      return undefined;
    }
    const now = this.clock.now();
    if (record.state === 'inflight' && record.owner !== this.owner && record.leaseUntil > now) return undefined;
    if (record.state === 'inflight' && record.owner !== this.owner) {
      this.log.warn({ receiver: lane.notifier.name, fingerprint: record.alert.fingerprint }, 'taking over an expired send claim');
    }
    job.alert = record.alert;
    const claim = this.inflight(lane.notifier.name, record.alert, now + this.leaseMs);
    if (!(await this.store.replace(key, raw, claim, this.options.windowMs))) return undefined;
    await this.store.schedule(key, now + this.leaseMs);
    return claim;
  }

  /** Runs `send`, renewing the claim's lease every third of it so no one takes over a slow send. */
  private async whileHolding<T>(key: string, claim: string, send: () => Promise<T>): Promise<T> {
    let current = claim;
    let timer: TimerHandle | undefined;
    const renew = () => {
      timer = this.clock.setTimeout(
        () => {
          const leaseUntil = this.clock.now() + this.leaseMs;
          const next = this.inflight(...this.claimParts(current), leaseUntil);
          void this.store
            .replace(key, current, next, this.options.windowMs)
            .then(async (renewed) => {
              if (!renewed) return;
              current = next;
              await this.store.schedule(key, leaseUntil);
            })
            .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'send claim renewal failed'));
          renew();
        },
        Math.ceil(this.leaseMs / 3),
      );
    };
    renew();
    try {
      return await send();
    } finally {
      if (timer) this.clock.clearTimeout(timer);
    }
  }

  /** Keeps the claim through a backoff, so no other replica sends while this one waits to retry. */
  private async holdThroughBackoff(key: string, job: Job): Promise<void> {
    const raw = await this.store.get(key);
    if (raw === undefined) return;
    const record = JSON.parse(raw) as NotifyRecord;
    if (record.state !== 'inflight' || record.owner !== this.owner) return;
    const leaseUntil = this.clock.now() + this.backoff(job) + this.leaseMs;
    if (await this.store.replace(key, raw, this.inflight(record.receiver, record.alert, leaseUntil), this.options.windowMs)) {
      await this.store.schedule(key, leaseUntil);
    }
  }

  private inflight(receiver: string, alert: Alert, leaseUntil: number): string {
    const record: NotifyRecord = { state: 'inflight', receiver, owner: this.owner, leaseUntil, alert };
    return JSON.stringify(record);
  }

  private claimParts(raw: string): [string, Alert] {
    const record = JSON.parse(raw) as Extract<NotifyRecord, { state: 'inflight' }>;
    return [record.receiver, record.alert];
  }

  private scheduleRecovery(): void {
    const interval = this.options.recoverIntervalMs;
    if (interval === undefined || this.closed) return;
    this.recoveryTimer = this.clock.setTimeout(() => {
      const resume = !this.resumed;
      this.resumed = true;
      this.track(
        (resume ? this.recover(Number.MAX_SAFE_INTEGER, this.options.queueCapacity) : this.recover())
          .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'outbox recovery failed'))
          .finally(() => this.scheduleRecovery()),
      );
    }, interval);
  }

  /**
   * Queues the outbox's due notifications that no live replica is sending: handed off by a replica
   * that died before claiming them, or claimed by one whose lease ran out.
   */
  private async recover(horizon = this.clock.now(), limit = RECOVERY_BATCH): Promise<void> {
    const now = this.clock.now();
    for (const key of await this.store.due(horizon, limit)) {
      if (!key.startsWith('notify:')) continue; // another stage's entry (a group's flush: alert/group.ts)
      if (this.queued.has(key)) {
        await this.store.schedule(key, now + this.claimGraceMs); // ours, waiting in a lane
        continue;
      }
      const raw = await this.store.get(key);
      const record = raw === undefined ? undefined : (JSON.parse(raw) as NotifyRecord);
      if (!record || record.state === 'sent') {
        this.unsent.delete(key);
        await this.store.unschedule(key);
        continue;
      }
      // A claim of our own that no lane here holds is a previous run's (embedded mode keeps the owner).
      if (record.state === 'inflight' && record.leaseUntil > now && record.owner !== this.owner) {
        await this.store.schedule(key, record.leaseUntil);
        continue;
      }
      const lane = this.lanes.find((l) => l.notifier.name === record.receiver);
      if (!lane) {
        await this.store.schedule(key, now + this.leaseMs); // a receiver this replica does not have
        continue;
      }
      if (this.exclusive) this.unsent.set(key, record.alert);
      this.enqueue(lane, { kind: 'send', alert: record.alert, attempts: 0 });
    }
  }

  /** Exponential from `baseDelayMs`, capped; never sooner than the receiver's Retry-After. */
  private backoff(job: Job): number {
    const exponential = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** (job.attempts - 1));
    return Math.max(exponential, job.lastError?.retryAfterMs ?? 0);
  }

  private deadLetter(lane: Lane, job: Job, error: string): void {
    const { notifier } = lane;
    if (job.kind === 'thread') {
      // Only the incident summary on the parent message is stale; the alerts themselves went out.
      this.metrics.notifications.inc({ receiver: notifier.name, outcome: 'dropped' });
      this.log.warn({ receiver: notifier.name, incident: job.alert.incident?.id, err: error }, 'incident parent update dropped');
      return;
    }
    const evicted = this.dead.add({
      receiver: notifier.name,
      kind: job.kind,
      fingerprint: job.alert.fingerprint,
      rule: job.alert.rule,
      error,
      attempts: job.attempts,
      at: this.clock.now(),
      alert: job.alert,
    });
    if (evicted) {
      this.log.error(
        { receiver: evicted.receiver, fingerprint: evicted.fingerprint },
        'dead-letter store full: oldest letter evicted',
      );
    }
    this.metrics.notifications.inc({ receiver: notifier.name, outcome: 'dead_lettered' });
    this.metrics.deadLetters.set(this.dead.size);
    this.log.error(
      { receiver: notifier.name, rule: job.alert.rule, fingerprint: job.alert.fingerprint, err: error },
      'notification dead-lettered',
    );
  }
}

/** Without a ref the parent did not land (here): the member is a channel message of its own. */
function contextOf(thread: ThreadRecord | undefined, alert: Alert): SendContext | undefined {
  return thread?.ref ? { thread: thread.ref, broadcast: alert.incident?.chainCompletedBy === alert.fingerprint } : undefined;
}

/** The debounced update of an incident's parent message (the job's alert stands for the incident). */
function threadJob(incident: AlertIncident): Job {
  return { kind: 'thread', alert: { fingerprint: `incident:${incident.id}`, incident } as unknown as Alert, attempts: 0 };
}

function threadAlertKey(lane: Lane, incidentId: string): string {
  return `thread-alert:${lane.notifier.name}:${incidentId}`;
}

function threadKey(lane: Lane, incidentId: string): string {
  return `thread:${lane.notifier.name}:${incidentId}`;
}

/** A job's alert may be replaced by the record's copy (`takeUnsent`, `claim`): same fingerprint and window, same key. */
function keyOf(lane: Lane, job: Job): string {
  return (job.key ??= recordKey(lane, job.alert));
}

function recordKey(lane: Lane, alert: Alert): string {
  return `notify:${lane.notifier.name}:${alert.fingerprint}:${alert.firstSeen}`;
}
