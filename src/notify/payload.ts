import { createHash } from 'node:crypto';
import type { Alert } from '../core/alert';
import { severityOf } from '../alert/labels';

/**
 * Why a notification is sent, in Alertmanager's words (webhook v4 `notification_reason`), so
 * receivers that branch on it keep working.
 */
export type NotificationReason =
  'first notification' | 'new alerts added' | 'some alerts resolved' | 'all alerts resolved' | 'repeat interval elapsed';

/** What one receiver is told at once: a group of alerts (today one alert per group) and its state. */
export interface Notification {
  receiver: string;
  /** Stable across updates and the resolve of the same group. */
  groupKey: string;
  status: 'firing' | 'resolved';
  reason: NotificationReason;
  groupLabels: Record<string, string>;
  alerts: readonly Alert[];
  /** Alerts that resolved, by fingerprint, with when (ms). */
  resolvedAt?: Readonly<Record<string, number>>;
  /** Falconer's own URL, for links back to the alert. */
  externalUrl: string;
  /** Alerts of the group left out by its bound. */
  truncated?: number;
}

/** The notification of one alert alone: its group key is its fingerprint. */
export function singleAlert(
  receiver: string,
  alert: Alert,
  externalUrl: string,
  reason: NotificationReason = alert.count > 1 ? 'new alerts added' : 'first notification',
): Notification {
  return {
    receiver,
    groupKey: `fp:${alert.fingerprint}`,
    status: 'firing',
    reason,
    groupLabels: {},
    alerts: [alert],
    externalUrl,
  };
}

export function resolvedNotification(receiver: string, alert: Alert, externalUrl: string, at: number): Notification {
  if (alert.group) {
    const n = notificationOf(receiver, alert, externalUrl);
    const resolvedAt = Object.fromEntries(n.alerts.map((a) => [a.fingerprint, alert.group!.resolvedAt[a.fingerprint] ?? at]));
    return { ...n, status: 'resolved', reason: 'all alerts resolved', resolvedAt };
  }
  return {
    ...singleAlert(receiver, alert, externalUrl, 'all alerts resolved'),
    status: 'resolved',
    resolvedAt: { [alert.fingerprint]: at },
  };
}

/** The notification an alert stands for: a group's (routing tree) or the alert's own. */
export function notificationOf(receiver: string, alert: Alert, externalUrl: string): Notification {
  const g = alert.group;
  if (!g) return singleAlert(receiver, alert, externalUrl);
  return {
    receiver,
    groupKey: g.key,
    status: g.alerts.every((a) => g.resolvedAt[a.fingerprint] !== undefined) ? 'resolved' : 'firing',
    reason: g.reason,
    groupLabels: g.labels,
    alerts: g.alerts,
    resolvedAt: g.resolvedAt,
    truncated: g.truncated,
    externalUrl,
  };
}

export function alertUrl(externalUrl: string, alert: Alert): string {
  return externalUrl ? `${externalUrl.replace(/\/+$/, '')}/v1/alerts/${alert.fingerprint}` : '';
}

/** Labels every alert of the notification has with one value. */
function commonLabels(alerts: readonly Alert[]): Record<string, string> {
  const [first, ...rest] = alerts;
  if (!first) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(first.labels)) if (rest.every((a) => a.labels[k] === v)) out[k] = v;
  return out;
}

function annotations(alert: Alert): Record<string, string> {
  // As Falcosidekick's Alertmanager output: the rule is the summary, Falco's output the description.
  return { summary: alert.rule, description: alert.summary, runbook_url: alert.runbookUrl };
}

const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/** Alertmanager's webhook v4 body (docs: configuration.md#webhook_config), so AM webhook consumers take it. */
export function alertmanagerWebhook(n: Notification) {
  const alerts = n.alerts.map((a) => {
    const resolvedAt = n.resolvedAt?.[a.fingerprint];
    return {
      status: resolvedAt !== undefined ? 'resolved' : 'firing',
      labels: a.labels,
      annotations: annotations(a),
      startsAt: new Date(a.firstSeen).toISOString(),
      endsAt: resolvedAt !== undefined ? new Date(resolvedAt).toISOString() : GO_ZERO_TIME,
      generatorURL: alertUrl(n.externalUrl, a),
      fingerprint: a.fingerprint,
    };
  });
  const common = commonLabels(n.alerts);
  const commonAnnotations: Record<string, string> = {};
  if (n.alerts.length) {
    for (const [k, v] of Object.entries(annotations(n.alerts[0]!)))
      if (n.alerts.every((a) => annotations(a)[k] === v)) commonAnnotations[k] = v;
  }
  return {
    version: '4',
    groupKey: n.groupKey,
    truncatedAlerts: n.truncated ?? 0,
    status: n.status,
    receiver: n.receiver,
    groupLabels: n.groupLabels,
    commonLabels: common,
    commonAnnotations,
    externalURL: n.externalUrl,
    notification_reason: n.reason,
    alerts,
  };
}

/** The alert as Falconer's API shows it, without the raw event payload. */
export function nativeAlert(alert: Alert, externalUrl: string) {
  const { event, ...rest } = alert;
  const { raw: _raw, ...eventWithoutRaw } = event;
  return { ...rest, severity: severityOf(alert.priority), url: alertUrl(externalUrl, alert), event: eventWithoutRaw };
}

/** Falconer's native JSON: the group, and each alert with its enrichment (and correlation, as it lands). */
export function falconerPayload(n: Notification) {
  return {
    kind: 'falconer.notification/v1',
    groupKey: n.groupKey,
    status: n.status,
    reason: n.reason,
    receiver: n.receiver,
    groupLabels: n.groupLabels,
    commonLabels: commonLabels(n.alerts),
    counts: {
      alerts: n.alerts.length + (n.truncated ?? 0),
      firing: n.alerts.filter((a) => n.resolvedAt?.[a.fingerprint] === undefined).length,
      resolved: n.alerts.filter((a) => n.resolvedAt?.[a.fingerprint] !== undefined).length,
      occurrences: n.alerts.reduce((sum, a) => sum + a.count, 0),
    },
    alerts: n.alerts.map((a) => ({
      ...nativeAlert(a, n.externalUrl),
      status: n.resolvedAt?.[a.fingerprint] !== undefined ? 'resolved' : 'firing',
      ...(n.resolvedAt?.[a.fingerprint] !== undefined
        ? { resolvedAt: new Date(n.resolvedAt[a.fingerprint]!).toISOString() }
        : {}),
    })),
  };
}

/** A short, stable digest of a group key (PagerDuty's dedup_key, Kafka's group message key). */
export function groupKeyHash(groupKey: string): string {
  return createHash('sha256').update(groupKey).digest('hex');
}
