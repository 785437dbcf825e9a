import type { Alert } from '../core/alert';
import type { Clock, TimerHandle } from '../core/clock';
import { DeliveryError } from '../core/errors';
import { atLeast } from '../core/priority';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { StateStore } from '../store/port';
import type { DeliveryRef, Notifier } from './port';

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
}

export interface DeadLetter {
  receiver: string;
  kind: 'send' | 'update';
  fingerprint: string;
  rule: string;
  error: string;
  attempts: number;
  at: number;
  alert: Alert;
}

interface Job {
  kind: 'send' | 'update';
  alert: Alert;
  attempts: number;
  lastError?: DeliveryError;
}

interface Lane {
  notifier: Notifier;
  jobs: Job[];
  running: boolean;
  /** Waiting on a backoff timer: the lane's head job is retried when it fires. */
  waiting: boolean;
  pendingUpdates: Map<string, { timer: TimerHandle; alert: Alert }>;
}

/**
 * The delivery queue: one serial lane per receiver (which also paces calls to rate-limited APIs),
 * retries with exponential backoff honouring Retry-After, and a dead-letter store for what cannot be
 * delivered. A send is claimed in the state store as in-flight *before* it is made, so a redelivered
 * event or a second replica does not post the same alert twice.
 */
export class Dispatcher {
  private readonly lanes: Lane[];
  private readonly dead: DeadLetter[] = [];
  private active = new Set<Promise<void>>();
  private closed = false;

  constructor(
    notifiers: Notifier[],
    private readonly store: StateStore,
    private readonly clock: Clock,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly options: DispatcherOptions,
  ) {
    this.lanes = notifiers.map((notifier) => ({ notifier, jobs: [], running: false, waiting: false, pendingUpdates: new Map() }));
  }

  /** A new alert: every receiver whose minimum priority it reaches announces it. */
  announce(alert: Alert): void {
    for (const lane of this.eligible(alert)) this.enqueue(lane, { kind: 'send', alert, attempts: 0 });
  }

  /** A duplicate: receivers that can update an announcement do so, debounced. */
  refresh(alert: Alert): void {
    for (const lane of this.eligible(alert)) {
      if (!lane.notifier.update) continue;
      const pending = lane.pendingUpdates.get(alert.fingerprint);
      if (pending) {
        pending.alert = alert;
        continue;
      }
      const timer = this.clock.setTimeout(() => {
        const entry = lane.pendingUpdates.get(alert.fingerprint);
        lane.pendingUpdates.delete(alert.fingerprint);
        if (entry) this.enqueue(lane, { kind: 'update', alert: entry.alert, attempts: 0 });
      }, this.options.updateDebounceMs);
      lane.pendingUpdates.set(alert.fingerprint, { timer, alert });
    }
  }

  deadLetters(): readonly DeadLetter[] {
    return this.dead;
  }

  /** Takes the dead letters out and queues them again (an operator's replay). */
  replayDeadLetters(): number {
    const letters = this.dead.splice(0);
    this.metrics.deadLetters.set(0);
    for (const letter of letters) {
      const lane = this.lanes.find((l) => l.notifier.name === letter.receiver);
      if (lane) this.enqueue(lane, { kind: letter.kind, alert: letter.alert, attempts: 0 });
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
    for (const lane of this.lanes) {
      for (const [fp, { timer, alert }] of lane.pendingUpdates) {
        this.clock.clearTimeout(timer);
        lane.pendingUpdates.delete(fp);
        lane.jobs.push({ kind: 'update', alert, attempts: 0 });
      }
      this.run(lane);
    }
    await this.settled();
    this.closed = true;
  }

  private eligible(alert: Alert): Lane[] {
    return this.lanes.filter((l) => atLeast(alert.priority, l.notifier.minPriority));
  }

  private enqueue(lane: Lane, job: Job): void {
    if (this.closed) return this.deadLetter(lane, job, 'shutting down');
    if (lane.jobs.length >= this.options.queueCapacity) return this.deadLetter(lane, job, 'delivery queue full');
    lane.jobs.push(job);
    this.metrics.queueDepth.set(this.depth());
    this.run(lane);
  }

  private run(lane: Lane): void {
    if (lane.running || lane.waiting || lane.jobs.length === 0) return;
    lane.running = true;
    const work = this.drain(lane).finally(() => {
      lane.running = false;
      this.active.delete(work);
    });
    this.active.add(work);
  }

  private async drain(lane: Lane): Promise<void> {
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
      this.metrics.queueDepth.set(this.depth());
    }
  }

  private async attempt(lane: Lane, job: Job): Promise<'done' | 'retry'> {
    const { notifier } = lane;
    const key = `notify:${notifier.name}:${job.alert.fingerprint}:${job.alert.firstSeen}`;
    job.attempts++;
    try {
      if (job.kind === 'send') {
        if (job.attempts === 1 && !(await this.store.setIfAbsent(key, JSON.stringify({ state: 'inflight' }), this.options.windowMs))) {
          return 'done'; // another replica, or an earlier delivery of this event, has it
        }
        const ref = await notifier.send(job.alert);
        await this.store.set(key, JSON.stringify({ state: 'sent', ref }), this.options.windowMs);
        this.metrics.notifications.inc({ receiver: notifier.name, outcome: 'sent' });
        this.metrics.ingestToNotify.observe({ receiver: notifier.name }, (this.clock.now() - job.alert.event.receivedAt) / 1000);
      } else {
        const record = await this.store.get(key);
        const ref = record ? (JSON.parse(record) as { ref?: DeliveryRef }).ref : undefined;
        if (!ref) return 'done'; // announced elsewhere without a ref, or not yet: nothing to update
        await notifier.update!(job.alert, ref);
        this.metrics.notifications.inc({ receiver: notifier.name, outcome: 'updated' });
      }
      return 'done';
    } catch (err) {
      const error = err instanceof DeliveryError ? err : new DeliveryError((err as Error).message, true);
      if (error.retryable && job.attempts < this.options.maxAttempts) {
        job.lastError = error;
        this.log.warn({ receiver: notifier.name, rule: job.alert.rule, attempt: job.attempts, err: error.message }, 'delivery failed, will retry');
        this.metrics.notifications.inc({ receiver: notifier.name, outcome: 'retried' });
        return 'retry';
      }
      // Release the in-flight claim so a replay of the dead letter (or a redelivery) can send it.
      if (job.kind === 'send') await this.store.delete(key).catch(() => undefined);
      this.deadLetter(lane, job, error.message);
      return 'done';
    }
  }

  /** Exponential from `baseDelayMs`, capped; never sooner than the receiver's Retry-After. */
  private backoff(job: Job): number {
    const exponential = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** (job.attempts - 1));
    return Math.max(exponential, job.lastError?.retryAfterMs ?? 0);
  }

  private deadLetter(lane: Lane, job: Job, error: string): void {
    const { notifier } = lane;
    this.dead.push({
      receiver: notifier.name,
      kind: job.kind,
      fingerprint: job.alert.fingerprint,
      rule: job.alert.rule,
      error,
      attempts: job.attempts,
      at: this.clock.now(),
      alert: job.alert,
    });
    if (this.dead.length > this.options.deadLetterCapacity) {
      const evicted = this.dead.shift()!;
      this.log.error({ receiver: evicted.receiver, fingerprint: evicted.fingerprint }, 'dead-letter store full: oldest letter evicted');
    }
    this.metrics.notifications.inc({ receiver: notifier.name, outcome: 'dead_lettered' });
    this.metrics.deadLetters.set(this.dead.length);
    this.log.error({ receiver: notifier.name, rule: job.alert.rule, fingerprint: job.alert.fingerprint, err: error }, 'notification dead-lettered');
  }
}
