import type { Alert } from '../core/alert';

/** The most recent alerts by fingerprint, bounded; what `GET /v1/alerts` lists. */
export class RecentAlerts {
  private readonly byFingerprint = new Map<string, Alert>();

  constructor(private readonly capacity: number) {}

  put(alert: Alert): void {
    this.byFingerprint.delete(alert.fingerprint); // re-insert: Map order is recency order
    this.byFingerprint.set(alert.fingerprint, alert);
    if (this.byFingerprint.size > this.capacity) {
      const oldest = this.byFingerprint.keys().next().value as string;
      this.byFingerprint.delete(oldest);
    }
  }

  get(fingerprint: string): Alert | undefined {
    return this.byFingerprint.get(fingerprint);
  }

  /** Newest first. */
  list(limit = this.capacity): Alert[] {
    return [...this.byFingerprint.values()].reverse().slice(0, limit);
  }
}
