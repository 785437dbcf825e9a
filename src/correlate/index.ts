import type { Config } from '../config/schema';
import { BUILTIN_CHAINS_DIR, loadChains, type ChainDef } from './chains';
import { Correlator, type CorrelatorDeps } from './correlator';
import { IncidentTracker } from './incidents';

export { Correlator, type Correlation, type CorrelatorOptions } from './correlator';
export { IncidentTracker, type Incident } from './incidents';
export { BUILTIN_CHAINS_DIR, loadChains } from './chains';

/** The chain folders the config names: the built-in pack (unless turned off), then the user's. */
export function chainDirs(chains: { builtin: boolean; dirs: readonly string[] }): string[] {
  return [...(chains.builtin ? [BUILTIN_CHAINS_DIR] : []), ...chains.dirs];
}

/** The correlate stage the config asks for, or undefined when correlation is off. Bad chain files stop start-up. */
export function correlationFromConfig(
  config: Config,
  deps: Omit<CorrelatorDeps, 'incidents'>,
  chains: ChainDef[] = loadChains(chainDirs(config.correlation.chains)),
): { correlator: Correlator; incidents?: IncidentTracker } | undefined {
  const c = config.correlation;
  if (!c.enabled) return undefined;
  const incidents = c.incidents.enabled
    ? new IncidentTracker(deps.store, {
        windowMs: c.incidents.windowSeconds * 1000,
        maxAlerts: c.incidents.maxAlerts,
        recent: c.incidents.recent,
        chains,
        ...(deps.exclusiveStore ? { exclusiveStore: true } : {}),
      })
    : undefined;
  const correlator = new Correlator(
    { ...deps, ...(incidents ? { incidents } : {}) },
    {
      skewMs: c.skewMs,
      maxSessionMs: c.maxSessionSeconds * 1000,
      waitForAuditMs: c.waitForAuditMs,
      lateAuditMs: c.lateAuditSeconds * 1000,
      maxSessionsPerPod: c.maxSessionsPerPod,
      maxPendingAlerts: c.lateAuditAlerts,
      maxPods: c.maxPods,
    },
  );
  return { correlator, ...(incidents ? { incidents } : {}) };
}
