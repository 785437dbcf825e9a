import type { Clock, TimerHandle } from '../core/clock';
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
  /**
   * How long a publish that does not fit waits for room before it is refused (default 0: refused at
   * once). Waiting publishes are bounded too, by `capacity` and `capacityBytes` again (a request
   * refused has been read and parsed all the same, and comes back at once: the memory is taken either
   * way); beyond that a publish is refused at once. They are let in in the order they came.
   */
  waitForRoomMs?: number;
  /**
   * How many batches the handler may be working on at once (default 1: each waits for the last).
   * Above 1, a batch still running once its synchronous work is done (it waits on a timer or I/O:
   * an enrichment waiting for its pod) no longer holds up the queue: the next batch is handed over,
   * and batches are acknowledged in publish order all the same. The handler then has to keep each
   * partition key's order across calls itself (the pipeline does).
   */
  maxBatchesInFlight?: number;
  /**
   * Whether what is in flight is held up by a wait (an enrichment waiting for its pod) rather than
   * busy: only then does the next batch go while others run. A batch that is busy but yields (the
   * enricher lets I/O in every few ms) must not have company: each batch in flight would take its
   * slice in every turn of the event loop. Unset: any batch still running is taken as waiting.
   */
  parked?: () => boolean;
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

/** A publish waiting for room in the queue. */
interface Waiter {
  events: SecurityEvent[];
  size: number;
  timer: TimerHandle;
  admitted(durable: Promise<void> | undefined): void;
  refused(err: UnavailableError): void;
}

/** A batch handed to the handler and not acknowledged yet. */
interface Flight {
  /** Queue position just past the batch. */
  end: number;
  state: 'running' | 'done' | 'failed';
  error?: unknown;
  settled?: Promise<void>;
}

/**
 * The embedded bus: a bounded in-process queue with one consumer, so publish order is delivery order
 * (which keeps per-key order). At-least-once: a batch whose handler rejects is delivered again.
 */
export class MemoryBus implements EventBus {
  /** Handled events' slots are cleared at once (so they can be collected); the array is compacted lazily. */
  private queue: (SecurityEvent | undefined)[] = [];
  /** The oldest event not acknowledged yet. */
  private head = 0;
  /** The oldest event not handed to the handler yet (`head` ≤ `next`). */
  private next = 0;
  /** Batches handed over and not acknowledged, oldest first. */
  private inFlight: Flight[] = [];
  /** A batch in flight failed: nothing more is handed over until the rest settle and delivery starts again at `head`. */
  private failed = false;
  /** Set while the loop waits on batches in flight with room for more: a publish wakes it. */
  private wake?: () => void;
  private bytes = 0;
  /** Publishes waiting for room, oldest first, and the events and bytes they hold. */
  private waiters: Waiter[] = [];
  private waitingEvents = 0;
  private waitingBytes = 0;
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
    let size = 0;
    for (const e of events) size += sizeOf(e);
    // Those waiting go first: a publish that fits now must not overtake them.
    if (!this.waiters.length && this.fits(events.length, size)) return this.accept(events, size);
    const waitMs = this.options.waitForRoomMs ?? 0;
    const { capacity, capacityBytes = Infinity } = this.options;
    if (
      waitMs <= 0 ||
      events.length > capacity ||
      this.waitingEvents + events.length > capacity ||
      (this.waitingEvents > 0 && this.waitingBytes + size > capacityBytes)
    ) {
      throw this.full(events.length);
    }
    // Under a sustained overload, a sender held for a moment costs nothing, where one refused has had
    // its body read, parsed and claimed for nothing, and sends it again at once.
    const durable = await new Promise<Promise<void> | undefined>((admitted, refused) => {
      const waiter: Waiter = {
        events,
        size,
        admitted,
        refused,
        timer: this.clock.setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          this.waitingEvents -= events.length;
          this.waitingBytes -= size;
          refused(this.full(events.length));
        }, waitMs),
      };
      this.waiters.push(waiter);
      this.waitingEvents += events.length;
      this.waitingBytes += size;
    });
    await durable;
  }

  /** Whether a publish of `count` events and `size` bytes fits in the queue now. */
  private fits(count: number, size: number): boolean {
    if (this.depth() + count > this.options.capacity) return false;
    // An empty queue takes any one publish, so a batch bigger than the bound is slow, not refused for ever.
    return this.depth() === 0 || this.bytes + size <= (this.options.capacityBytes ?? Infinity);
  }

  private full(count: number): UnavailableError {
    const { capacity, capacityBytes = Infinity } = this.options;
    return this.depth() + count > capacity
      ? new UnavailableError(`pipeline queue is full (${capacity} events)`, 1)
      : new UnavailableError(`pipeline queue is full (${Math.round(capacityBytes / 2 ** 20)} MiB)`, 1);
  }

  private accept(events: SecurityEvent[], size: number): Promise<void> | undefined {
    this.bytes += size;
    const durable = this.options.journal?.append(events);
    for (const e of events) this.queue.push(e);
    if (events.length) this.progress_.waiting();
    // Wakes a loop already waiting first: one that kick starts is waiting for the batch it just took.
    this.wake?.();
    this.kick();
    return durable;
  }

  /** Lets waiting publishes in, oldest first, while they fit. */
  private admitWaiting(): void {
    while (this.waiters.length && this.fits(this.waiters[0]!.events.length, this.waiters[0]!.size)) {
      const waiter = this.waiters.shift()!;
      this.clock.clearTimeout(waiter.timer);
      this.waitingEvents -= waiter.events.length;
      this.waitingBytes -= waiter.size;
      waiter.admitted(this.accept(waiter.events, waiter.size));
    }
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
    for (const waiter of this.waiters.splice(0)) {
      this.clock.clearTimeout(waiter.timer);
      waiter.refused(new UnavailableError('bus is shutting down'));
    }
    this.waitingEvents = 0;
    this.waitingBytes = 0;
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
    const maxInFlight = this.options.maxBatchesInFlight ?? 1;
    let sliceStart = performance.now();
    while (this.depth() > 0) {
      const running = this.inFlight.find((f) => f.state === 'running');
      const room = !this.failed && this.inFlight.length < maxInFlight && (!running || (this.options.parked?.() ?? true));
      if (room && this.next < this.queue.length) {
        const end = Math.min(this.queue.length, this.next + this.batchLimit);
        const batch = this.queue.slice(this.next, end) as SecurityEvent[];
        this.next = end;
        const flight: Flight = { end, state: 'running' };
        const started = performance.now();
        flight.settled = handler(batch).then(
          () => void (flight.state = 'done'),
          (err: unknown) => {
            flight.state = 'failed';
            flight.error = err;
          },
        );
        this.inFlight.push(flight);
        // Microtasks run before the next macrotask: a batch on in-memory state is done by then, as
        // with one batch at a time. One still running waits on a timer or I/O; the next may go.
        if (maxInFlight === 1) await flight.settled;
        else if (this.next < this.queue.length) await Promise.race([flight.settled, nextMacrotask()]);
        else await this.settledOrPublished(flight.settled);
        this.adaptBatch(batch.length, performance.now() - started);
      } else {
        // Until the oldest running batch settles, or events arrive, or (events waiting, a batch in
        // flight busy) a time slice passed: it may be waiting by then. None running: they all settled
        // since the last look, and are acknowledged (or delivered again) now.
        let recheck: NodeJS.Timeout | undefined;
        const mayAdd = !this.failed && this.inFlight.length < maxInFlight;
        if (running)
          await new Promise<void>((resolve) => {
            if (mayAdd) this.wake = resolve;
            void running.settled!.then(resolve);
            if (mayAdd && this.next < this.queue.length) recheck = setTimeout(resolve, SLICE_MS);
          });
        clearTimeout(recheck);
        this.wake = undefined;
      }
      this.acknowledge();
      if (this.failed && this.inFlight.every((f) => f.state !== 'running')) {
        const error = this.inFlight.find((f) => f.state === 'failed')?.error;
        // Delivered again from the oldest batch not acknowledged: what later batches handled meanwhile
        // comes again too (at-least-once; the pipeline skips what it processed).
        this.inFlight = [];
        this.next = this.head;
        this.failed = false;
        this.options.onHandlerError?.(error);
        if (this.closed) return;
        await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.options.retryDelayMs));
        continue;
      }
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        const shift = this.head;
        this.queue = this.queue.slice(shift);
        this.head = 0;
        this.next -= shift;
        for (const f of this.inFlight) f.end -= shift;
      }
      // A handler on in-memory state resolves in microtasks only: after each time slice, yield to I/O
      // so a long queue cannot starve ingest (and a slice long enough that ingest cannot starve us).
      if (performance.now() - sliceStart >= SLICE_MS) {
        await nextMacrotask();
        sliceStart = performance.now();
      }
    }
  }

  /**
   * The race above when nothing more is queued: there is nothing to hand over after the macrotask
   * until a publish comes, so the macrotask is only waited for from then on. Most batches are one
   * event a request, on a handler done in microtasks: this spares each a `setImmediate` (see
   * docs/performance.md § "Measured (bus-cost branch…)").
   */
  private async settledOrPublished(settled: Promise<void>): Promise<void> {
    await new Promise<void>((resolve) => {
      void settled.then(resolve);
      this.wake = () => {
        this.wake = undefined;
        setImmediate(resolve); // the race with the next macrotask, the settling already being waited for
      };
    });
    this.wake = undefined;
  }

  /** Acknowledges the batches at the head that are done, in order; notes a failure anywhere in flight. */
  private acknowledge(): void {
    while (this.inFlight[0]?.state === 'done') {
      const { end } = this.inFlight.shift()!;
      const count = end - this.head;
      for (let i = this.head; i < end; i++) {
        this.bytes -= sizeOf(this.queue[i]!);
        this.queue[i] = undefined;
      }
      this.head = end;
      this.options.journal?.handled(count);
      this.progress_.progressed(this.depth() > 0);
    }
    if (this.waiters.length) this.admitWaiting();
    if (this.inFlight.some((f) => f.state === 'failed')) this.failed = true;
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

function nextMacrotask(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

function sizeOf(event: SecurityEvent): number {
  return event.sizeBytes ?? DEFAULT_EVENT_BYTES;
}
