import type { Config } from '../config/schema';
import type { Logger } from '../observability/logger';
import { ConsoleNotifier } from './console';
import { KafkaNotifier } from './kafka-notifier';
import { PagerDutyNotifier } from './pagerduty';
import type { Notifier } from './port';
import { SlackNotifier } from './slack';
import { tlsOptions } from './http-post';
import { WebhookNotifier } from './webhook';

/** One notifier per configured receiver; with none configured, the console, so alerts are visible. */
export function createNotifiers(config: Config, log: Logger): Notifier[] {
  if (config.receivers.length === 0) return [new ConsoleNotifier('console', 'debug', log)];
  const externalUrl = config.alerting.externalUrl;
  return config.receivers.map((r) => {
    switch (r.type) {
      case 'slack':
        return new SlackNotifier({ ...r, silenceButton: Boolean(config.interactivity) });
      case 'console':
        return new ConsoleNotifier(r.name, r.minPriority, log);
      case 'webhook':
        return new WebhookNotifier({ ...r, externalUrl });
      case 'pagerduty':
        return new PagerDutyNotifier({ ...r, externalUrl });
      case 'kafka':
        return new KafkaNotifier({
          name: r.name,
          brokers: r.brokers,
          clientId: r.clientId,
          topic: r.topic,
          key: r.key,
          timeoutMs: r.timeoutSeconds * 1000,
          minPriority: r.minPriority,
          externalUrl,
          ...(r.tls ? { ssl: r.tls === true ? true : tlsOptions(r.tls) } : {}),
          ...(r.sasl ? { sasl: r.sasl } : {}),
        });
    }
  });
}
