import type { Detector } from './detect/port';
import type { Enricher } from './enrich/port';
import { partitionKey, type SecurityEvent } from './core/event';
import type { Metrics } from './observability/metrics';
import type { Logger } from './observability/logger';
import type { StateStore } from './store/port';
import type { AlertCorrelation, AlertStage } from './alert/stage';
import type { Detection, Enrichment } from './core/alert';
import type { Correlator } from './correlate/correlator';
import { UnavailableError } from './core/errors';
import { attempt, type EventFailure, type Stage } from './pipeline/attempts';
import type { EventDeadLetters } from './pipeline/dead-letters';
import { PROCESSED, seenKey } from './pipeline/seen';

export interface PipelineOptions {
  /** How long an event id is remembered, so a retried or redelivered event is processed once. */
  seenTtlMs: number;
  /** Attempts an event gets before it is parked in the event dead-letter store. */
  maxEventAttempts: number;
}

/**
 * What a bus consumer runs for each batch: detect → enrich (then the rules that wait for it) → correlate → alert.
 * An event whose id was already processed (audit webhook retries: same auditID and stage; Falco
 * retries: same uuid) is skipped. Each event is isolated: one that keeps failing is parked and the
 * batch goes on; only an unavailable dependency (state store) fails the batch, to be delivered again.
 */
export class Pipeline {
  /**
   * Each partition key's latest events in processing, across batches: the bus hands over the next
   * batch while one waits (an enrichment waiting for its pod, `MemoryBusOptions.maxBatchesInFlight`),
   * and a key's events still run in publish order. Bounded by the events in flight.
   */
  private readonly tails = new Map<string, Promise<void>>();

  constructor(
    private readonly detector: Detector,
    private readonly enricher: Enricher,
    private readonly alerts: AlertStage,
    private readonly store: StateStore,
    private readonly parking: EventDeadLetters,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly options: PipelineOptions,
    private readonly correlator?: Correlator,
  ) {}

  /**
   * Events of one partition key (one pod) are processed in order, within a batch and across batches
   * in flight at once; different keys run side by side, so the state store's round trips (Redis in
   * scale-out mode) and an event waiting for its pod's state overlap instead of adding up.
   */
  readonly handle = (events: SecurityEvent[]): Promise<void> => {
    try {
      // Sessions first: an exec's audit event later in the batch still attributes a shell earlier in it.
      const observed = this.correlator && this.observeSessions(events);
      return observed ? observed.then(() => this.byKey(events)) : this.byKey(events);
    } catch (err) {
      return Promise.reject(err); // a dependency is down: the bus delivers the batch again
    }
  };

  /**
   * Not `async`: an async function that returns a promise pays two more microtask turns to adopt it,
   * and a single event's batch (every Falco request) needs no map of keys.
   */
  private byKey(events: SecurityEvent[]): Promise<void> {
    if (events.length === 1) return this.afterEarlier(keyOf(events[0]!), events);
    const byKey = new Map<string, SecurityEvent[]>();
    for (const event of events) {
      const key = keyOf(event);
      const list = byKey.get(key);
      if (list) list.push(event);
      else byKey.set(key, [event]);
    }
    if (byKey.size === 1) {
      // One key: nothing to run beside it.
      const [key, list] = byKey.entries().next().value!;
      return this.afterEarlier(key, list);
    }
    return Promise.allSettled([...byKey].map(([key, list]) => this.afterEarlier(key, list))).then((results) => {
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason; // a dependency is down: the bus delivers the batch again
    });
  }

  /** In order; undefined (no promise) when no event of the batch opens a session, as nearly every batch. */
  private observeSessions(events: SecurityEvent[]): Promise<void> | undefined {
    for (let i = 0; i < events.length; i++) {
      const observed = this.guarded('correlate', () => this.correlator!.observe(events[i]!), 'session correlation failed');
      if (observed) return observed.then(() => this.observeSessionsFrom(events, i + 1));
    }
    return undefined;
  }

  private async observeSessionsFrom(events: SecurityEvent[], from: number): Promise<void> {
    for (let i = from; i < events.length; i++)
      await this.guarded('correlate', () => this.correlator!.observe(events[i]!), 'session correlation failed');
  }

  /** Processes `events` once the key's events of earlier batches are done; fails when they failed (both are delivered again). */
  private afterEarlier(key: string, events: SecurityEvent[]): Promise<void> {
    const earlier = this.tails.get(key);
    const run = earlier ? earlier.then(() => this.processInOrder(events)) : this.processInOrder(events);
    this.tails.set(key, run);
    const forget = () => {
      if (this.tails.get(key) === run) this.tails.delete(key);
    };
    run.then(forget, forget);
    return run;
  }

  private processInOrder(events: SecurityEvent[]): Promise<void> {
    return events.length === 1 ? this.processOne(events[0]!) : this.processEach(events);
  }

  private async processEach(events: SecurityEvent[]): Promise<void> {
    for (const event of events) await this.processOne(event);
  }

  private async processOne(event: SecurityEvent): Promise<void> {
    const seen = seenKey(event);
    // An in-process store answers in the same turn (`peek`): no promise and no await per event.
    const mark = this.store.peek ? this.store.peek(seen) : await this.store.get(seen);
    if (mark === PROCESSED) {
      this.metrics.eventsDuplicate.inc({ source: this.metrics.duplicateSourceLabel.value(String(event.source)) });
      return;
    }
    const failure = await attempt(this.options.maxEventAttempts, (enter) => this.stages(event, enter));
    if (failure) {
      this.metrics.pipelineErrors.inc({ stage: failure.stage });
      await this.park(event, failure);
    }
    // As `peek` above: an in-process store takes the mark in this turn.
    if (this.store.setNow) this.store.setNow(seen, PROCESSED, this.options.seenTtlMs);
    else await this.store.set(seen, PROCESSED, this.options.seenTtlMs);
  }

  private async park(event: SecurityEvent, failure: EventFailure): Promise<void> {
    try {
      await this.parking.park(event, failure);
    } catch (err) {
      if (err instanceof UnavailableError) throw err;
      this.metrics.pipelineErrors.inc({ stage: 'park' });
      this.log.error({ err: (err as Error)?.message, stage: failure.stage }, 'failed event could not be parked: dropped');
    }
  }

  /** Most events (nine in ten audit events) match no rule: they are done here, with no promise made. */
  private stages(event: SecurityEvent, enter: (stage: Stage) => void): Promise<void> | undefined {
    enter('observe');
    this.enricher.observe(event);
    enter('detect');
    const detections = this.detector.detect(event);
    return detections.length ? this.alertOn(detections, enter) : undefined;
  }

  private async alertOn(detections: Detection[], enter: (stage: Stage) => void): Promise<void> {
    // What the enricher says depends on the event only (src/enrich/port.ts): an event's detections
    // share one answer (an exec by a person makes two or three) rather than each paying for it.
    let enrichment: Enrichment | undefined;
    for (const detected of detections) {
      enter('enrich');
      enrichment ??= await this.enricher.enrich(detected);
      // Only detections a rule waits on (`enrichment:` conditions) pay for a second look.
      const detection = detected.pending ? (this.detector.escalate?.(detected, enrichment) ?? detected) : detected;
      if (!this.correlator) {
        enter('alert');
        await this.alerts.process(detection, enrichment);
        continue;
      }
      enter('correlate');
      // Correlation adds to an alert; when it fails (other than a dependency being down) the alert goes out without it.
      const enriched = enrichment;
      const correlated = this.guarded('correlate', () => this.correlator!.correlate(detection, enriched));
      const correlation: AlertCorrelation = (correlated instanceof Promise ? await correlated : correlated) ?? {};
      enter('alert');
      const alert = await this.alerts.process(detection, enrichment, correlation);
      const tracked = this.guarded('correlate', () => this.correlator!.track(alert));
      if (tracked) await tracked;
    }
  }

  /**
   * `work()`, or undefined when it failed other than by a dependency being down (that is thrown on).
   * Synchronous when `work` is: in embedded mode correlation makes no promise (src/correlate/correlator.ts).
   */
  private guarded<T>(
    stage: string,
    work: () => T | Promise<T>,
    message = 'correlation failed; the alert goes out without it',
  ): T | undefined | Promise<T | undefined> {
    try {
      const result = work();
      return result instanceof Promise ? result.catch((err: unknown) => this.failed(stage, message, err)) : result;
    } catch (err) {
      return this.failed(stage, message, err);
    }
  }

  private failed(stage: string, message: string, err: unknown): undefined {
    if (err instanceof UnavailableError) throw err;
    this.metrics.pipelineErrors.inc({ stage });
    this.log.error({ err: (err as Error)?.message }, message);
    return undefined;
  }
}

let malformed = 0;

/** A malformed event off the bus (one that cannot even be keyed) is processed on its own, to be parked. */
function keyOf(event: SecurityEvent): string {
  try {
    return partitionKey(event);
  } catch {
    return `\0malformed:${malformed++}`;
  }
}
