import { Option } from 'commander';
import type { CommandRegistrar } from '../main';
import { loadConfig } from '../../config/load';
import { startFalconer } from '../../app';

export const registerServe: CommandRegistrar = (program) => {
  program
    .command('serve')
    .description('run the Falconer service (embedded when no Kafka and no Redis are configured)')
    .option('-c, --config <file>', 'YAML config file (default: $FALCONER_CONFIG)')
    .addOption(
      new Option(
        '--log-format <format>',
        'json lines, or short lines for a person (default: pretty on a terminal, else json)',
      ).choices(['auto', 'json', 'pretty']),
    )
    .action(async (opts: { config?: string; logFormat?: string }) => {
      // The flag wins over log.format and FALCONER_LOG_FORMAT, like any variable over the file.
      const env = opts.logFormat ? { ...process.env, FALCONER_LOG_FORMAT: opts.logFormat } : process.env;
      const config = loadConfig({ file: opts.config, env });
      const running = await startFalconer(config);
      await running.stopped;
    });
};
