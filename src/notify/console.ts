import type { Alert } from '../core/alert';
import type { Priority } from '../core/priority';
import type { Logger } from '../observability/logger';
import type { Notifier } from './port';

/** Writes alerts to the log, so `npm start` without Slack shows what Falconer would send. */
export class ConsoleNotifier implements Notifier {
  constructor(
    readonly name: string,
    readonly minPriority: Priority,
    private readonly log: Logger,
  ) {}

  async send(alert: Alert) {
    this.log.warn(
      {
        alert: {
          fingerprint: alert.fingerprint,
          rule: alert.rule,
          priority: alert.priority,
          cluster: alert.event.k8s.cluster,
          namespace: alert.event.k8s.namespace,
          pod: alert.event.k8s.pod,
          user: alert.event.actor?.user,
          count: alert.count,
          runbook: alert.runbookUrl,
        },
      },
      `ALERT ${alert.rule}: ${alert.summary}`,
    );
    return undefined;
  }
}
