/**
 * Shared state for the alert stage (dedup counters, "already notified" claims, recent alerts).
 * Memory by default; Redis so replicas agree. Every operation is atomic in every adapter; the
 * contract suite in test/store pins TTLs, atomic claims and counters.
 */
export interface StateStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Sets only if the key does not exist; true when this call set it (an atomic claim). */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  delete(key: string): Promise<void>;
  /**
   * Counts one occurrence at `nowMs` and returns the counter; creates it (count 1, firstSeen = now)
   * when absent or expired. The TTL is refreshed on every hit.
   */
  hit(key: string, nowMs: number, ttlMs: number): Promise<Counter>;
  health(): { ok: boolean; detail?: string };
  close(): Promise<void>;
}

export interface Counter {
  count: number;
  firstSeen: number;
  lastSeen: number;
}
