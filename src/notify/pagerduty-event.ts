import type { Priority } from '../core/priority';
import { alertUrl, falconerPayload, groupKeyHash, type Notification } from './payload';

// Events API v2 limits (FACTS-2.md §2).
export const SUMMARY_MAX = 1024;
export const PAYLOAD_MAX_BYTES = 512 * 1024;

export type PagerDutySeverity = 'critical' | 'error' | 'warning' | 'info';

export function pagerdutySeverity(p: Priority): PagerDutySeverity {
  switch (p) {
    case 'emergency':
    case 'alert':
    case 'critical':
      return 'critical';
    case 'error':
      return 'error';
    case 'warning':
      return 'warning';
    default:
      return 'info';
  }
}

/** At most `max` code points (not UTF-16 units, so a surrogate pair is never split), with an ellipsis when cut. */
export function truncateCodePoints(text: string, max: number): string {
  const points = [...text];
  return points.length <= max ? text : points.slice(0, max - 1).join('') + '…';
}

/** The dedup_key of a group: the same for its trigger, every update, and its resolve. */
export function dedupKey(n: Notification): string {
  return `falconer-${groupKeyHash(n.groupKey).slice(0, 48)}`;
}

/**
 * One Events API v2 event for a notification: `trigger` while any alert fires (PagerDuty folds
 * repeats with one dedup_key into one incident), `resolve` once all have resolved.
 */
export function pagerdutyEvent(n: Notification, routingKey: string) {
  if (n.status === 'resolved') return { routing_key: routingKey, event_action: 'resolve' as const, dedup_key: dedupKey(n) };
  const lead = [...n.alerts].sort((a, b) => b.lastSeen - a.lastSeen)[0]!;
  const e = lead.event.k8s;
  const where = [e.cluster, e.namespace, e.pod].filter(Boolean).join('/');
  const others = n.alerts.length > 1 ? ` (+${n.alerts.length - 1} more alerts)` : '';
  const summary = truncateCodePoints(`[${lead.priority}] ${lead.rule}: ${lead.summary}${others}`, SUMMARY_MAX);
  const worst = n.alerts.reduce(
    (w, a) => (rank(pagerdutySeverity(a.priority)) > rank(w) ? pagerdutySeverity(a.priority) : w),
    'info' as PagerDutySeverity,
  );
  const links = [
    ...(lead.runbookUrl ? [{ href: lead.runbookUrl, text: 'Runbook' }] : []),
    ...(alertUrl(n.externalUrl, lead) ? [{ href: alertUrl(n.externalUrl, lead), text: 'Falconer alert' }] : []),
  ];
  const event = {
    routing_key: routingKey,
    event_action: 'trigger' as const,
    dedup_key: dedupKey(n),
    payload: {
      summary,
      source: where || e.cluster,
      severity: worst,
      timestamp: new Date(lead.lastSeen).toISOString(),
      ...(e.container ? { component: e.container } : {}),
      ...(e.namespace ? { group: e.namespace } : {}),
      class: lead.rule,
      custom_details: falconerPayload(n) as object,
    },
    links,
    client: 'Falconer',
    ...(n.externalUrl ? { client_url: n.externalUrl } : {}),
  };
  return fitPayload(event);
}

function rank(s: PagerDutySeverity): number {
  return ['info', 'warning', 'error', 'critical'].indexOf(s);
}

type TriggerEvent = {
  payload: { custom_details: object };
};

/**
 * Keeps the event within PagerDuty's 512 KB: first the alerts' events and enrichment give way to their
 * labels and counts, then the details go altogether (with a note saying so).
 */
function fitPayload<T extends TriggerEvent>(event: T): T {
  if (size(event) <= PAYLOAD_MAX_BYTES) return event;
  const details = event.payload.custom_details as ReturnType<typeof falconerPayload>;
  const slim = {
    ...details,
    alerts: details.alerts.map((a) => ({
      fingerprint: a.fingerprint,
      rule: a.rule,
      priority: a.priority,
      labels: a.labels,
      count: a.count,
      url: a.url,
      status: a.status,
    })),
    truncated: 'event and enrichment details dropped to fit PagerDuty’s 512 KB limit; see the Falconer alert',
  };
  const slimmer = { ...event, payload: { ...event.payload, custom_details: slim } };
  if (size(slimmer) <= PAYLOAD_MAX_BYTES) return slimmer;
  return {
    ...event,
    payload: { ...event.payload, custom_details: { truncated: 'details over PagerDuty’s 512 KB limit; see the Falconer alert' } },
  };
}

function size(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}
