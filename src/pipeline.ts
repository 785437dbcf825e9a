import type { Detection, Enrichment } from './core/alert';
import type { Detector } from './detect/port';
import type { Enricher } from './enrich/port';
import { partitionKey, type SecurityEvent } from './core/event';
import type { Metrics } from './observability/metrics';
import type { Logger } from './observability/logger';
import type { StateStore } from './store/port';
import type { AlertCorrelation, AlertStage } from './alert/stage';
import type { Correlator } from './correlate/correlator';

export interface PipelineOptions {
  /** How long an event id is remembered, so a retried or redelivered event is processed once. */
  seenTtlMs: number;
}

/**
 * What a bus consumer runs for each batch: detect → enrich → correlate → alert.
 * An event whose id was already processed (audit webhook retries: same auditID and stage; Falco
 * retries: same uuid) is skipped. Errors in one event are counted and do not stop the batch.
 */
export class Pipeline {
  constructor(
    private readonly detector: Detector,
    private readonly enricher: Enricher,
    private readonly alerts: AlertStage,
    private readonly store: StateStore,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly options: PipelineOptions,
    private readonly correlator?: Correlator,
  ) {}

  /**
   * Events of one partition key (one pod) are processed in order; different keys run side by side, so
   * the state store's round trips (Redis in scale-out mode) overlap instead of adding up.
   */
  readonly handle = async (events: SecurityEvent[]): Promise<void> => {
    const byKey = new Map<string, SecurityEvent[]>();
    for (const event of events) {
      const key = partitionKey(event);
      const list = byKey.get(key);
      if (list) list.push(event);
      else byKey.set(key, [event]);
    }
    // Sessions first: an exec's audit event later in the batch still attributes a shell earlier in it.
    if (this.correlator) await this.observeSessions(events);
    const failures = (await Promise.allSettled([...byKey.values()].map((list) => this.processInOrder(list)))).filter(
      (r): r is PromiseRejectedResult => r.status === 'rejected',
    );
    if (failures.length) throw failures[0]!.reason; // the bus delivers the batch again
  };

  private async observeSessions(events: SecurityEvent[]): Promise<void> {
    for (const event of events) {
      try {
        await this.correlator!.observe(event);
      } catch (err) {
        this.metrics.pipelineErrors.inc({ stage: 'correlate' });
        this.log.error({ err: (err as Error).message, event: event.id }, 'session correlation failed');
      }
    }
  }

  private async processInOrder(events: SecurityEvent[]): Promise<void> {
    for (const event of events) await this.processOne(event);
  }

  private async processOne(event: SecurityEvent): Promise<void> {
    const seenKey = `seen:${event.source}:${event.k8s.cluster}:${event.id}`;
    if (await this.store.get(seenKey)) {
      this.metrics.eventsDuplicate.inc({ source: event.source });
      return;
    }
    this.enricher.observe(event);
    let detections: Detection[];
    try {
      detections = this.detector.detect(event);
    } catch (err) {
      this.metrics.pipelineErrors.inc({ stage: 'detect' });
      this.log.error({ err: (err as Error).message, event: event.id }, 'detection failed');
      detections = [];
    }
    for (const detection of detections) {
      const enrichment = await this.enricher.enrich(detection);
      const correlation = await this.correlate(detection, enrichment);
      const alert = await this.alerts.process(detection, enrichment, correlation);
      await this.correlator?.track(alert);
    }
    await this.store.set(seenKey, '1', this.options.seenTtlMs);
  }

  private async correlate(detection: Detection, enrichment: Enrichment): Promise<AlertCorrelation> {
    if (!this.correlator) return {};
    try {
      return await this.correlator.correlate(detection, enrichment);
    } catch (err) {
      this.metrics.pipelineErrors.inc({ stage: 'correlate' });
      this.log.error({ err: (err as Error).message, event: detection.event.id }, 'correlation failed');
      return {};
    }
  }
}
