import type { Clock } from '../core/clock';
import type { Enricher } from '../enrich/port';
import type { ClusterState } from '../enrich/cluster-state/state';
import { findingDetection } from '../findings/alerts';
import type { FindingChange } from '../findings/store';
import type { Finding } from '../findings/types';
import type { Logger } from '../observability/logger';
import type { AlertStage } from './stage';

/** New findings waiting for the alert stage; past this they are counted and dropped (a rescan storm). */
const MAX_PENDING = 10_000;
/** Resolutions remembered for the API. */
const MAX_RESOLVED = 1_000;

export interface ResolvedFinding {
  cluster: string;
  id: string;
  at: number;
}

/**
 * Turns the findings news of every cluster state into alerts, one at a time through the AlertStage
 * (enriched like any alert about the same pod). There is no alert-resolution path to hand a finding
 * that went away to, so resolutions are recorded (and shown by GET /v1/findings) and logged.
 */
export class FindingAlerts {
  private readonly pending: { cluster: string; finding: Finding }[] = [];
  private readonly resolvedList: ResolvedFinding[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];
  dropped = 0;
  raised = 0;

  constructor(
    private readonly alerts: Pick<AlertStage, 'process'>,
    private readonly enricher: Enricher,
    private readonly clock: Clock,
    private readonly log: Pick<Logger, 'warn' | 'info'>,
  ) {}

  readonly listener = (change: FindingChange, state: ClusterState): void => {
    for (const finding of change.news) {
      if (this.pending.length >= MAX_PENDING) this.dropped++;
      else this.pending.push({ cluster: state.cluster, finding });
    }
    this.dropped += change.newsDropped;
    for (const id of change.resolved) {
      this.resolvedList.push({ cluster: state.cluster, id, at: this.clock.now() });
      if (this.resolvedList.length > MAX_RESOLVED) this.resolvedList.shift();
    }
    if (change.resolved.length > 0) this.log.info({ cluster: state.cluster, count: change.resolved.length }, 'findings resolved');
    if (!this.running && this.pending.length > 0) void this.drain();
  };

  /** The latest resolutions, newest last. */
  resolved(): readonly ResolvedFinding[] {
    return this.resolvedList;
  }

  /** Resolves when every queued finding has been through the alert stage. */
  idle(): Promise<void> {
    if (!this.running && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      for (let next = this.pending.shift(); next; next = this.pending.shift()) {
        const detection = findingDetection(next.finding, next.cluster, this.clock.now());
        try {
          const enrichment = await this.enricher.enrich(detection);
          await this.alerts.process(detection, enrichment);
          this.raised++;
        } catch (err) {
          // One finding that cannot alert must not hold up the others.
          this.log.warn({ err: (err as Error)?.message ?? String(err), check: next.finding.check }, 'finding alert failed');
        }
      }
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }
}
