import type { Alert, AlertIncident } from '../core/alert';
import type { Clock } from '../core/clock';
import type { SecurityEvent } from '../core/event';
import { alertView } from '../alert/view';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { ConsoleHistory, HistoryRecord, RecordResult } from './history/port';
import { storedRowOf, type StoredRow } from './row';
import { SessionStore, type SessionOptions } from './session';
import { StreamHub, type StreamOptions } from './stream';

export interface ConsoleOptions {
  /** Raw events longer than this (as JSON) are kept cut, marked as truncated. */
  evidenceMaxBytes: number;
  /** Raw events kept per alert (the history keeps at most as many). */
  evidencePerAlert: number;
  sessions: SessionOptions;
  stream: Omit<StreamOptions, 'pingMs'> & { pingMs?: number };
  /** Set `Secure` on the session cookie (the server speaks TLS). */
  secureCookies: boolean;
  uiDir: string;
}

/** Alerts waiting for the next write; beyond it changes are dropped (and counted), never queued without bound. */
const MAX_QUEUED = 10_000;
/** Writes to a remote history in flight at once; the queue waits for them. */
const MAX_IN_FLIGHT = 256;

interface Queued {
  alert: Alert;
  /** Occurrences since the last write, newest last (bounded by evidencePerAlert). */
  events: SecurityEvent[];
}

/**
 * The console's backend state: the alert history, the sign-in sessions and the live stream. The
 * history hears every alert the recent alerts store or change in place (new, updated, resolved,
 * mute lifted). The pipeline only marks the alert as changed: the JSON and the write happen once
 * per alert per turn of the event loop (setImmediate), so a noisy alert costs one write however many
 * events it folded, and nothing of it runs in the pipeline's own call.
 */
export class ConsoleService {
  readonly sessions: SessionStore;
  readonly hub: StreamHub;
  private readonly queued = new Map<string, Queued>();
  private scheduled = false;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

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

  /** An alert was stored or changed: it is written (and the open pages told) shortly. Never throws. */
  record(alert: Alert): void {
    let q = this.queued.get(alert.fingerprint);
    if (!q) {
      if (this.queued.size >= MAX_QUEUED) {
        this.metrics.consoleHistoryDropped.inc({ reason: 'backlog' });
        return;
      }
      q = { alert, events: [] };
      this.queued.set(alert.fingerprint, q);
    }
    q.alert = alert;
    if (this.options.evidencePerAlert > 0 && q.events.at(-1)?.id !== alert.event.id) {
      q.events.push(alert.event);
      if (q.events.length > this.options.evidencePerAlert) q.events.shift();
    }
    this.schedule();
  }

  /** Restores the history from alerts kept elsewhere (the data dir's recent alerts), oldest first, telling no page. */
  async seed(alerts: Iterable<Alert>): Promise<void> {
    for (const alert of alerts) {
      const prepared = this.prepare({ alert, events: [alert.event] });
      if (prepared)
        await this.history.record(prepared.record).then(
          (r) => this.observe(r),
          (err: unknown) => this.failed(err),
        );
    }
  }

  /** Resolves once everything recorded so far is written. */
  idle(): Promise<void> {
    if (!this.scheduled && this.queued.size === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
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

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    for (const [fp, q] of this.queued) {
      if (this.inFlight >= MAX_IN_FLIGHT) break; // the rest waits for a write to finish
      this.queued.delete(fp);
      const prepared = this.prepare(q);
      if (!prepared) continue;
      this.inFlight++;
      this.history.record(prepared.record).then(
        (result) => {
          this.observe(result);
          this.hub.publishAlert(prepared.stored);
          this.settled();
        },
        (err: unknown) => {
          this.failed(err);
          this.settled();
        },
      );
    }
    this.wakeIfIdle();
  }

  private settled(): void {
    this.inFlight--;
    if (this.queued.size) this.schedule();
    this.wakeIfIdle();
  }

  private wakeIfIdle(): void {
    if (this.scheduled || this.queued.size || this.inFlight) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  private prepare({ alert, events }: Queued): { record: HistoryRecord; stored: StoredRow } | undefined {
    try {
      const stored = storedRowOf(alert);
      return {
        stored,
        record: { stored, detail: JSON.stringify(alertView(alert)), evidence: events.map((e) => this.evidence(e)) },
      };
    } catch (err) {
      this.failed(err);
      return undefined;
    }
  }

  private evidence(event: SecurityEvent): { id: string; json: string } {
    const json = JSON.stringify(event.raw);
    const max = this.options.evidenceMaxBytes;
    if (json.length <= max) return { id: event.id, json };
    return { id: event.id, json: JSON.stringify({ truncated: true, eventId: event.id, json: json.slice(0, max) }) };
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
