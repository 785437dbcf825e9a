import type { Config } from '../config/schema';
import { ConfigError } from '../core/errors';
import type { Logger } from '../observability/logger';
import { ConsoleNotifier } from './console';
import type { Notifier } from './port';
import { SlackNotifier } from './slack';

/** One notifier per configured receiver; with none configured, the console, so alerts are visible. */
export function createNotifiers(config: Config, log: Logger): Notifier[] {
  if (config.receivers.length === 0) return [new ConsoleNotifier('console', 'debug', log)];
  return config.receivers.map((r) => {
    switch (r.type) {
      case 'slack':
        return new SlackNotifier(r);
      case 'console':
        return new ConsoleNotifier(r.name, r.minPriority, log);
      default:
        throw new ConfigError(`receiver ${r.name}: type ${r.type} is not available yet`);
    }
  });
}
