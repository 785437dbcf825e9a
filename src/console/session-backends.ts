import type { RedisStateStore } from '../store/redis';

/** A session as a backend keeps it: `usedAt` is kept by the backend itself (it orders and expires on it). */
export interface StoredSession {
  name: string;
  scopes: string[];
  csrf: string;
  /** sha256 of the token signed in with (base64url): the token itself is never kept. */
  tokenDigest: string;
  createdAt: number;
}

export interface SessionBounds {
  max: number;
  /**
   * Most sessions of one token: signing in beyond it ends that token's least recently used session,
   * so one token signing in again and again cannot push everyone else's sessions out of `max`.
   */
  maxPerToken: number;
  idleMs: number;
  absoluteMs: number;
}

/** Where sessions live: this process (embedded mode), or Redis, so every replica knows every session. */
export interface SessionBackend {
  /** Stores a session; beyond `maxPerToken` its token's least recently used ones end, beyond `max` anyone's. */
  create(key: string, session: StoredSession, now: number): Promise<void>;
  /** The session if it was used within the idle time, marked as used now; an expired one is removed. */
  use(key: string, now: number): Promise<StoredSession | undefined>;
  delete(key: string): Promise<boolean>;
  /** Live sessions. */
  size(now: number): Promise<number>;
}

export class MemorySessions implements SessionBackend {
  /** In least recently used order (a use re-inserts). */
  private readonly byKey = new Map<string, { session: StoredSession; usedAt: number }>();

  constructor(private readonly bounds: SessionBounds) {}

  create(key: string, session: StoredSession, now: number): Promise<void> {
    this.sweep(now);
    const sameToken: string[] = [];
    for (const [k, e] of this.byKey) if (e.session.tokenDigest === session.tokenDigest) sameToken.push(k);
    for (let i = 0; i <= sameToken.length - this.bounds.maxPerToken; i++) this.byKey.delete(sameToken[i]!);
    this.byKey.set(key, { session, usedAt: now });
    while (this.byKey.size > this.bounds.max) this.byKey.delete(this.byKey.keys().next().value as string);
    return Promise.resolve();
  }

  use(key: string, now: number): Promise<StoredSession | undefined> {
    const entry = this.byKey.get(key);
    if (!entry) return Promise.resolve(undefined);
    this.byKey.delete(key);
    if (now - entry.usedAt >= this.bounds.idleMs) return Promise.resolve(undefined);
    entry.usedAt = now;
    this.byKey.set(key, entry);
    return Promise.resolve(entry.session);
  }

  delete(key: string): Promise<boolean> {
    return Promise.resolve(this.byKey.delete(key));
  }

  size(now: number): Promise<number> {
    this.sweep(now);
    return Promise.resolve(this.byKey.size);
  }

  /** The least recently used come first, so the idle ones are at the front. */
  private sweep(now: number): void {
    for (const [key, entry] of this.byKey) {
      if (now - entry.usedAt < this.bounds.idleMs) break;
      this.byKey.delete(key);
    }
  }
}

const KEYS = ['console:sessions', 'console:session'] as const;
/** The sessions of one token (by its digest); a member may outlive its session until the token's next sign-in. */
const tokenKey = (digest: string) => `console:sessions:token:${digest}`;

// KEYS[3] is the set of one token's sessions. Those that ended elsewhere (no longer in KEYS[1]) are
// dropped from it; of the live ones, the least recently used (lowest idle deadline) beyond
// ARGV[7] - 1 end before the new one is added.
const CREATE = `
for _, k in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])) do redis.call('HDEL', KEYS[2], k) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
local live = {}
for _, k in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  local deadline = redis.call('ZSCORE', KEYS[1], k)
  if deadline then table.insert(live, {k, tonumber(deadline)}) else redis.call('SREM', KEYS[3], k) end
end
table.sort(live, function(a, b) return a[2] < b[2] end)
for i = 1, #live - tonumber(ARGV[7]) + 1 do
  redis.call('ZREM', KEYS[1], live[i][1])
  redis.call('HDEL', KEYS[2], live[i][1])
  redis.call('SREM', KEYS[3], live[i][1])
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('PEXPIRE', KEYS[3], ARGV[6])
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[5])
if over > 0 then
  for _, k in ipairs(redis.call('ZRANGE', KEYS[1], 0, over - 1)) do redis.call('HDEL', KEYS[2], k) end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, over - 1)
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return 1
`;

const USE = `
local deadline = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not deadline then return false end
local json = redis.call('HGET', KEYS[2], ARGV[1])
if not json or tonumber(deadline) <= tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  return false
end
redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
return json
`;

const DELETE = `
redis.call('HDEL', KEYS[2], ARGV[1])
return redis.call('ZREM', KEYS[1], ARGV[1])
`;

const SIZE = `return redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[1], '+inf')`;

/**
 * Sessions in Redis (scale-out mode): a hash of sessions and a sorted set of their idle deadlines,
 * so a sign-in on one replica works on all, expiry and the bound hold across them, and sign-out
 * ends it everywhere. Each operation is one Lua script.
 */
export class RedisSessions implements SessionBackend {
  constructor(
    private readonly redis: RedisStateStore,
    private readonly bounds: SessionBounds,
  ) {}

  async create(key: string, session: StoredSession, now: number): Promise<void> {
    const b = this.bounds;
    await this.redis.script<number>(
      CREATE,
      [...KEYS, tokenKey(session.tokenDigest)],
      [key, JSON.stringify(session), now + b.idleMs, now, b.max, Math.ceil(Math.max(b.idleMs, b.absoluteMs)), b.maxPerToken],
    );
  }

  async use(key: string, now: number): Promise<StoredSession | undefined> {
    const json = await this.redis.script<string | null>(USE, KEYS, [key, now, this.bounds.idleMs]);
    return json ? (JSON.parse(json) as StoredSession) : undefined;
  }

  async delete(key: string): Promise<boolean> {
    return (await this.redis.script<number>(DELETE, KEYS, [key])) === 1;
  }

  size(now: number): Promise<number> {
    return this.redis.script<number>(SIZE, KEYS, [now]);
  }
}
