import type { SecurityEvent } from '../core/event';

/**
 * The bus between ingest and the pipeline. Narrow on purpose so the Kafka client behind it can be
 * replaced (kafkajs is unmaintained since 2023).
 *
 * Semantics every adapter keeps (the contract suite in test/bus pins them):
 * - `publish` resolves only once the bus holds the events (for Kafka: acks=all); it rejects with an
 *   `UnavailableError` when it cannot take them, so ingest answers 503 instead of losing them.
 * - Events with the same partition key (`partitionKey(e)`) are handed to handlers in publish order.
 * - At-least-once: an event is committed only after the handler for it resolved; a handler that
 *   rejects, or a consumer that dies, leaves the event to be delivered again.
 */
export interface EventBus {
  publish(events: SecurityEvent[]): Promise<void>;
  /** Starts delivering events to `handler`. One call per bus instance. */
  consume(handler: (events: SecurityEvent[]) => Promise<void>): Promise<void>;
  /**
   * The most events one publish can ever take (a bounded queue's size), when there is such a bound:
   * ingest refuses a bigger batch with 413 rather than a 503 that no retry could get past.
   */
  capacity?(): number;
  /** Whether publish can currently succeed; used by /readyz. */
  health(): BusHealth;
  /**
   * A number that changes whenever the partitions this consumer holds may have changed (Kafka: each
   * rebalance). Absent: they never change (one consumer takes every event). What a replica knows
   * about the keys it was handed (the correlator's pods without sessions) holds only while it is unchanged.
   */
  generation?(): number;
  /** Whether the consumer has started and moves; /readyz reports one that is stuck. */
  progress(): ConsumerProgress;
  /** Stops consuming after in-flight handlers finish, commits, disconnects. */
  close(): Promise<void>;
}

export interface BusHealth {
  ok: boolean;
  detail?: string;
}

export interface ConsumerProgress {
  /** `consume` has started delivering (Kafka: the consumer joined its group). */
  consuming: boolean;
  /** Since when (ms, the bus's clock) events have waited with no handler call finishing; absent when none wait. */
  waitingSince?: number;
}
