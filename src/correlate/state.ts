import type { StateStore } from '../store/port';

/** Most bytes one correlation record may take in the store; older entries are dropped to fit. */
export const MAX_RECORD_BYTES = 64 * 1024;
const CAS_ATTEMPTS = 8;

/**
 * Read-modify-write of one JSON list in the state store, atomic by compare-and-set: two replicas
 * (or two batches during a rebalance) writing the same pod's record do not lose each other's entries.
 * `change` gets the current list and returns the next one, or undefined to leave it alone. The list
 * is cut from the front (oldest first) until it fits `MAX_RECORD_BYTES`.
 */
export async function updateList<T>(
  store: StateStore,
  key: string,
  ttlMs: number,
  change: (current: T[]) => T[] | undefined,
  /** Parsed records by store key: reading back what this process wrote costs no parse. `change` must not mutate. */
  cache?: ParsedCache<T[]>,
): Promise<T[]> {
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const raw = await store.get(key);
    const current = raw === undefined ? [] : cache ? cache.parse(key, raw) : (JSON.parse(raw) as T[]);
    const next = change(current);
    if (next === undefined) return current;
    let text = JSON.stringify(next);
    while (text.length > MAX_RECORD_BYTES && next.length > 1) {
      next.shift();
      text = JSON.stringify(next);
    }
    const written = raw === undefined ? await store.setIfAbsent(key, text, ttlMs) : await store.replace(key, raw, text, ttlMs);
    if (written) {
      cache?.put(key, text, next);
      return next;
    }
  }
  throw new Error(`correlation record ${key} kept changing under us`);
}

export async function readList<T>(store: StateStore, key: string): Promise<T[]> {
  const raw = await store.get(key);
  return raw === undefined ? [] : (JSON.parse(raw) as T[]);
}

/**
 * The pods this replica keeps correlation records for, least recently used first: beyond `max` the
 * oldest pod's records are deleted, so the state stays bounded however many pods the cluster has.
 * (Records also expire by TTL; with several replicas each bounds what it writes.)
 */
export class PodIndex {
  private readonly pods = new Map<string, true>();

  constructor(
    private readonly max: number,
    private readonly forget: (pod: string) => void,
  ) {}

  touch(pod: string): void {
    this.pods.delete(pod);
    this.pods.set(pod, true);
    while (this.pods.size > this.max) {
      const oldest = this.pods.keys().next().value as string;
      this.pods.delete(oldest);
      this.forget(oldest);
    }
  }

  get size(): number {
    return this.pods.size;
  }
}

/**
 * Parsed JSON records by key, with the text they were parsed from, so reading an unchanged record
 * again costs a string comparison instead of a parse (the memory store even hands back the same
 * string). Bounded, least recently used out first.
 */
export class ParsedCache<T> {
  private readonly entries = new Map<string, { raw: string; value: T }>();

  constructor(private readonly max: number) {}

  parse(key: string, raw: string): T {
    const hit = this.entries.get(key);
    if (hit && hit.raw === raw) return hit.value;
    const value = JSON.parse(raw) as T;
    this.put(key, raw, value);
    return value;
  }

  /** The value parsed from exactly `raw` under `key`, if cached. */
  peek(key: string, raw: string): T | undefined {
    const hit = this.entries.get(key);
    return hit && hit.raw === raw ? hit.value : undefined;
  }

  /** What this process just wrote: the text and the value it came from. */
  put(key: string, raw: string, value: T): void {
    this.entries.delete(key);
    this.entries.set(key, { raw, value });
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
  }
}

/**
 * A bounded cache with no per-entry bookkeeping: entries go into the young map; when it is full it
 * becomes the old one and the old is dropped whole. (A Map used as an LRU, deleting its first key on
 * every insert, makes V8 walk the deleted slots at the front again and again.) At most `max` entries.
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
    if (this.young.size >= this.max / 2) {
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
