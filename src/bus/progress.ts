import type { ConsumerProgress } from './port';

/**
 * Whether a bus's consumer moves: started (Kafka: joined its group), and since when events have
 * waited without the handler finishing any. The buses report; /readyz judges (observability/health).
 */
export class ProgressTracker {
  private consuming = false;
  private since: number | undefined;

  constructor(private readonly now: () => number) {}

  started(): void {
    this.consuming = true;
  }

  stopped(): void {
    this.consuming = false;
  }

  /** Events wait for the handler: starts the stall clock unless it runs. */
  waiting(): void {
    this.since ??= this.now();
  }

  /** The handler finished events: the stall clock starts again, or stops when nothing is left. */
  progressed(moreWaiting: boolean): void {
    this.since = moreWaiting ? this.now() : undefined;
  }

  /** What was fetched is given up (a rebalance): nothing waits until the next fetch says so. */
  reset(): void {
    this.since = undefined;
  }

  state(): ConsumerProgress {
    return this.since === undefined ? { consuming: this.consuming } : { consuming: this.consuming, waitingSince: this.since };
  }
}
