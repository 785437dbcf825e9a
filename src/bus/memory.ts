import type { Clock } from '../core/clock';
import type { SecurityEvent } from '../core/event';
import { UnavailableError } from '../core/errors';
import { ProgressTracker } from './progress';
import type { BusHealth, ConsumerProgress, EventBus } from './port';

/** How long the consumer runs before it lets pending I/O in. */
const SLICE_MS = 10;

export interface MemoryBusOptions {
  /** Most events held at once; beyond it publish is refused (ingest answers 503) instead of growing. */
  capacity: number;
  /** Most events handed to the handler in one call. */
  batchSize: number;
  /** Wait before redelivering a batch whose handler rejected. */
  retryDelayMs: number;
  onHandlerError?: (err: unknown) => void;
  /** Where accepted events are written before delivery (the journal bus); publish waits for it. */
  journal?: BusJournal;
}

export interface BusJournal {
  /** Takes events just accepted, in publish order; resolves once they are durable. */
  append(events: SecurityEvent[]): Promise<void>;
  /** The next `count` events in publish order were handled. */
  handled(count: number): void;
}

/**
 * The embedded bus: a bounded in-process queue with one consumer, so publish order is delivery order
 * (which keeps per-key order). At-least-once: a batch whose handler rejects is delivered again.
 */
export class MemoryBus implements EventBus {
  private queue: SecurityEvent[] = [];
  private head = 0;
  private handler?: (events: SecurityEvent[]) => Promise<void>;
  private running = false;
  private closed = false;
  private idle: Promise<void> = Promise.resolve();
  private readonly progress_: ProgressTracker;

  constructor(
    private readonly clock: Clock,
    private readonly options: MemoryBusOptions,
  ) {
    this.progress_ = new ProgressTracker(() => clock.now());
  }

  async publish(events: SecurityEvent[]): Promise<void> {
    if (this.closed) throw new UnavailableError('bus is shutting down');
    if (this.depth() + events.length > this.options.capacity) {
      throw new UnavailableError(`pipeline queue is full (${this.options.capacity} events)`, 1);
    }
    const durable = this.options.journal?.append(events);
    for (const e of events) this.queue.push(e);
    if (events.length) this.progress_.waiting();
    this.kick();
    await durable;
  }

  /** Queues events recovered from a journal, ahead of anything published, whatever the capacity. */
  restore(events: SecurityEvent[]): void {
    for (const e of events) this.queue.push(e);
    if (events.length) this.progress_.waiting();
    this.kick();
  }

  async consume(handler: (events: SecurityEvent[]) => Promise<void>): Promise<void> {
    if (this.handler) throw new Error('MemoryBus.consume called twice');
    this.handler = handler;
    this.progress_.started();
    this.kick();
  }

  capacity(): number {
    return this.options.capacity;
  }

  health(): BusHealth {
    const depth = this.depth();
    return depth < this.options.capacity
      ? { ok: true, detail: `${depth} queued` }
      : { ok: false, detail: `queue full (${depth})` };
  }

  progress(): ConsumerProgress {
    return this.progress_.state();
  }

  depth(): number {
    return this.queue.length - this.head;
  }

  /** Resolves once everything published so far has been handled. */
  async drain(): Promise<void> {
    while (this.running) await this.idle;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.drain();
  }

  private kick(): void {
    if (this.running || !this.handler || this.depth() === 0) return;
    this.running = true;
    this.idle = this.loop().finally(() => {
      this.running = false;
    });
  }

  private async loop(): Promise<void> {
    const handler = this.handler!;
    let sliceStart = performance.now();
    while (this.depth() > 0) {
      const end = Math.min(this.queue.length, this.head + this.options.batchSize);
      const batch = this.queue.slice(this.head, end);
      try {
        await handler(batch);
      } catch (err) {
        this.options.onHandlerError?.(err);
        if (this.closed) return;
        await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.options.retryDelayMs));
        continue;
      }
      this.head = end;
      this.options.journal?.handled(batch.length);
      this.progress_.progressed(this.depth() > 0);
      if (this.head > 4096 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      // A handler on in-memory state resolves in microtasks only: after each time slice, yield to I/O
      // so a long queue cannot starve ingest (and a slice long enough that ingest cannot starve us).
      if (performance.now() - sliceStart >= SLICE_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
  }
}
