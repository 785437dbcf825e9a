import type { Alert } from '../core/alert';
import { OldestFirst } from '../core/oldest';
import type { DataDir } from '../store/data-dir';

/** Told when an alert is stored or dropped (the data dir keeps a copy in embedded mode). */
export interface RecentAlertsSink {
  put(alert: Alert): void;
  dropped(fingerprint: string): void;
}

/** The most recent alerts by fingerprint, bounded; what `GET /v1/alerts` lists. */
export class RecentAlerts {
  private readonly byFingerprint = new Map<string, Alert>();
  private readonly oldest = new OldestFirst(this.byFingerprint);
  private readonly observers: ((alert: Alert) => void)[] = [];

  constructor(
    private readonly capacity: number,
    private readonly sink?: RecentAlertsSink,
  ) {}

  /** Restores alerts kept elsewhere, oldest first, without telling the sink. */
  load(alerts: Iterable<Alert>): void {
    for (const alert of alerts) this.insert(alert);
  }

  put(alert: Alert): void {
    this.sink?.put(alert);
    const dropped = this.insert(alert);
    if (dropped !== undefined) this.sink?.dropped(dropped);
    this.tell(alert);
  }

  /** Called with every alert stored, and every one changed in place (`changed`): the console's history. */
  observe(observer: (alert: Alert) => void): void {
    this.observers.push(observer);
  }

  /** A stored alert was changed in place (resolved, its mute lifted): observers hear it again. */
  changed(alert: Alert): void {
    if (this.byFingerprint.get(alert.fingerprint) === alert) this.tell(alert);
  }

  private tell(alert: Alert): void {
    for (const observer of this.observers) observer(alert);
  }

  get(fingerprint: string): Alert | undefined {
    return this.byFingerprint.get(fingerprint);
  }

  /** Newest first. */
  list(limit = this.capacity): Alert[] {
    return [...this.byFingerprint.values()].reverse().slice(0, limit);
  }

  /** Returns the fingerprint dropped to make room, if one was. */
  private insert(alert: Alert): string | undefined {
    this.byFingerprint.delete(alert.fingerprint); // re-insert: Map order is recency order
    this.byFingerprint.set(alert.fingerprint, alert);
    if (this.byFingerprint.size <= this.capacity) return undefined;
    return this.oldest.evict()?.[0];
  }
}

/** Recent alerts kept in the data dir too, so `GET /v1/alerts` and the evidence chains survive a restart. */
export function durableRecentAlerts(capacity: number, dataDir: DataDir): RecentAlerts {
  const saved = dataDir.take('recentAlerts');
  let seq = (saved.at(-1)?.seq ?? 0) + 1;
  const { db } = dataDir;
  const recent = new RecentAlerts(capacity, {
    put: (alert) => {
      const at = seq++;
      db.putLazily(`recent:${alert.fingerprint}`, () => ['recentPut', alert.fingerprint, at, JSON.stringify(alert)]);
    },
    dropped: (fingerprint) => db.put(`recent:${fingerprint}`, 'recentDelete', fingerprint),
  });
  recent.load(saved.map((row) => JSON.parse(row.body) as Alert));
  return recent;
}
