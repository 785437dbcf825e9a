import type { Alert, AlertIncident } from '../core/alert';
import type { Clock } from '../core/clock';
import { alertView } from '../alert/view';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { ConsoleHistory, RecordResult } from './history/port';
import { storedRowOf } from './row';
import { SessionStore, type SessionOptions } from './session';
import { StreamHub, type StreamOptions } from './stream';

export interface ConsoleOptions {
  /** Raw events longer than this (as JSON) are kept cut, marked as truncated. */
  evidenceMaxBytes: number;
  sessions: SessionOptions;
  stream: Omit<StreamOptions, 'pingMs'> & { pingMs?: number };
  /** Set `Secure` on the session cookie (the server speaks TLS). */
  secureCookies: boolean;
  uiDir: string;
}

/** Writes to a remote history waiting at once; beyond it changes are dropped (and counted), never queued without bound. */
const MAX_PENDING_WRITES = 1000;

/**
 * The console's backend state: the alert history (fed from the recent alerts, so every new,
 * updated, resolved or muted alert lands there), the sign-in sessions and the live stream.
 */
export class ConsoleService {
  readonly sessions: SessionStore;
  readonly hub: StreamHub;
  private pending = 0;

  constructor(
    readonly history: ConsoleHistory,
    clock: Clock,
    readonly options: ConsoleOptions,
    private readonly metrics: Metrics,
    private readonly log: Pick<Logger, 'warn'>,
  ) {
    this.sessions = new SessionStore(clock, options.sessions);
    this.hub = new StreamHub(
      clock,
      { pingMs: 15_000, ...options.stream },
      {
        subscribers: (n) => metrics.consoleStreamSubscribers.set(n),
        dropped: (reason) => metrics.consoleStreamDropped.inc({ reason }),
      },
    );
  }

  /** An alert was stored or changed: record it and tell the open pages. Never throws. */
  record(alert: Alert, publish = true): Promise<void> {
    if (this.pending >= MAX_PENDING_WRITES) {
      this.metrics.consoleHistoryDropped.inc({ reason: 'backlog' });
      return Promise.resolve();
    }
    let stored;
    let write: Promise<RecordResult>;
    try {
      stored = storedRowOf(alert);
      write = this.history.record({ stored, detail: JSON.stringify(alertView(alert)), evidence: this.evidence(alert) });
    } catch (err) {
      return Promise.resolve(this.failed(err));
    }
    this.pending++;
    return write.then(
      (result) => {
        this.pending--;
        this.observe(result);
        if (publish) this.hub.publishAlert(stored);
      },
      (err: unknown) => {
        this.pending--;
        this.failed(err);
      },
    );
  }

  /** Restores the history from alerts kept elsewhere (the data dir's recent alerts), oldest first. */
  async seed(alerts: Iterable<Alert>): Promise<void> {
    for (const alert of alerts) await this.record(alert, false);
  }

  /** Sessions were created or ended (the gauge). */
  sessionsChanged(): void {
    this.metrics.consoleSessions.set(this.sessions.size);
  }

  incidentChanged(incident: AlertIncident): void {
    this.hub.publishIncident({ id: incident.id, severity: incident.severity, chain: incident.chain, alerts: incident.alerts });
  }

  close(): void {
    this.hub.close();
  }

  private evidence(alert: Alert): { id: string; json: string } {
    const json = JSON.stringify(alert.event.raw);
    const max = this.options.evidenceMaxBytes;
    if (json.length <= max) return { id: alert.event.id, json };
    return { id: alert.event.id, json: JSON.stringify({ truncated: true, eventId: alert.event.id, json: json.slice(0, max) }) };
  }

  private observe(result: RecordResult): void {
    const m = this.metrics;
    m.consoleHistoryAlerts.set(result.count);
    m.consoleHistoryBytes.set(result.bytes);
    for (const reason of ['count', 'bytes', 'age'] as const)
      if (result.evicted[reason]) m.consoleHistoryEvicted.inc({ reason }, result.evicted[reason]);
  }

  private failed(err: unknown): void {
    this.metrics.consoleHistoryDropped.inc({ reason: 'error' });
    this.log.warn({ err: (err as Error)?.message ?? String(err) }, 'console history write failed');
  }
}
