import type { Config } from '../config/schema';
import type { Clock } from '../core/clock';
import type { Logger } from '../observability/logger';
import { ClusterStates, loadSnapshot, watchCluster, type ClusterWatch } from './cluster-state';
import type { HealthCheck } from '../observability/health';
import { createEnricher } from './enricher';
import { noEnrichment, type Enricher } from './port';

export { createEnricher, type EnricherOptions } from './enricher';
export { noEnrichment, type Enricher } from './port';

/** Longest stretch of enrichment work before I/O is let in (see EnricherOptions.yieldEveryMs). */
const ENRICH_SLICE_MS = 10;

export interface EnrichmentRuntime {
  enricher: Enricher;
  /** The cluster states enrichment reads (absent when enrichment is off): what posture reports on. */
  states?: ClusterStates;
  /** False while a live source's first list is still filling the state. */
  ready(): boolean;
  /** Starts the live source if configured; its readiness joins /readyz. */
  startLive(log: Pick<Logger, 'warn'>): Promise<{ health?: HealthCheck; stop(): Promise<void> }>;
}

/**
 * The enrichment the service runs with: the configured snapshot files loaded (in order, later objects
 * winning) into the state of the configured cluster — a snapshot that cannot be read stops start-up —
 * and, when configured, a live list/watch source keeping that state current.
 */
export function enrichmentFromConfig(config: Config, clock: Clock, log?: Pick<Logger, 'info'>): EnrichmentRuntime {
  if (!config.enrichment.enabled) {
    return { enricher: noEnrichment, ready: () => true, startLive: async () => ({ stop: async () => undefined }) };
  }
  const states = new ClusterStates();
  for (const file of config.enrichment.snapshots) {
    const { loaded, skipped } = loadSnapshot(file, states.get(config.cluster));
    log?.info({ file, cluster: config.cluster, loaded, skipped }, 'cluster snapshot loaded');
  }
  const enricher = createEnricher({
    states,
    clock,
    waitForStateMs: config.enrichment.waitForStateMs,
    yieldEveryMs: ENRICH_SLICE_MS,
  });
  const live = config.enrichment.live;
  let synced: () => boolean = () => !live;
  return {
    enricher,
    states,
    ready: () => synced(),
    async startLive(warnLog) {
      if (!live) return { stop: async () => undefined };
      const credentials =
        live.source === 'in-cluster'
          ? ({ from: 'in-cluster' } as const)
          : live.source === 'kubeconfig'
            ? ({ from: 'file', path: live.kubeconfig!, context: live.context } as const)
            : ({ from: 'default', context: live.context } as const);
      const watch: ClusterWatch = await watchCluster(states.get(config.cluster), {
        credentials,
        onError: (kind, err) =>
          warnLog.warn({ kind, err: (err as Error)?.message ?? String(err) }, 'cluster watch error; retrying'),
      });
      synced = () => watch.isSynced();
      return {
        health: {
          name: 'cluster-state',
          check: () => (watch.isSynced() ? { ok: true } : { ok: false, detail: 'initial list of the live cluster not finished' }),
        },
        stop: () => watch.stop(),
      };
    },
  };
}
