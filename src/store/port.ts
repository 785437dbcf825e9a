/**
 * Shared state for the alert stage (dedup counters, "already notified" claims, recent alerts) and the
 * notification outbox. Memory by default; Redis so replicas agree. Every operation is atomic in every
 * adapter; the contract suite in test/store pins TTLs, atomic claims, counters and the outbox.
 */
/**
 * A value, or how to make it: a store that keeps values in this process makes it only when it is
 * read or written out, so a big record replaced soon after (a notification's hand-off record, once
 * sent) is never serialised. Stores that send values elsewhere (Redis) make it at once.
 */
export type LazyValue = string | (() => string);

export interface StateStore {
  get(key: string): Promise<string | undefined>;
  /** A lazy `value` is made at once by stores that send it elsewhere, else only when read or written out. */
  set(key: string, value: LazyValue, ttlMs: number): Promise<void>;
  /**
   * Stores that keep values in this process (memory, data dir; Redis has none): the value as set, a
   * lazy one not made, or undefined when absent or expired. Such a store applies each write when it
   * is called, so a `peek` and a write in one synchronous turn are a compare-and-set, and a caller
   * can tell its own lazy value again without having it made.
   */
  peek?(key: string): LazyValue | undefined;
  /**
   * Stores that keep values in this process: `set` and `delete` as plain calls, applied at once
   * (throwing instead of rejecting), so a caller that reads with `peek` can update a record in one
   * synchronous turn without a promise per operation (the correlate stage does, in embedded mode).
   */
  setNow?(key: string, value: LazyValue, ttlMs: number): void;
  deleteNow?(key: string): void;
  /**
   * Stores that keep values in this process: how long `key` has left to live (ms); undefined when
   * absent or expired, or (given `value`) when it holds anything else.
   */
  ttlLeft?(key: string, value?: string): number | undefined;
  /** Sets only if the key does not exist; true when this call set it (an atomic claim). */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Sets only if the key holds exactly `expected` (compare-and-set); true when this call set it. */
  replace(key: string, expected: string, value: string, ttlMs: number): Promise<boolean>;
  /**
   * `setIfAbsent` for many keys in one operation (one round trip to Redis; an audit batch claims its
   * events so). For each entry: undefined when this call set the key, else the value it holds. Each
   * key is its own atomic claim.
   */
  setIfAbsentMany(entries: readonly (readonly [key: string, value: string])[], ttlMs: number): Promise<(string | undefined)[]>;
  /** `replace` for many keys in one operation; true for each key this call changed. */
  replaceMany(entries: readonly (readonly [key: string, expected: string, value: string])[], ttlMs: number): Promise<boolean[]>;
  delete(key: string): Promise<void>;
  /**
   * Counts one occurrence at `nowMs` and returns the counter; creates it (count 1, firstSeen = now)
   * when absent or expired. The TTL is refreshed on every hit.
   */
  hit(key: string, nowMs: number, ttlMs: number): Promise<Counter>;
  /**
   * The durable hand-off of a notification, in one atomic step: sets `key` if it does not exist and
   * lists it in the outbox, due at `dueAt`. True when this call created the record. The outbox entry
   * is added either way, so a record is never left where no replica would look for it. An in-process
   * store makes a lazy `value` only if the record is created (a duplicate's hand-off serialises nothing).
   */
  handOff(key: string, value: LazyValue, ttlMs: number, dueAt: number): Promise<boolean>;
  /** Lists `key` in the outbox due at `dueAt` (moves it when already listed). */
  schedule(key: string, dueAt: number): Promise<void>;
  /** Outbox keys due at or before `nowMs`, earliest first, at most `limit`. */
  due(nowMs: number, limit: number): Promise<string[]>;
  /** Takes `key` off the outbox (the record itself is left alone). */
  unschedule(key: string): Promise<void>;
  health(): { ok: boolean; detail?: string };
  close(): Promise<void>;
}

export interface Counter {
  count: number;
  firstSeen: number;
  lastSeen: number;
}
