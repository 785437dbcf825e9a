import type { Config } from '../config/schema';
import type { Clock } from '../core/clock';
import type { Logger } from '../observability/logger';
import { ClusterStates, loadSnapshot } from './cluster-state';
import { createEnricher } from './enricher';
import { noEnrichment, type Enricher } from './port';

export { createEnricher, type EnricherOptions } from './enricher';
export { noEnrichment, type Enricher } from './port';

/**
 * The enricher the service runs with: the configured snapshot files loaded (in order, later objects
 * winning) into the state of the configured cluster. A snapshot that cannot be read stops start-up.
 */
export function enricherFromConfig(config: Config, clock: Clock, log?: Pick<Logger, 'info'>): Enricher {
  if (!config.enrichment.enabled) return noEnrichment;
  const states = new ClusterStates();
  for (const file of config.enrichment.snapshots) {
    const { loaded, skipped } = loadSnapshot(file, states.get(config.cluster));
    log?.info({ file, cluster: config.cluster, loaded, skipped }, 'cluster snapshot loaded');
  }
  return createEnricher({ states, clock, waitForStateMs: config.enrichment.waitForStateMs });
}
