import type { Alert } from '../core/alert';
import type { Clock, TimerHandle } from '../core/clock';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { RecentAlerts } from './recent';
import { isSuppressed, type Suppressor } from './suppress';

/** What the reconciler drives: announcing (idempotent across replicas) and resolving. */
export interface Announcer {
  announce(alert: Alert, options?: { refreshExisting?: boolean }): Promise<void>;
  resolve(alert: Alert, at: number): Promise<void>;
}

export interface ReconcilerOptions {
  /** An alert resolves after this long without an occurrence. */
  resolveAfterMs: number;
  /** How often alerts are looked at. */
  intervalMs: number;
  /**
   * Whether this pass notifies (resolves, announces). Off with a routing tree: the groups' flushes
   * notify, and the pass only marks alerts resolved for the API.
   */
  notify?: boolean;
  /** Alerts that stay firing whatever their quiet period (a finding that still fails: FindingAlerts.holds). */
  held?: (alert: Alert) => boolean;
}

/**
 * Looks at the recent alerts on a timer: one whose quiet period has passed resolves (receivers that
 * were told hear it, even if it is muted now); one that was muted and still fires is announced once
 * its silence or inhibition lifts (Alertmanager users asked for this, FACTS-2 §1).
 */
export class Reconciler {
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly recent: RecentAlerts,
    private readonly announcer: Announcer,
    private readonly suppressor: Suppressor | undefined,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options: ReconcilerOptions,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    await this.running;
  }

  /** One pass; resolves when its hand-offs are done. */
  async tick(): Promise<void> {
    const now = this.clock.now();
    for (const alert of this.recent.list()) {
      if (alert.resolvedAt !== undefined) continue;
      const quietUntil = alert.lastSeen + this.options.resolveAfterMs;
      if (now >= quietUntil && !this.options.held?.(alert)) {
        alert.resolvedAt = quietUntil;
        this.recent.changed(alert);
        this.metrics.resolved.inc();
        if (this.options.notify !== false) await this.announcer.resolve(alert, quietUntil);
        continue;
      }
      if (!this.suppressor || !(alert.silencedBy?.length || alert.inhibitedBy?.length)) continue;
      const suppression = await this.suppressor.check(alert);
      if (isSuppressed(suppression)) {
        alert.silencedBy = suppression.silencedBy;
        alert.inhibitedBy = suppression.inhibitedBy;
        continue;
      }
      delete alert.silencedBy;
      delete alert.inhibitedBy;
      this.recent.changed(alert);
      if (this.options.notify !== false) await this.announcer.announce(alert, { refreshExisting: false });
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.running = this.tick()
        .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'alert reconciliation failed; next pass retries'))
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, this.options.intervalMs);
  }
}
