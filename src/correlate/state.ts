import type { StateStore } from '../store/port';
import { lazyText, localStore, ParsedCache, textOf, type LocalStore } from '../store/local';

/** Most bytes one correlation record may take in the store; older entries are dropped to fit. */
export const MAX_RECORD_BYTES = 64 * 1024;
const CAS_ATTEMPTS = 8;

/**
 * Read-modify-write of one JSON list in the state store, atomic by compare-and-set: two replicas
 * (or two batches during a rebalance) writing the same pod's record do not lose each other's entries.
 * `change` gets the current list and returns the next one, or undefined to leave it alone. The list
 * is cut from the front (oldest first) until it fits `MAX_RECORD_BYTES`. With `exclusive` and an
 * in-process store, the record is read and written in one synchronous turn (`StateStore.peek`) and
 * kept as a lazy value: its text is made only if something reads it (or the data dir writes it out).
 */
export async function updateList<T>(
  store: StateStore,
  key: string,
  ttlMs: number,
  change: (current: T[]) => T[] | undefined,
  /** Parsed records by store key: reading back what this process wrote costs no parse. `change` must not mutate. */
  cache?: ParsedCache<T[]>,
  exclusive = false,
): Promise<T[]> {
  const local = localStore(store, exclusive);
  if (local) return updateLocalList(local, key, ttlMs, change, cache);
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const raw = await store.get(key);
    const current = raw === undefined ? [] : cache ? cache.parse(key, raw) : (JSON.parse(raw) as T[]);
    const next = change(current);
    if (next === undefined) return current;
    const text = `[${fitted(next).join(',')}]`;
    const written = raw === undefined ? await store.setIfAbsent(key, text, ttlMs) : await store.replace(key, raw, text, ttlMs);
    if (written) {
      cache?.put(key, text, next);
      return next;
    }
  }
  throw new Error(`correlation record ${key} kept changing under us`);
}

/**
 * `updateList` on a `LocalStore`, in one synchronous turn: the record is kept as a lazy value, its
 * text made only if something reads it (or the data dir writes it out).
 */
export function updateLocalList<T>(
  store: LocalStore,
  key: string,
  ttlMs: number,
  change: (current: T[]) => T[] | undefined,
  cache?: ParsedCache<T[]>,
): T[] {
  const raw = store.peek(key);
  const current = raw === undefined ? [] : cache ? cache.parse(key, raw) : (JSON.parse(textOf(raw)) as T[]);
  const next = change(current);
  if (next === undefined) return current;
  const texts = fitted(next);
  const value = lazyText(() => `[${texts.join(',')}]`);
  store.setNow(key, value, ttlMs);
  cache?.put(key, value, next);
  return next;
}

/**
 * The entries' texts, the list cut from the front (in place) until its record fits
 * `MAX_RECORD_BYTES`. Assembled from each entry's cached text: most of a list is the same entries as last time.
 */
function fitted(next: unknown[]): string[] {
  const texts = next.map(itemJson);
  let length = texts.length + 1;
  for (const t of texts) length += t.length;
  while (length > MAX_RECORD_BYTES && next.length > 1) {
    next.shift();
    length -= texts.shift()!.length + 1;
  }
  return texts;
}

/**
 * The JSON of a list entry, by object: entries are never mutated once in a list (`change` must not
 * mutate), and those parsed from the store are the same objects while their record is cached. Kept
 * on the entry itself (non-enumerable: neither JSON nor a spread copies it), not in a WeakMap: a
 * lookup there is a miss into a big table, and the collector traces a WeakMap's entries as ephemerons.
 */
const ITEM_TEXT = Symbol('item text');

function itemJson(item: unknown): string {
  if (typeof item !== 'object' || item === null) return JSON.stringify(item) ?? 'null';
  const known = (item as { [ITEM_TEXT]?: string })[ITEM_TEXT];
  if (known !== undefined) return known;
  const text = JSON.stringify(item);
  if (Object.isExtensible(item)) Object.defineProperty(item, ITEM_TEXT, { value: text, enumerable: false });
  return text;
}

export async function readList<T>(store: StateStore, key: string): Promise<T[]> {
  const raw = await store.get(key);
  return raw === undefined ? [] : (JSON.parse(raw) as T[]);
}

/**
 * The pods this replica keeps correlation records for, least recently used first: beyond `max` the
 * oldest pod's records are deleted, so the state stays bounded however many pods the cluster has.
 * (Records also expire by TTL; with several replicas each bounds what it writes.) A linked list
 * through a Map's values, so neither a touch nor an eviction iterates the Map (see `GenerationalCache`).
 */
export class PodIndex<S = never> {
  private readonly nodes = new Map<string, PodNode<S>>();
  /** Least recently used end. */
  private head?: PodNode<S>;
  private tail?: PodNode<S>;

  constructor(
    private readonly max: number,
    private readonly forget: (pod: string) => void,
  ) {}

  /** Marks `pod` used now; returns the key as first touched, so what each pod's records keep is one string. */
  touch(pod: string): string {
    return this.node(pod).pod;
  }

  /** `touch`, returning the pod's node: what this process keeps for the pod lives on it, and goes with it. */
  node(pod: string): PodNode<S> {
    let node = this.nodes.get(pod);
    if (node) return this.use(node);
    node = new PodNode<S>(pod);
    this.nodes.set(pod, node);
    return this.last(node);
  }

  /** Marks the pod of `node` used now, without a lookup; its node again, or the pod's new one if `node` was evicted since. */
  use(node: PodNode<S>): PodNode<S> {
    if (!node.indexed) return this.node(node.pod);
    if (node === this.tail) return node;
    this.unlink(node);
    return this.last(node);
  }

  /** `node` becomes the most recently used, and the least recently used leave beyond `max`. */
  private last(node: PodNode<S>): PodNode<S> {
    node.prev = this.tail;
    node.next = undefined;
    if (this.tail) this.tail.next = node;
    this.tail = node;
    this.head ??= node;
    while (this.nodes.size > this.max && this.head) {
      const oldest = this.head;
      this.unlink(oldest);
      oldest.indexed = false;
      this.nodes.delete(oldest.pod);
      this.forget(oldest.pod);
    }
    return node;
  }

  /** The pod's node if this replica tracks it, without marking it used. */
  peek(pod: string): PodNode<S> | undefined {
    return this.nodes.get(pod);
  }

  get size(): number {
    return this.nodes.size;
  }

  private unlink(node: PodNode<S>): void {
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    node.prev = node.next = undefined;
  }
}

/** One pod in a `PodIndex`; `state` is what its owner keeps for the pod in process (undefined until set). */
export class PodNode<S> {
  prev?: PodNode<S> = undefined;
  next?: PodNode<S> = undefined;
  state?: S = undefined;
  /** In its index (false once evicted: a new node stands for the pod if it comes back). */
  indexed = true;

  constructor(readonly pod: string) {}
}
