import { lacksClusterState, type Alert } from '../core/alert';
import type { Priority } from '../core/priority';
import { terminalSafe, type LogFormat, type Logger } from '../observability/logger';
import type { DeliveryRef, Notifier } from './port';

export interface ConsoleOptions {
  /** `pretty`: one short line per alert for a person at a terminal; `json`: a log line for collectors. */
  format?: LogFormat;
  /** Where pretty lines go (standard output). */
  write?: (text: string) => void;
}

const NO_STATE_NOTICE =
  'no cluster state (see docs/cluster-state.md): alerts carry no subject permissions, pod posture or network exposure';

/** Shows alerts on standard output, so `npm start` without Slack shows what Falconer would send. */
export class ConsoleNotifier implements Notifier {
  private readonly format: LogFormat;
  private readonly write: (text: string) => void;
  private noStateNoticeGiven = false;

  constructor(
    readonly name: string,
    readonly minPriority: Priority,
    private readonly log: Logger,
    options: ConsoleOptions = {},
  ) {
    this.format = options.format ?? 'json';
    this.write = options.write ?? ((text) => void process.stdout.write(text));
  }

  async send(alert: Alert): Promise<DeliveryRef> {
    this.noticeMissingState(alert);
    this.show(alert, false);
    return { console: this.name };
  }

  /** A later count of an alert already shown (at most every few seconds per alert, see the dispatcher). */
  async update(alert: Alert): Promise<void> {
    this.show(alert, true);
  }

  private show(alert: Alert, updated: boolean): void {
    if (this.format === 'pretty') {
      this.write(`${alertLine(alert, updated)}\n`);
      return;
    }
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
      `${updated ? 'ALERT (again)' : 'ALERT'} ${alert.rule}: ${alert.summary}`,
    );
  }

  /** Without cluster state every alert would say so three times (subject, pod, network): say it once. */
  private noticeMissingState(alert: Alert): void {
    if (this.noStateNoticeGiven || !lacksClusterState(alert.enrichment)) return;
    this.noStateNoticeGiven = true;
    this.log.info({ cluster: alert.event.k8s.cluster }, NO_STATE_NOTICE);
  }
}

/**
 * One alert as a short line: time, priority, rule, where, who, count.
 * `12:51:00  NOTICE   Terminal shell in container  default/shop/web-7c9f8d-abcde  by root  ×3`
 */
export function alertLine(alert: Alert, updated = false): string {
  const time = new Date(alert.lastSeen).toISOString().slice(11, 19);
  const count = alert.count > 1 || updated ? `  ×${alert.count}` : '';
  const who = actorOf(alert);
  return terminalSafe(
    `${time}  ${alert.priority.toUpperCase().padEnd(13)}  ${alert.rule}  ${whereOf(alert)}${who ? `  by ${who}` : ''}${count}`,
  );
}

/** cluster/namespace/pod; for an audit event without a pod the object it touched; for a host event the host. */
function whereOf(alert: Alert): string {
  const { cluster, namespace, pod, container } = alert.event.k8s;
  if (pod) return `${cluster}/${namespace ?? '?'}/${pod}${container ? ` (${container})` : ''}`;
  const ref = alert.event.audit?.objectRef;
  if (ref?.resource) {
    const object = `${ref.resource}${ref.name ? `/${ref.name}` : ''}${ref.subresource ? `/${ref.subresource}` : ''}`;
    const ns = ref.namespace ?? namespace;
    return `${cluster}${ns ? `/${ns}` : ''} ${object}`;
  }
  const host = alert.event.falco?.hostname;
  return host ? `${cluster} host ${host}` : namespace ? `${cluster}/${namespace}` : cluster;
}

function actorOf(alert: Alert): string | undefined {
  const actor = alert.event.actor;
  if (actor) return actor.impersonatedUser ? `${actor.user} as ${actor.impersonatedUser}` : actor.user;
  return alert.event.process?.user;
}
