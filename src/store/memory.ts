import type { Clock } from '../core/clock';
import type { Counter, LazyValue, StateStore } from './port';

/** An entry's expiry time is kept as `high` × 2^24 + `low` (see Entry). */
const LOW = 2 ** 24;

class Entry {
  /**
   * When the entry expires (ms), as two integers: V8 keeps a small integer inside the object, where a
   * number as large as a time in ms is a heap number of its own. A live retry claim (one per event,
   * 600 s by default) is then one object and 8 bytes smaller (docs/performance.md § edge-again).
   * Exact for every time below 2^53 ms, fractions included.
   */
  private readonly high: number;
  private readonly low: number;

  constructor(
    /** The map's key, so the sweep walks values alone (a Map's entries iterator makes a pair per step). */
    readonly key: string,
    /** Made on first read (or when the durable store writes it out), then kept as text. */
    public value: LazyValue,
    expiresAt: number,
  ) {
    this.high = Math.floor(expiresAt / LOW);
    this.low = expiresAt - this.high * LOW;
  }

  get expiresAt(): number {
    return this.high * LOW + this.low;
  }
}

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

  constructor(
    private readonly clock: Clock,
    private readonly changes?: StoreChanges,
  ) {}

  /** Restores state kept elsewhere (the data dir), skipping what has expired since. */
  load(snapshot: StoreSnapshot): void {
    const now = this.clock.now();
    for (const [key, value, expiresAt] of snapshot.entries)
      if (expiresAt > now) this.entries.set(key, new Entry(key, value, expiresAt));
    for (const [key, counter, expiresAt] of snapshot.counters)
      if (expiresAt > now) this.counters.set(key, { ...counter, key, expiresAt });
    for (const [key, dueAt] of snapshot.outbox) this.outbox.set(key, dueAt);
  }

  /** The store's clock: what its TTLs run on (a caller keeping state beside the store expires it alike). */
  now(): number {
    return this.clock.now();
  }

  /**
   * Whether what is written here outlives the process (the durable store writes it to the data dir):
   * state a caller keeps in process anyway needs a record here only then.
   */
  get persistent(): boolean {
    return this.changes !== undefined;
  }

  async get(key: string): Promise<string | undefined> {
    const entry = this.live(this.entries, key);
    return entry && textOf(entry);
  }

  peek(key: string): LazyValue | undefined {
    return this.live(this.entries, key)?.value;
  }

  ttlLeft(key: string, value?: string): number | undefined {
    const entry = this.live(this.entries, key);
    if (!entry || (value !== undefined && entry.value !== value)) return undefined;
    return entry.expiresAt - this.clock.now();
  }

  async set(key: string, value: LazyValue, ttlMs: number): Promise<void> {
    this.put(key, value, ttlMs);
  }

  setNow(key: string, value: LazyValue, ttlMs: number): void {
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
    this.deleteNow(key);
  }

  deleteNow(key: string): void {
    this.entries.delete(key);
    this.counters.delete(key);
    this.changes?.deleted(key);
  }

  async hit(key: string, nowMs: number, ttlMs: number): Promise<Counter> {
    const existing = this.live(this.counters, key);
    const next = existing
      ? { count: existing.count + 1, firstSeen: existing.firstSeen, lastSeen: Math.max(existing.lastSeen, nowMs) }
      : { count: 1, firstSeen: nowMs, lastSeen: nowMs };
    const now = this.clock.now();
    const expiresAt = now + ttlMs;
    this.counters.set(key, { ...next, key, expiresAt });
    this.changes?.counter(key, next, expiresAt);
    this.countersCursor = sweep(this.counters, this.countersCursor, now);
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

  private put(key: string, value: LazyValue, ttlMs: number): void {
    const now = this.clock.now();
    const expiresAt = now + ttlMs;
    const entry = new Entry(key, value, expiresAt);
    this.entries.set(key, entry);
    this.changes?.entry(key, () => textOf(entry), expiresAt);
    this.entriesCursor = sweep(this.entries, this.entriesCursor, now);
  }

  private live<T extends { expiresAt: number }>(map: Map<string, T>, key: string): T | undefined {
    const e = map.get(key);
    if (e && e.expiresAt <= this.clock.now()) {
      map.delete(key);
      return undefined;
    }
    return e;
  }

  /**
   * Each write also examines the next few keys of the map it wrote, cycling through them with a
   * cursor, and drops the expired ones: the cost per write stays constant however many keys there are
   * (a full scan every N writes is quadratic at millions of `seen` keys), only the map that grows pays
   * for it, and an expired key lives at most one cycle of that map's writes.
   */
  private entriesCursor?: Iterator<Entry>;
  private countersCursor?: Iterator<StoredCounter>;
}

type StoredCounter = Counter & { readonly key: string; expiresAt: number };

/** An entry's text, made (once) if it is still lazy. */
function textOf(entry: Entry): string {
  if (typeof entry.value === 'function') entry.value = entry.value();
  return entry.value;
}

/** Keys examined per write: above 1, so sweeping outpaces the writes that add keys. */
const SWEEP_STEP = 4;

function sweep<T extends { readonly key: string; expiresAt: number }>(
  map: Map<string, T>,
  cursor: Iterator<T> | undefined,
  now: number,
): Iterator<T> {
  let it = cursor ?? map.values();
  for (let i = 0; i < SWEEP_STEP; i++) {
    const next = it.next();
    if (next.done) {
      // Start the next cycle on the following write (a Map iterator keeps going across deletions).
      it = map.values();
      break;
    }
    if (next.value.expiresAt <= now) map.delete(next.value.key);
  }
  return it;
}
