import type { Detection } from './core/alert';
import type { Detector } from './detect/port';
import type { Enricher } from './enrich/port';
import { partitionKey, type SecurityEvent } from './core/event';
import type { Metrics } from './observability/metrics';
import type { Logger } from './observability/logger';
import type { StateStore } from './store/port';
import type { AlertStage } from './alert/stage';

export interface PipelineOptions {
  /** How long an event id is remembered, so a retried or redelivered event is processed once. */
  seenTtlMs: number;
}

/**
 * What a bus consumer runs for each batch: detect → enrich → (correlate, as it lands) → alert.
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
    const failures = (await Promise.allSettled([...byKey.values()].map((list) => this.processInOrder(list)))).filter(
      (r): r is PromiseRejectedResult => r.status === 'rejected',
    );
    if (failures.length) throw failures[0]!.reason; // the bus delivers the batch again
  };

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
    for (const detection of detections) await this.alerts.process(detection, await this.enricher.enrich(detection));
    await this.store.set(seenKey, '1', this.options.seenTtlMs);
  }
}
