import type { Clock } from '../core/clock';
import type { Counter, LazyValue, StateStore } from './port';

/**
 * Times kept per key are milliseconds since the store's epoch (`MemoryStateStore.epoch`), not since
 * 1970. A time since 1970 is a number object of its own in every entry (V8 keeps a field that has
 * held one such number boxed in all objects of that shape): one more object per key, 16 bytes, for
 * each young-generation GC to copy while the retry window holds a key per event. A time that fits
 * 32 bits is kept in the entry itself, in a `Kept`; one that does not (a TTL of weeks) goes into a
 * plain object, so its box stays in that other shape.
 */
interface Entry {
  /** Made on first read (or when the durable store writes it out), then kept as text. */
  value: LazyValue;
  expiresAt: number;
}

class Kept implements Entry {
  constructor(
    public value: LazyValue,
    public expiresAt: number,
  ) {}
}

interface StoredCounter {
  count: number;
  firstSeen: number;
  lastSeen: number;
  expiresAt: number;
}

class KeptCounter implements StoredCounter {
  constructor(
    public count: number,
    public firstSeen: number,
    public lastSeen: number,
    public expiresAt: number,
  ) {}
}

/** The time as kept: a 32-bit integer (`| 0` makes it one V8 stores unboxed) when it is one. */
function small(ms: number): number {
  return (ms | 0) === ms ? ms | 0 : ms;
}

const fits = (ms: number) => (ms | 0) === ms;

/** Past this (≈12 days after the epoch) the epoch moves to now, so new times keep fitting 32 bits. */
const REBASE_AFTER_MS = 2 ** 30;

/**
 * Told of every change as it is made, in order (the durable store writes them to the data dir).
 * Expiry is not a change: whoever keeps a copy expires it by `expiresAt` on its own.
 */
export interface StoreChanges {
  /** `value()` gives the entry's text; call it only when writing it out (it may not be made yet). */
  entry(key: string, value: () => string, expiresAt: number): void;
  counter(key: string, counter: Counter, expiresAt: number): void;
  deleted(key: string): void;
  /** `dueAt` undefined: taken off. `listed`: the key was in the outbox before this change. */
  outbox(key: string, dueAt: number | undefined, listed: boolean): void;
}

/** What `load` restores: absolute expiry times, as `StoreChanges` reported them. */
export interface StoreSnapshot {
  entries: Iterable<[key: string, value: string, expiresAt: number]>;
  counters: Iterable<[key: string, counter: Counter, expiresAt: number]>;
  outbox: Iterable<[key: string, dueAt: number]>;
}

/** In-process state for the embedded mode. Expired keys are dropped lazily and by a bounded sweep. */
export class MemoryStateStore implements StateStore {
  private readonly entries = new Map<string, Entry>();
  private readonly counters = new Map<string, StoredCounter>();
  /** The outbox: record key → when it is due. */
  private readonly outbox = new Map<string, number>();

  /** Kept times are relative to this: see `Entry`. */
  private epoch: number;

  constructor(
    private readonly clock: Clock,
    private readonly changes?: StoreChanges,
  ) {
    this.epoch = Math.floor(clock.now());
  }

  /** Restores state kept elsewhere (the data dir), skipping what has expired since. */
  load(snapshot: StoreSnapshot): void {
    const now = this.clock.now();
    for (const [key, value, expiresAt] of snapshot.entries)
      if (expiresAt > now) this.entries.set(key, this.entry(value, expiresAt));
    for (const [key, counter, expiresAt] of snapshot.counters)
      if (expiresAt > now) this.counters.set(key, this.stored(counter, expiresAt));
    for (const [key, dueAt] of snapshot.outbox) this.outbox.set(key, dueAt);
  }

  async get(key: string): Promise<string | undefined> {
    const entry = this.live(this.entries, key);
    return entry && textOf(entry);
  }

  peek(key: string): LazyValue | undefined {
    return this.live(this.entries, key)?.value;
  }

  async set(key: string, value: LazyValue, ttlMs: number): Promise<void> {
    this.put(key, value, ttlMs);
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.live(this.entries, key)) return false;
    this.put(key, value, ttlMs);
    return true;
  }

  async replace(key: string, expected: string, value: string, ttlMs: number): Promise<boolean> {
    const entry = this.live(this.entries, key);
    if (!entry || textOf(entry) !== expected) return false;
    this.put(key, value, ttlMs);
    return true;
  }

  async setIfAbsentMany(entries: readonly (readonly [string, string])[], ttlMs: number): Promise<(string | undefined)[]> {
    return entries.map(([key, value]) => {
      const entry = this.live(this.entries, key);
      if (entry) return textOf(entry);
      this.put(key, value, ttlMs);
      return undefined;
    });
  }

  async replaceMany(entries: readonly (readonly [string, string, string])[], ttlMs: number): Promise<boolean[]> {
    return entries.map(([key, expected, value]) => {
      const entry = this.live(this.entries, key);
      if (!entry || textOf(entry) !== expected) return false;
      this.put(key, value, ttlMs);
      return true;
    });
  }

  async handOff(key: string, value: LazyValue, ttlMs: number, dueAt: number): Promise<boolean> {
    this.list(key, dueAt);
    if (this.live(this.entries, key)) return false;
    this.put(key, value, ttlMs);
    return true;
  }

  async schedule(key: string, dueAt: number): Promise<void> {
    this.list(key, dueAt);
  }

  async due(nowMs: number, limit: number): Promise<string[]> {
    const due: [string, number][] = [];
    for (const entry of this.outbox) if (entry[1] <= nowMs) due.push(entry);
    return due
      .sort((a, b) => a[1] - b[1])
      .slice(0, limit)
      .map(([key]) => key);
  }

  async unschedule(key: string): Promise<void> {
    if (this.outbox.delete(key)) this.changes?.outbox(key, undefined, true);
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
    this.counters.delete(key);
    this.changes?.deleted(key);
  }

  async hit(key: string, nowMs: number, ttlMs: number): Promise<Counter> {
    const existing = this.live(this.counters, key);
    const next = existing
      ? {
          count: existing.count + 1,
          firstSeen: existing.firstSeen + this.epoch,
          lastSeen: Math.max(existing.lastSeen + this.epoch, nowMs),
        }
      : { count: 1, firstSeen: nowMs, lastSeen: nowMs };
    const now = this.clock.now();
    this.rebaseIfDue(now);
    const expiresAt = now + ttlMs;
    this.counters.set(key, this.stored(next, expiresAt));
    this.changes?.counter(key, next, expiresAt);
    this.maybeSweep();
    return next;
  }

  health() {
    return { ok: true };
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.counters.clear();
    this.outbox.clear();
  }

  size(): number {
    return this.entries.size + this.counters.size;
  }

  private list(key: string, dueAt: number): void {
    const listed = this.changes !== undefined && this.outbox.has(key);
    this.outbox.set(key, dueAt);
    this.changes?.outbox(key, dueAt, listed);
  }

  /** An entry as kept, from `expiresAt` since 1970. */
  private entry(value: LazyValue, expiresAt: number): Entry {
    const at = expiresAt - this.epoch;
    return fits(at) ? new Kept(value, small(at)) : { value, expiresAt: at };
  }

  private stored({ count, firstSeen, lastSeen }: Counter, expiresAt: number): StoredCounter {
    const { epoch } = this;
    const first = firstSeen - epoch;
    const last = lastSeen - epoch;
    const at = expiresAt - epoch;
    return fits(first) && fits(last) && fits(at) && fits(count)
      ? new KeptCounter(small(count), small(first), small(last), small(at))
      : { count, firstSeen: first, lastSeen: last, expiresAt: at };
  }

  /** Moves the epoch to now once times since it stop fitting 32 bits: a pass over every key, every ≈12 days. */
  private rebaseIfDue(now: number): void {
    if (now - this.epoch < REBASE_AFTER_MS) return;
    const old = this.epoch;
    this.epoch = Math.floor(now);
    for (const [key, e] of this.entries) {
      const rebased = this.entry(e.value, e.expiresAt + old);
      // In place where it can: a durable store's pending write holds the entry, and keeps the text it makes there.
      if (e instanceof Kept && rebased instanceof Kept) e.expiresAt = rebased.expiresAt;
      else this.entries.set(key, rebased);
    }
    for (const [key, c] of this.counters) {
      const counter = { count: c.count, firstSeen: c.firstSeen + old, lastSeen: c.lastSeen + old };
      this.counters.set(key, this.stored(counter, c.expiresAt + old));
    }
    this.entriesCursor = this.countersCursor = undefined;
  }

  private put(key: string, value: LazyValue, ttlMs: number): void {
    const now = this.clock.now();
    this.rebaseIfDue(now);
    const expiresAt = now + ttlMs;
    const entry = this.entry(value, expiresAt);
    this.entries.set(key, entry);
    this.changes?.entry(key, () => textOf(entry), expiresAt);
    this.maybeSweep();
  }

  private live<T extends { expiresAt: number }>(map: Map<string, T>, key: string): T | undefined {
    const e = map.get(key);
    if (e && e.expiresAt <= this.clock.now() - this.epoch) {
      map.delete(key);
      return undefined;
    }
    return e;
  }

  /**
   * Each write also examines the next few keys of each map, cycling through them with a cursor, and
   * drops the expired ones: the cost per write stays constant however many keys there are (a full scan
   * every N writes is quadratic at millions of `seen` keys), and an expired key lives at most one cycle.
   */
  private maybeSweep(): void {
    const now = this.clock.now() - this.epoch;
    this.entriesCursor = sweep(this.entries, this.entriesCursor, now);
    this.countersCursor = sweep(this.counters, this.countersCursor, now);
  }

  private entriesCursor?: Iterator<[string, Entry]>;
  private countersCursor?: Iterator<[string, StoredCounter]>;
}

/** An entry's text, made (once) if it is still lazy. */
function textOf(entry: Entry): string {
  if (typeof entry.value === 'function') entry.value = entry.value();
  return entry.value;
}

/** Keys examined per write: above 1, so sweeping outpaces the writes that add keys. */
const SWEEP_STEP = 4;

function sweep<T extends { expiresAt: number }>(
  map: Map<string, T>,
  cursor: Iterator<[string, T]> | undefined,
  now: number,
): Iterator<[string, T]> | undefined {
  let it = cursor ?? map.entries();
  for (let i = 0; i < SWEEP_STEP; i++) {
    const next = it.next();
    if (next.done) {
      // Start the next cycle on the following write (a Map iterator keeps going across deletions).
      it = map.entries();
      break;
    }
    if (next.value[1].expiresAt <= now) map.delete(next.value[0]);
  }
  return it;
}
