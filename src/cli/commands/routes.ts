import type { CommandRegistrar } from '../main';
import { loadConfig } from '../../config/load';
import type { Config } from '../../config/schema';
import { buildRoute, matchingTree, routeReceivers } from '../../alert/route';
import { parseMatcher } from '../../alert/matcher';
import { atLeast, parsePriority } from '../../core/priority';

/** The receivers an alert with these labels reaches, in tree order; without `route:`, by minimum priority. */
export function receiversFor(config: Config, labels: Record<string, string>): { receivers: string[]; tree?: string } {
  if (config.route) {
    const root = buildRoute(config.route);
    return { receivers: routeReceivers(root, labels), tree: matchingTree(root, labels) };
  }
  const priority = parsePriority(labels.priority) ?? 'emergency';
  const receivers = config.receivers.length ? config.receivers : [{ name: 'console', minPriority: 'debug' as const }];
  return { receivers: receivers.filter((r) => atLeast(priority, r.minPriority)).map((r) => r.name) };
}

export const registerRoutes: CommandRegistrar = (program, exit) => {
  const routes = program.command('routes').description('inspect the routing tree');
  routes
    .command('test')
    .description('print the receivers an alert with these labels reaches, comma-separated in tree order (as amtool)')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .option('--tree', 'print the matching routes as a tree')
    .option('--verify.receivers <list>', 'exit 1 unless the receivers are exactly these (comma-separated)')
    .argument('[labels...]', 'label=value pairs')
    .action((pairs: string[], opts: { config: string; tree?: boolean; 'verify.receivers'?: string }) => {
      const labels: Record<string, string> = {};
      for (const pair of pairs) {
        let m;
        try {
          m = parseMatcher(pair);
        } catch (err) {
          process.stderr.write(`Failed to parse labels: ${(err as Error).message}\n`);
          return exit(2);
        }
        if (m.type !== '=') {
          process.stderr.write('Labels must be specified as key=value pairs\n');
          return exit(2);
        }
        labels[m.name] = m.value;
      }
      let config: Config;
      try {
        config = loadConfig({ file: opts.config, env: process.env });
      } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`);
        return exit(2);
      }
      const { receivers, tree } = receiversFor(config, labels);
      if (opts.tree && tree) process.stdout.write(`Matching routes:\n${tree}\n\n`);
      const slug = receivers.join(',');
      process.stdout.write(`${slug}\n`);
      const expected = opts['verify.receivers'];
      if (expected !== undefined && expected !== slug) {
        process.stdout.write('WARNING: Expected receivers did not match resolved receivers.\n');
        return exit(1);
      }
      exit(0);
    });
};
