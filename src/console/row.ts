import type { Alert } from '../core/alert';
import type { Priority } from '../core/priority';
import type { EventSource } from '../core/event';

export type AlertStatus = 'firing' | 'resolved' | 'silenced';

/** One line of the console's alert list (docs/console.md#alert-rows). */
export interface AlertRow {
  fingerprint: string;
  priority: Priority;
  rule: string;
  source: EventSource;
  cluster: string;
  namespace: string;
  pod: string;
  container: string;
  /** The attributed user (runtime), else the event's subject (audit user, process user). */
  user: string;
  summary: string;
  count: number;
  /** ISO-8601. */
  firstSeen: string;
  lastSeen: string;
  tags: string[];
  incidentId: string | null;
  status: AlertStatus;
}

/**
 * What the history keeps per alert: the row, the labels a silence preview matches on, and the
 * process command for free-text search. `lastSeenMs` orders the history.
 */
export interface StoredRow {
  row: AlertRow;
  labels: Record<string, string>;
  command: string;
  lastSeenMs: number;
  firstSeenMs: number;
}

export function statusOf(alert: Pick<Alert, 'resolvedAt' | 'silencedBy' | 'inhibitedBy'>): AlertStatus {
  if (alert.resolvedAt !== undefined) return 'resolved';
  return alert.silencedBy?.length || alert.inhibitedBy?.length ? 'silenced' : 'firing';
}

export function storedRowOf(alert: Alert): StoredRow {
  const k = alert.event.k8s;
  const command = alert.attribution?.command ?? alert.event.process?.cmdline ?? alert.event.audit?.exec?.command.join(' ') ?? '';
  return {
    row: {
      fingerprint: alert.fingerprint,
      priority: alert.priority,
      rule: alert.rule,
      source: alert.source,
      cluster: k.cluster,
      namespace: k.namespace ?? alert.event.audit?.objectRef?.namespace ?? '',
      pod: k.pod ?? '',
      container: k.container ?? '',
      user: alert.attribution?.user ?? alert.event.actor?.user ?? alert.event.process?.user ?? '',
      summary: alert.summary,
      count: alert.count,
      firstSeen: new Date(alert.firstSeen).toISOString(),
      lastSeen: new Date(alert.lastSeen).toISOString(),
      tags: alert.tags,
      incidentId: alert.incident?.id ?? null,
      status: statusOf(alert),
    },
    labels: alert.labels,
    command,
    lastSeenMs: alert.lastSeen,
    firstSeenMs: alert.firstSeen,
  };
}
