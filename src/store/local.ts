// What an in-process state store offers beside its port (values made only when read, reads and writes
// in one synchronous turn), and the caches of parsed records kept by the stages that read it.
import type { LazyValue, StateStore } from './port';

/** A record's text made only when needed, remembering what it made (a store that makes it keeps that text). */
export interface LazyText {
  (): string;
  made?: string;
}

/** Once made, it lets go of what it was made from (a lazy record should not hold its objects for its whole TTL). */
export function lazyText(make: () => string): LazyText {
  let maker: (() => string) | undefined = make;
  const lazy: LazyText = () => {
    if (lazy.made === undefined) {
      lazy.made = maker!();
      maker = undefined;
    }
    return lazy.made;
  };
  return lazy;
}

/** A stored value's text, made if it is still lazy. */
export function textOf(value: LazyValue): string {
  return typeof value === 'function' ? value() : value;
}

/**
 * Whether an in-process store's value (`peek`) is what was `written`: the same lazy value, or the
 * same text (a lazy value the store has made since is its text). Undefined matches only undefined.
 */
export function sameValue(stored: LazyValue | undefined, written: LazyValue | undefined): boolean {
  if (stored === written) return true;
  if (stored === undefined || written === undefined) return false;
  const a = typeof stored === 'function' ? (stored as LazyText).made : stored;
  const b = typeof written === 'function' ? (written as LazyText).made : written;
  return a !== undefined && a === b;
}

/**
 * An in-process store that is this process's alone (embedded mode), read and written synchronously:
 * a record's read, change and write happen in one turn of the event loop, so nothing comes between
 * them (no compare-and-set to retry) and no promise is made per store operation.
 */
export interface LocalStore {
  peek(key: string): LazyValue | undefined;
  setNow(key: string, value: LazyValue, ttlMs: number): void;
  deleteNow(key: string): void;
  ttlLeft?(key: string, value?: string): number | undefined;
  /** The store's clock (its TTLs run on it). */
  now?(): number;
  /** What is written outlives the process (a data dir). */
  readonly persistent?: boolean;
}

/** The store as a `LocalStore`, when it is exclusive and in process; undefined otherwise (Redis, or shared). */
export function localStore(store: StateStore, exclusive: boolean | undefined): LocalStore | undefined {
  return exclusive && store.peek && store.setNow && store.deleteNow ? (store as StateStore & LocalStore) : undefined;
}

/**
 * The store's value under `key`: with `exclusive` (the store is this process's alone, embedded mode)
 * and an in-process store, as set (a lazy record not made); otherwise its text.
 */
export function readValue(
  store: StateStore,
  key: string,
  exclusive: boolean,
): LazyValue | undefined | Promise<string | undefined> {
  return exclusive && store.peek ? store.peek(key) : store.get(key);
}

/**
 * Parsed JSON records by key, with the text they were parsed from, so reading an unchanged record
 * again costs a string comparison instead of a parse (the memory store even hands back the same
 * string). Bounded, least recently used out first.
 */
export class ParsedCache<T> {
  private readonly entries: GenerationalCache<{ raw: LazyValue; value: T }>;

  constructor(max: number) {
    this.entries = new GenerationalCache(max);
  }

  /** `raw` may be a lazy value this process wrote (an in-process store's `peek`): recognised without being made. */
  parse(key: string, raw: LazyValue): T {
    const hit = this.entries.get(key);
    if (hit && sameValue(raw, hit.raw)) return hit.value;
    const value = JSON.parse(textOf(raw)) as T;
    this.put(key, raw, value);
    return value;
  }

  /** The value parsed from exactly `raw` under `key`, if cached. */
  peek(key: string, raw: LazyValue): T | undefined {
    const hit = this.entries.get(key);
    return hit && sameValue(raw, hit.raw) ? hit.value : undefined;
  }

  /** What this process just wrote: the text (or lazy value) and the value it came from. */
  put(key: string, raw: LazyValue, value: T): void {
    this.entries.set(key, { raw, value });
  }
}

/**
 * A bounded cache with no per-entry bookkeeping: entries go into the young map; when it is full it
 * becomes the old one and the old is dropped whole; a hit in the old one moves to the young. At
 * most `max` entries. A Map used as an LRU (delete the first key on every insert) is O(size) per
 * insert in V8, which walks the deleted slots at the front of the table again on every
 * `keys().next()`: 9 µs an insert at 4096 entries, 55 µs at 50k (measured, Node 24).
 */
export class GenerationalCache<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();

  constructor(private readonly max: number) {}

  get(key: string): V | undefined {
    const hit = this.young.get(key);
    if (hit !== undefined) return hit;
    const old = this.old.get(key);
    if (old !== undefined) this.set(key, old);
    return old;
  }

  set(key: string, value: V): void {
    this.young.set(key, value);
    if (this.young.size >= Math.max(1, this.max / 2)) {
      this.old = this.young;
      this.young = new Map();
    }
  }

  delete(key: string): void {
    this.young.delete(key);
    this.old.delete(key);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }
}
