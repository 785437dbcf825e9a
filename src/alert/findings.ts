import type { Clock } from '../core/clock';
import type { Enricher } from '../enrich/port';
import type { ClusterState } from '../enrich/cluster-state/state';
import { findingDetection } from '../findings/alerts';
import type { FindingChange } from '../findings/store';
import type { Finding } from '../findings/types';
import type { Logger } from '../observability/logger';
import type { RecentAlerts } from './recent';
import type { Announcer } from './resolve';
import type { AlertStage } from './stage';
import { OldestFirst } from '../core/oldest';

/** How a finding that went away resolves its alert: marked in the recent alerts, and receivers told. */
export interface FindingResolution {
  recent: Pick<RecentAlerts, 'get' | 'changed'>;
  /** Absent with a routing tree: the groups' flushes tell receivers about resolved alerts. */
  announcer?: Pick<Announcer, 'resolve'>;
  onResolved?: () => void;
}

/** Alerts raised per finding, remembered to resolve them (bounded; the oldest are forgotten). */
const MAX_RAISED = 50_000;

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
 * (enriched like any alert about the same pod). A finding that goes away resolves its alert (when one
 * was raised for it here) and is recorded for GET /v1/findings.
 */
export class FindingAlerts {
  private readonly pending: { cluster: string; finding: Finding; lasting: boolean }[] = [];
  private readonly resolvedList: ResolvedFinding[] = [];
  private running = false;
  private readonly raisedBy = new Map<string, string>();
  private readonly oldestRaised = new OldestFirst(this.raisedBy);
  /** Fingerprints of alerts whose finding still fails in a report: they stay firing until it goes away. */
  private readonly firing = new Set<string>();
  private idleWaiters: (() => void)[] = [];
  dropped = 0;
  raised = 0;

  constructor(
    private readonly alerts: Pick<AlertStage, 'process'>,
    private readonly enricher: Enricher,
    private readonly clock: Clock,
    private readonly log: Pick<Logger, 'warn' | 'info'>,
    private readonly resolution?: FindingResolution,
  ) {}

  readonly listener = (change: FindingChange, state: ClusterState): void => {
    for (const finding of change.news) {
      if (this.pending.length >= MAX_PENDING) this.dropped++;
      else this.pending.push({ cluster: state.cluster, finding, lasting: !change.occurrence });
    }
    this.dropped += change.newsDropped;
    for (const id of change.resolved) {
      this.resolvedList.push({ cluster: state.cluster, id, at: this.clock.now() });
      if (this.resolvedList.length > MAX_RESOLVED) this.resolvedList.shift();
      this.resolveAlert(`${state.cluster}\u0000${id}`);
    }
    for (const id of change.released ?? []) {
      const fingerprint = this.raisedBy.get(`${state.cluster}\u0000${id}`);
      if (fingerprint) this.firing.delete(fingerprint);
    }
    if (change.resolved.length > 0) this.log.info({ cluster: state.cluster, count: change.resolved.length }, 'findings resolved');
    if (!this.running && this.pending.length > 0) void this.drain();
  };

  /**
   * Whether an alert is held firing because its finding still fails (the quiet-period resolution of the
   * reconciler and the groups skips it). Occurrences (Events) and findings of a deleted report are not held.
   */
  holds(fingerprint: string): boolean {
    return this.firing.has(fingerprint);
  }

  /** The latest resolutions, newest last. */
  resolved(): readonly ResolvedFinding[] {
    return this.resolvedList;
  }

  /** Resolves when every queued finding has been through the alert stage. */
  idle(): Promise<void> {
    if (!this.running && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private resolveAlert(key: string): void {
    const fingerprint = this.raisedBy.get(key);
    if (!fingerprint) return;
    this.firing.delete(fingerprint);
    if (!this.resolution) return;
    this.raisedBy.delete(key);
    const alert = this.resolution.recent.get(fingerprint);
    if (!alert || alert.resolvedAt !== undefined) return;
    const at = this.clock.now();
    alert.resolvedAt = at;
    this.resolution.recent.changed(alert);
    this.resolution.onResolved?.();
    this.resolution.announcer?.resolve(alert, at).catch((err: unknown) => {
      this.log.warn({ err: (err as Error)?.message ?? String(err) }, 'finding resolution not handed off');
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      for (let next = this.pending.shift(); next; next = this.pending.shift()) {
        const detection = findingDetection(next.finding, next.cluster, this.clock.now());
        try {
          const enrichment = await this.enricher.enrich(detection);
          const alert = await this.alerts.process(detection, enrichment);
          this.raised++;
          const key = `${next.cluster}\u0000${next.finding.id}`;
          this.raisedBy.delete(key);
          this.raisedBy.set(key, alert.fingerprint);
          if (next.lasting) this.firing.add(alert.fingerprint);
          else this.firing.delete(alert.fingerprint);
          if (this.raisedBy.size > MAX_RAISED) {
            const dropped = this.oldestRaised.evict();
            if (dropped) this.firing.delete(dropped[1]);
          }
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
