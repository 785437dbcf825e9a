import type { RuleEngine, RuleSources } from './engine';

export interface ReloadLog {
  info(msg: string): void;
  error(msg: string): void;
}

/**
 * Rebuilds the rule set on SIGHUP. Events keep flowing through the old rule set while the new one
 * compiles; a broken folder is logged and the old set stays. Returns a function that stops listening.
 */
export function reloadRulesOnSighup(
  engine: RuleEngine,
  sources: RuleSources,
  log: ReloadLog,
  signals: Pick<NodeJS.Process, 'on' | 'off'> = process,
): () => void {
  const onHup = (): void => {
    try {
      engine.reload(sources);
      log.info(`rules reloaded: ${engine.ruleSet.size} rules`);
    } catch (err) {
      log.error(`rules not reloaded, keeping the running set: ${(err as Error).message}`);
    }
  };
  signals.on('SIGHUP', onHup);
  return () => signals.off('SIGHUP', onHup);
}
