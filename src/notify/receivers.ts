import type { Config } from '../config/schema';
import type { LogFormat, Logger } from '../observability/logger';
import { ConsoleNotifier } from './console';
import type { Notifier } from './port';
import { SlackNotifier } from './slack';

/** One notifier per configured receiver; with none configured, the console, so alerts are visible. */
export function createNotifiers(config: Config, log: Logger, format: LogFormat = 'json'): Notifier[] {
  if (config.receivers.length === 0) return [new ConsoleNotifier('console', 'debug', log, { format })];
  return config.receivers.map((r) => {
    switch (r.type) {
      case 'slack':
        return new SlackNotifier(r);
      case 'console':
        return new ConsoleNotifier(r.name, r.minPriority, log, { format });
    }
  });
}
