import type { Clock } from '../core/clock';
import type { SecurityEvent } from '../core/event';
import { UnavailableError } from '../core/errors';
import { ProgressTracker } from './progress';
import type { BusHealth, ConsumerProgress, EventBus } from './port';

/** How long the consumer runs before it lets pending I/O in. */
const SLICE_MS = 10;
/** What an event without a size estimate counts against the byte bound. */
const DEFAULT_EVENT_BYTES = 4096;

export interface MemoryBusOptions {
  /** Most events held at once; beyond it publish is refused (ingest answers 503) instead of growing. */
  capacity: number;
  /** Most bytes held at once (by the events' `sizeBytes` estimates); beyond it publish is refused too. */
  capacityBytes?: number;
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
  /** Handled events' slots are cleared at once (so they can be collected); the array is compacted lazily. */
  private queue: (SecurityEvent | undefined)[] = [];
  private head = 0;
  private bytes = 0;
  /** The batch handed over next: shrinks while one batch takes longer than a time slice, so I/O gets in. */
  private batchLimit: number;
  private handler?: (events: SecurityEvent[]) => Promise<void>;
  private running = false;
  private closed = false;
  private idle: Promise<void> = Promise.resolve();
  private readonly progress_: ProgressTracker;

  constructor(
    private readonly clock: Clock,
    private readonly options: MemoryBusOptions,
  ) {
    this.batchLimit = options.batchSize;
    this.progress_ = new ProgressTracker(() => clock.now());
  }

  async publish(events: SecurityEvent[]): Promise<void> {
    if (this.closed) throw new UnavailableError('bus is shutting down');
    if (this.depth() + events.length > this.options.capacity) {
      throw new UnavailableError(`pipeline queue is full (${this.options.capacity} events)`, 1);
    }
    let size = 0;
    for (const e of events) size += sizeOf(e);
    const maxBytes = this.options.capacityBytes ?? Infinity;
    // An empty queue takes any one publish, so a batch bigger than the bound is slow, not refused for ever.
    if (this.depth() > 0 && this.bytes + size > maxBytes) {
      throw new UnavailableError(`pipeline queue is full (${Math.round(maxBytes / 2 ** 20)} MiB)`, 1);
    }
    this.bytes += size;
    const durable = this.options.journal?.append(events);
    for (const e of events) this.queue.push(e);
    if (events.length) this.progress_.waiting();
    this.kick();
    await durable;
  }

  /** Queues events recovered from a journal, ahead of anything published, whatever the capacity. */
  restore(events: SecurityEvent[]): void {
    for (const e of events) this.bytes += sizeOf(e);
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
    const full = depth >= this.options.capacity || this.bytes >= (this.options.capacityBytes ?? Infinity);
    const detail = `${depth} queued, ${(this.bytes / 2 ** 20).toFixed(1)} MiB`;
    return full ? { ok: false, detail: `queue full (${detail})` } : { ok: true, detail };
  }

  progress(): ConsumerProgress {
    return this.progress_.state();
  }

  depth(): number {
    return this.queue.length - this.head;
  }

  /** Estimated bytes of the events queued. */
  queuedBytes(): number {
    return this.bytes;
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
      // An event published after the loop saw an empty queue, but before it settled, must not wait
      // for the next publish.
      if (!this.closed) this.kick();
    });
  }

  private async loop(): Promise<void> {
    const handler = this.handler!;
    let sliceStart = performance.now();
    while (this.depth() > 0) {
      const end = Math.min(this.queue.length, this.head + this.batchLimit);
      const batch = this.queue.slice(this.head, end) as SecurityEvent[];
      const started = performance.now();
      try {
        await handler(batch);
      } catch (err) {
        this.options.onHandlerError?.(err);
        if (this.closed) return;
        await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.options.retryDelayMs));
        continue;
      }
      this.adaptBatch(batch.length, performance.now() - started);
      for (let i = this.head; i < end; i++) {
        this.bytes -= sizeOf(this.queue[i]!);
        this.queue[i] = undefined;
      }
      this.head = end;
      this.options.journal?.handled(batch.length);
      this.progress_.progressed(this.depth() > 0);
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
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

  /**
   * A handler runs on the event loop in microtasks when its state is in memory, so one batch is one
   * uninterrupted stretch. When a batch took longer than a time slice (costly events: large cluster
   * state, big payloads), the next one is halved; fast batches grow it back to `batchSize`.
   */
  private adaptBatch(size: number, ms: number): void {
    if (ms > SLICE_MS && size > 1) this.batchLimit = Math.max(1, Math.floor(size / 2));
    else if (ms < SLICE_MS / 2) this.batchLimit = Math.min(this.options.batchSize, this.batchLimit * 2);
  }
}

function sizeOf(event: SecurityEvent): number {
  return event.sizeBytes ?? DEFAULT_EVENT_BYTES;
}
