import Redis, { type RedisOptions } from 'ioredis';
import { UnavailableError } from '../core/errors';
import type { Counter, LazyValue, StateStore } from './port';

export interface RedisStateStoreOptions {
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
  url: string;
  /** Wins over a password in the URL. Never logged. */
  password?: string;
  /** TLS settings; `true` turns TLS on for a `redis://` URL. */
  tls?: boolean | { ca?: string; servername?: string; rejectUnauthorized?: boolean };
  /** Put before every key, so several Falconer installations can share one Redis. */
  keyPrefix: string;
  /** A command that takes longer fails (and is counted) instead of holding the pipeline. */
  commandTimeoutMs?: number;
  onError?: (err: Error) => void;
  onReconnect?: () => void;
}

export interface RedisStoreStats {
  errors: number;
  reconnects: number;
}

/**
 * Counts one hit atomically: the counter, when it started, the latest time seen (time can arrive out
 * of order from several replicas, so the max wins), and a refreshed TTL. Values come back as strings
 * so large millisecond times cross the Lua boundary exactly.
 */
const HIT_SCRIPT = `
local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
redis.call('HSETNX', KEYS[1], 'firstSeen', ARGV[1])
local last = redis.call('HGET', KEYS[1], 'lastSeen')
if (not last) or tonumber(ARGV[1]) > tonumber(last) then
  redis.call('HSET', KEYS[1], 'lastSeen', ARGV[1])
  last = ARGV[1]
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {tostring(count), redis.call('HGET', KEYS[1], 'firstSeen'), last}
`;

/** Compare-and-set: KEYS[1] takes ARGV[2] only while it holds exactly ARGV[1]. */
const REPLACE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
`;

/** The hand-off: list the record in the outbox (KEYS[2]), then create it (KEYS[1]) if absent. */
const HAND_OFF_SCRIPT = `
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
return 0
`;

/** setIfAbsent per key (KEYS[i] takes ARGV[i + 1]); for each, false when set, else the value held. */
const SET_IF_ABSENT_MANY_SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[i + 1], 'PX', ARGV[1], 'NX') then out[i] = false else out[i] = redis.call('GET', key) end
end
return out
`;

/** Compare-and-set per key: KEYS[i] takes ARGV[n + i + 1] only while it holds ARGV[i + 1]. */
const REPLACE_MANY_SCRIPT = `
local n = #KEYS
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then
    redis.call('SET', key, ARGV[n + i + 1], 'PX', ARGV[1])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
`;

/** The first argument is the number of keys; then the keys, then the script's ARGV. */
type ManyCommand<T> = (keys: number, ...args: string[]) => Promise<T[]>;

type HitCommand = (key: string, nowMs: string, ttlMs: string) => Promise<[string, string, string]>;
type ReplaceCommand = (key: string, expected: string, value: string, ttlMs: string) => Promise<number>;
type HandOffCommand = (
  key: string,
  outbox: string,
  value: string,
  ttlMs: string,
  dueAt: string,
  member: string,
) => Promise<number>;
type Commands = {
  falconerHit: HitCommand;
  falconerReplace: ReplaceCommand;
  falconerHandOff: HandOffCommand;
  falconerSetIfAbsentMany: ManyCommand<string | null>;
  falconerReplaceMany: ManyCommand<number>;
};

/**
 * Shared state in Redis so replicas agree on dedup counters and "already notified" claims.
 * Plain values and counters live under separate sub-prefixes, as they do in the memory store.
 * ioredis reconnects by itself; while it is away, operations fail fast with UnavailableError so the
 * pipeline leaves the events uncommitted and retries them.
 */
export class RedisStateStore implements StateStore {
  private readonly client: Redis & Commands;
  private readonly counts: RedisStoreStats = { errors: 0, reconnects: 0 };
  private lastError?: string;

  constructor(private readonly options: RedisStateStoreOptions) {
    const clientOptions: RedisOptions = {
      lazyConnect: false,
      maxRetriesPerRequest: 1,
      commandTimeout: options.commandTimeoutMs ?? 2_000,
      connectTimeout: 5_000,
      disconnectTimeout: 500,
      retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), 2_000),
    };
    if (options.password !== undefined) clientOptions.password = options.password;
    if (options.tls) clientOptions.tls = options.tls === true ? {} : options.tls;
    const client = new Redis(options.url, clientOptions);
    client.defineCommand('falconerHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
    client.defineCommand('falconerReplace', { numberOfKeys: 1, lua: REPLACE_SCRIPT });
    client.defineCommand('falconerHandOff', { numberOfKeys: 2, lua: HAND_OFF_SCRIPT });
    client.defineCommand('falconerSetIfAbsentMany', { lua: SET_IF_ABSENT_MANY_SCRIPT });
    client.defineCommand('falconerReplaceMany', { lua: REPLACE_MANY_SCRIPT });
    client.on('error', (err: Error) => {
      // Connection errors arrive here once per attempt; command errors are counted where they happen.
      this.lastError = err.message;
    });
    client.on('reconnecting', () => {
      this.counts.reconnects++;
      options.onReconnect?.();
    });
    client.on('ready', () => {
      this.lastError = undefined;
    });
    this.client = client as Redis & Commands;
  }

  async get(key: string): Promise<string | undefined> {
    const value = await this.run(() => this.client.get(this.valueKey(key)));
    return value ?? undefined;
  }

  async set(key: string, value: LazyValue, ttlMs: number): Promise<void> {
    const text = typeof value === 'function' ? value() : value;
    await this.run(() => this.client.set(this.valueKey(key), text, 'PX', pexpire(ttlMs)));
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const reply = await this.run(() => this.client.set(this.valueKey(key), value, 'PX', pexpire(ttlMs), 'NX'));
    return reply === 'OK';
  }

  async replace(key: string, expected: string, value: string, ttlMs: number): Promise<boolean> {
    const reply = await this.run(() => this.client.falconerReplace(this.valueKey(key), expected, value, String(pexpire(ttlMs))));
    return reply === 1;
  }

  async setIfAbsentMany(entries: readonly (readonly [string, string])[], ttlMs: number): Promise<(string | undefined)[]> {
    if (entries.length === 0) return [];
    const keys = entries.map(([key]) => this.valueKey(key));
    const reply = await this.run(() =>
      this.client.falconerSetIfAbsentMany(keys.length, ...keys, String(pexpire(ttlMs)), ...entries.map(([, value]) => value)),
    );
    return reply.map((held) => held ?? undefined);
  }

  async replaceMany(entries: readonly (readonly [string, string, string])[], ttlMs: number): Promise<boolean[]> {
    if (entries.length === 0) return [];
    const keys = entries.map(([key]) => this.valueKey(key));
    const reply = await this.run(() =>
      this.client.falconerReplaceMany(
        keys.length,
        ...keys,
        String(pexpire(ttlMs)),
        ...entries.map(([, expected]) => expected),
        ...entries.map(([, , value]) => value),
      ),
    );
    return reply.map((changed) => changed === 1);
  }

  async handOff(key: string, value: LazyValue, ttlMs: number, dueAt: number): Promise<boolean> {
    const text = typeof value === 'function' ? value() : value;
    const reply = await this.run(() =>
      this.client.falconerHandOff(
        this.valueKey(key),
        this.outboxKey(),
        text,
        String(pexpire(ttlMs)),
        String(Math.trunc(dueAt)),
        key,
      ),
    );
    return reply === 1;
  }

  async schedule(key: string, dueAt: number): Promise<void> {
    await this.run(() => this.client.zadd(this.outboxKey(), Math.trunc(dueAt), key));
  }

  async due(nowMs: number, limit: number): Promise<string[]> {
    return this.run(() => this.client.zrangebyscore(this.outboxKey(), '-inf', Math.trunc(nowMs), 'LIMIT', 0, limit));
  }

  async unschedule(key: string): Promise<void> {
    await this.run(() => this.client.zrem(this.outboxKey(), key));
  }

  async delete(key: string): Promise<void> {
    await this.run(() => this.client.del(this.valueKey(key), this.counterKey(key)));
  }

  async hit(key: string, nowMs: number, ttlMs: number): Promise<Counter> {
    const [count, firstSeen, lastSeen] = await this.run(() =>
      this.client.falconerHit(this.counterKey(key), String(Math.trunc(nowMs)), String(pexpire(ttlMs))),
    );
    return {
      count: Number(count),
      firstSeen: Number(firstSeen),
      lastSeen: Number(lastSeen),
    };
  }

  /**
   * Runs a Lua script on this connection with `keys` under the key prefix, failing (and counted)
   * like every other command: for the adapters of other ports that share it (event dead letters).
   */
  script<T>(lua: string, keys: readonly string[], args: readonly (string | number)[]): Promise<T> {
    const prefixed = keys.map((k) => `${this.options.keyPrefix}${k}`);
    return this.run(() => this.client.eval(lua, prefixed.length, ...prefixed, ...args) as Promise<T>);
  }

  health(): { ok: boolean; detail?: string } {
    const status = this.client.status;
    if (status === 'ready') return { ok: true };
    return {
      ok: false,
      detail: `redis ${status}${this.lastError ? `: ${this.lastError}` : ''}`,
    };
  }

  stats(): RedisStoreStats {
    return { ...this.counts };
  }

  async close(): Promise<void> {
    if (this.client.status === 'end') return;
    if (this.client.status !== 'ready') {
      // Nothing to flush: do not wait for a server that is not answering.
      this.client.disconnect();
      return;
    }
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  private valueKey(key: string): string {
    return `${this.options.keyPrefix}v:${key}`;
  }

  private outboxKey(): string {
    return `${this.options.keyPrefix}outbox`;
  }

  private counterKey(key: string): string {
    return `${this.options.keyPrefix}c:${key}`;
  }

  private async run<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      this.counts.errors++;
      const error = err instanceof Error ? err : new Error(String(err));
      this.options.onError?.(error);
      throw new UnavailableError(`redis: ${error.message}`, 1);
    }
  }
}

/** Redis refuses a zero or negative expiry; the shortest it keeps is 1 ms. */
function pexpire(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs));
}
