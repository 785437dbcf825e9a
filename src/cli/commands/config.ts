import type { CommandRegistrar } from '../main';
import { loadConfig } from '../../config/load';
import type { Config } from '../../config/schema';
import { ConfigError } from '../../core/errors';
import { compileRuleSources, ruleDirs } from '../../detect/engine';
import { readRuleSources } from '../../detect/rules/load';
import { formatProblem } from '../../detect/rules/types';
import { buildRoute, routeReceiverNames } from '../../alert/route';

/** Every problem in a config file and the rules it loads, one line each; empty when all is well. */
export function checkConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv,
): { config?: Config; problems: string[]; warnings: string[] } {
  let config: Config;
  try {
    config = loadConfig({ file, env });
  } catch (err) {
    const details = err instanceof ConfigError && Array.isArray(err.details) ? (err.details as string[]) : undefined;
    return { problems: details ?? [(err as Error).message], warnings: [] };
  }
  const problems: string[] = [];
  const warnings: string[] = [];
  try {
    const { problems: ruleProblems } = compileRuleSources(readRuleSources(ruleDirs(config.rules)));
    problems.push(...ruleProblems.map((p) => `rules: ${formatProblem(p)}`));
  } catch (err) {
    problems.push(`rules: ${(err as Error).message}`);
  }
  if (config.route) {
    const used = routeReceiverNames(buildRoute(config.route));
    for (const r of config.receivers)
      if (!used.has(r.name)) warnings.push(`receivers: ${r.name} is not used by any route (it will never be notified)`);
  }
  return { config, problems, warnings };
}

export const registerConfig: CommandRegistrar = (program, exit) => {
  const config = program.command('config').description('check a configuration');
  config
    .command('check')
    .description('validate the config file, its rules, routes and receivers; exit 1 naming each problem')
    .option('-c, --config <file>', 'YAML config file (default: $FALCONER_CONFIG)')
    .action((opts: { config?: string }) => {
      const { config: loaded, problems, warnings } = checkConfig(opts.config, process.env);
      for (const p of problems) process.stderr.write(`${p}\n`);
      for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
      if (problems.length || !loaded) return exit(1);
      const routes = loaded.route ? 'a routing tree' : 'no routing tree (every receiver by minimum priority)';
      process.stdout.write(`ok: ${loaded.receivers.length} receivers, ${routes}\n`);
      exit(0);
    });
};
