import type { Alert, AlertIncident } from '../core/alert';
import type { Clock, TimerHandle } from '../core/clock';
import type { SecurityEvent } from '../core/event';
import { OldestFirst } from '../core/oldest';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { ConsoleHistory, Evictions, HistoryRecord, RecordResult } from './history/port';
import { storedRowOf, type StoredRow } from './row';
import { SessionStore } from './session';
import { StreamHub, type StreamOptions } from './stream';

export interface ConsoleOptions {
  /** Raw events kept per alert (the history keeps at most as many). */
  evidencePerAlert: number;
  stream: Omit<StreamOptions, 'pingMs'> & { pingMs?: number };
  /** An alert resolves after this long without an occurrence (`alerting.resolveAfterSeconds`). */
  resolveAfterMs: number;
  /** Set `Secure` on the session cookie (the server speaks TLS). */
  secureCookies: boolean;
  uiDir: string;
}

/** Alerts waiting for the next write; beyond it changes are dropped (and counted), never queued without bound. */
const MAX_QUEUED = 10_000;
/** Writes to a remote history in flight at once; the queue waits for them. */
const MAX_IN_FLIGHT = 256;

/** Rows read per round of following the shared history, and alerts remembered as streamed. */
const FOLLOW_BATCH = 200;
const MAX_STREAMED = 10_000;

const EVICTION_REASONS = ['count', 'bytes', 'age'] as const;

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
  /** What this replica last streamed per alert (lastSeen/count/status), so following the shared history repeats nothing. */
  private readonly streamed = new Map<string, string>();
  private readonly oldestStreamed = new OldestFirst(this.streamed);
  private followTimer: TimerHandle | undefined;
  private watermark = 0;

  constructor(
    readonly history: ConsoleHistory,
    sessions: SessionStore,
    private readonly clock: Clock,
    readonly options: ConsoleOptions,
    private readonly metrics: Metrics,
    private readonly log: Pick<Logger, 'warn'>,
  ) {
    this.sessions = sessions;
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
    this.sessions.size().then(
      (n) => this.metrics.consoleSessions.set(n),
      () => undefined,
    );
  }

  incidentChanged(incident: AlertIncident): void {
    if (!this.hub.size) return; // no page to tell (nearly always: the event is made for open pages only)
    this.hub.publishIncident({ id: incident.id, severity: incident.severity, chain: incident.chain, alerts: incident.alerts });
  }

  /**
   * With a history the replicas share: every `intervalMs`, while a page is connected, streams the
   * alerts other replicas recorded since (the newest rows past the last one seen). A change that does
   * not move an alert (a resolve elsewhere) shows on the page's next load.
   */
  follow(intervalMs: number): void {
    const tick = () => {
      this.followTimer = this.clock.setTimeout(() => {
        if (!this.hub.size) this.watermark = 0; // no page to tell: start afresh when one connects
        const round = this.hub.size ? this.catchUp() : Promise.resolve();
        void round.finally(tick);
      }, intervalMs);
    };
    if (!this.followTimer) tick();
  }

  close(): void {
    if (this.followTimer) this.clock.clearTimeout(this.followTimer);
    this.followTimer = undefined;
    this.hub.close();
  }

  /** One round of `follow`. */
  async catchUp(): Promise<void> {
    try {
      const page = await this.history.scan(undefined, FOLLOW_BATCH);
      const top = page.items[0]?.stored.lastSeenMs;
      // The first round only marks where the pages' own first load left off.
      const fresh = this.watermark ? page.items.filter((x) => x.stored.lastSeenMs > this.watermark).reverse() : [];
      for (const { stored } of fresh) this.publish(stored);
      if (top !== undefined && top > this.watermark) this.watermark = top;
    } catch (err) {
      this.log.warn({ err: (err as Error)?.message ?? String(err) }, 'console history follow failed');
    }
  }

  private publish(stored: StoredRow): void {
    const r = stored.row;
    const signature = `${stored.lastSeenMs}/${r.count}/${r.status}`;
    if (this.streamed.get(r.fingerprint) === signature) return;
    this.streamed.delete(r.fingerprint);
    this.streamed.set(r.fingerprint, signature);
    // Not `keys().next()` per write: that walks the Map's holes again each time (src/core/oldest.ts).
    if (this.streamed.size > MAX_STREAMED) this.oldestStreamed.evict();
    this.hub.publishAlert(stored);
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
    // An in-process history's results, told to the metrics once per flush (gauges: the last size).
    let last: RecordResult | undefined;
    const evicted: Evictions = { count: 0, bytes: 0, age: 0 };
    for (const [fp, q] of this.queued) {
      if (this.inFlight >= MAX_IN_FLIGHT) break; // the rest waits for a write to finish
      this.queued.delete(fp);
      const prepared = this.prepare(q);
      if (!prepared) continue;
      if (this.history.recordSync) {
        try {
          last = this.history.recordSync(prepared.record);
          for (const reason of EVICTION_REASONS) evicted[reason] += last.evicted[reason];
          this.publish(prepared.stored);
        } catch (err) {
          this.failed(err);
        }
        continue;
      }
      this.inFlight++;
      this.history.record(prepared.record).then(
        (result) => {
          this.observe(result);
          this.publish(prepared.stored);
          this.settled();
        },
        (err: unknown) => {
          this.failed(err);
          this.settled();
        },
      );
    }
    if (last) this.observe({ ...last, evicted });
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
        record: { stored, alert, evidence: events },
      };
    } catch (err) {
      this.failed(err);
      return undefined;
    }
  }

  private observe(result: RecordResult): void {
    const m = this.metrics;
    m.consoleHistoryAlerts.set(result.count);
    m.consoleHistoryBytes.set(result.bytes);
    for (const reason of EVICTION_REASONS)
      if (result.evicted[reason]) m.consoleHistoryEvicted.inc({ reason }, result.evicted[reason]);
  }

  private failed(err: unknown): void {
    this.metrics.consoleHistoryDropped.inc({ reason: 'error' });
    this.log.warn({ err: (err as Error)?.message ?? String(err) }, 'console history write failed');
  }
}
