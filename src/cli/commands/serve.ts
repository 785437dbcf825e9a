import type { CommandRegistrar } from '../main';
import { loadConfig } from '../../config/load';
import { startFalconer } from '../../app';

export const registerServe: CommandRegistrar = (program) => {
  program
    .command('serve')
    .description('run the Falconer service (embedded when no Kafka and no Redis are configured)')
    .option('-c, --config <file>', 'YAML config file (default: $FALCONER_CONFIG)')
    .action(async (opts: { config?: string }) => {
      const config = loadConfig({ file: opts.config, env: process.env });
      const running = await startFalconer(config);
      await running.stopped;
    });
};
