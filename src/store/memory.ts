import type { Clock } from '../core/clock';
import type { Counter, StateStore } from './port';

interface Entry {
  value: string;
  expiresAt: number;
}

/** In-process state for the embedded mode. Expired keys are dropped lazily and by a bounded sweep. */
export class MemoryStateStore implements StateStore {
  private readonly entries = new Map<string, Entry>();
  private readonly counters = new Map<string, Counter & { expiresAt: number }>();
  private writes = 0;

  constructor(private readonly clock: Clock) {}

  async get(key: string): Promise<string | undefined> {
    return this.live(this.entries, key)?.value;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.entries.set(key, { value, expiresAt: this.clock.now() + ttlMs });
    this.maybeSweep();
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.live(this.entries, key)) return false;
    await this.set(key, value, ttlMs);
    return true;
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
    this.counters.delete(key);
  }

  async hit(key: string, nowMs: number, ttlMs: number): Promise<Counter> {
    const existing = this.live(this.counters, key);
    const next = existing
      ? { count: existing.count + 1, firstSeen: existing.firstSeen, lastSeen: Math.max(existing.lastSeen, nowMs) }
      : { count: 1, firstSeen: nowMs, lastSeen: nowMs };
    this.counters.set(key, { ...next, expiresAt: this.clock.now() + ttlMs });
    this.maybeSweep();
    return next;
  }

  health() {
    return { ok: true };
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.counters.clear();
  }

  size(): number {
    return this.entries.size + this.counters.size;
  }

  private live<T extends { expiresAt: number }>(map: Map<string, T>, key: string): T | undefined {
    const e = map.get(key);
    if (e && e.expiresAt <= this.clock.now()) {
      map.delete(key);
      return undefined;
    }
    return e;
  }

  /** Every 1024 writes, drop what has expired, so memory stays bounded by the live keys. */
  private maybeSweep(): void {
    if (++this.writes % 1024 !== 0) return;
    const now = this.clock.now();
    for (const map of [this.entries, this.counters] as Map<string, { expiresAt: number }>[]) {
      for (const [k, e] of map) if (e.expiresAt <= now) map.delete(k);
    }
  }
}
