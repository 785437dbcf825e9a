import { alertViewJson } from '../../alert/view';
import type { RedisStateStore } from '../../store/redis';
import { evidenceText } from '../evidence';
import type { StoredRow } from '../row';
import type { ConsoleHistory, HistoryBounds, HistoryEntry, HistoryRecord, RecordResult, ScanPage } from './port';

/**
 * Keys, under the state store's prefix: a sorted set of fingerprints scored by last occurrence
 * (ms), hashes by fingerprint of the row, the alert JSON, the evidence (a JSON array), the id of
 * the latest evidence event and each entry's size, and the total size. Every key carries the age
 * bound as its TTL, so an abandoned history goes away by itself.
 */
const KEYS = [
  'console:idx',
  'console:rows',
  'console:detail',
  'console:ev',
  'console:evid',
  'console:sizes',
  'console:bytes',
] as const;

const RECORD = `
local fp = ARGV[1]
local created = 0
if redis.call('HEXISTS', KEYS[2], fp) == 0 then created = 1 end
redis.call('HSET', KEYS[2], fp, ARGV[3])
redis.call('HSET', KEYS[3], fp, ARGV[4])
local list = {}
local kept = redis.call('HGET', KEYS[4], fp)
if kept then list = cjson.decode(kept) end
local evMax = tonumber(ARGV[7])
local lastId = redis.call('HGET', KEYS[5], fp)
if evMax > 0 then
  for _, e in ipairs(cjson.decode(ARGV[5])) do
    if e[1] ~= lastId then
      list[#list + 1] = e[2]
      lastId = e[1]
    end
  end
  while #list > evMax do table.remove(list, 1) end
  if lastId then redis.call('HSET', KEYS[5], fp, lastId) end
end
local encoded = '[]'
if #list > 0 then encoded = cjson.encode(list) end
redis.call('HSET', KEYS[4], fp, encoded)
local size = 256 + #ARGV[3] + #ARGV[4] + #encoded
local old = tonumber(redis.call('HGET', KEYS[6], fp) or '0')
redis.call('HSET', KEYS[6], fp, size)
local bytes = redis.call('INCRBY', KEYS[7], size - old)
redis.call('ZADD', KEYS[1], ARGV[2], fp)
local evicted = {0, 0, 0}
while true do
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #oldest == 0 then break end
  local reason = 0
  if tonumber(oldest[2]) < tonumber(ARGV[10]) then reason = 3
  elseif redis.call('ZCARD', KEYS[1]) > tonumber(ARGV[8]) then reason = 1
  elseif bytes > tonumber(ARGV[9]) then reason = 2 end
  if reason == 0 then break end
  local victim = oldest[1]
  bytes = redis.call('INCRBY', KEYS[7], -tonumber(redis.call('HGET', KEYS[6], victim) or '0'))
  redis.call('ZREM', KEYS[1], victim)
  for i = 2, 6 do redis.call('HDEL', KEYS[i], victim) end
  evicted[reason] = evicted[reason] + 1
end
for i = 1, 7 do redis.call('PEXPIRE', KEYS[i], ARGV[11]) end
return {created, evicted[1], evicted[2], evicted[3], redis.call('ZCARD', KEYS[1]), bytes}
`;

const GET = `
local fp = ARGV[1]
local score = redis.call('ZSCORE', KEYS[1], fp)
if not score or tonumber(score) < tonumber(ARGV[2]) then return {} end
return {redis.call('HGET', KEYS[2], fp) or '', redis.call('HGET', KEYS[3], fp) or '', redis.call('HGET', KEYS[4], fp) or '[]'}
`;

/** Rows after (score, member), newest first: equal scores go by member, descending, as ZREVRANGEBYSCORE lists them. */
const SCAN = `
local limit = tonumber(ARGV[3])
local members, scores = {}, {}
local max = ARGV[1]
local more = 0
if ARGV[2] ~= '' then
  local ties = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1])
  for i = #ties, 1, -1 do
    if ties[i] < ARGV[2] then
      if #members >= limit then more = 1; break end
      members[#members + 1] = ties[i]; scores[#scores + 1] = ARGV[1]
    end
  end
  max = '(' .. ARGV[1]
end
if #members < limit then
  local rest = redis.call('ZREVRANGEBYSCORE', KEYS[1], max, ARGV[4], 'WITHSCORES', 'LIMIT', 0, limit - #members + 1)
  for i = 1, #rest, 2 do
    if #members >= limit then more = 1; break end
    members[#members + 1] = rest[i]; scores[#scores + 1] = rest[i + 1]
  end
else
  more = 1
end
local out = {more}
if #members > 0 then
  local rows = redis.call('HMGET', KEYS[2], unpack(members))
  for i = 1, #members do
    out[#out + 1] = members[i]; out[#out + 1] = scores[i]; out[#out + 1] = rows[i] or ''
  end
end
return out
`;

const SIZE = `return {redis.call('ZCARD', KEYS[1]), tonumber(redis.call('GET', KEYS[7]) or '0')}`;

/**
 * The history in Redis, shared by the replicas (scale-out mode), on the state store's connection.
 * Each operation is one Lua script, so the bounds hold atomically whichever replica writes; while
 * Redis is away they fail with UnavailableError like the state store's own commands.
 */
export class RedisConsoleHistory implements ConsoleHistory {
  constructor(
    private readonly redis: RedisStateStore,
    private readonly bounds: HistoryBounds,
    private readonly now: () => number,
  ) {}

  async record({ stored, alert, evidence }: HistoryRecord): Promise<RecordResult> {
    const b = this.bounds;
    const [created, count, bytes, age, size, total] = await this.redis.script<number[]>(RECORD, KEYS, [
      stored.row.fingerprint,
      Math.trunc(stored.lastSeenMs),
      JSON.stringify(stored),
      alertViewJson(alert),
      JSON.stringify((evidence ?? []).map((e) => [e.id, evidenceText(e, b.evidenceMaxBytes)])),
      '',
      b.evidencePerAlert,
      b.maxAlerts,
      b.maxBytes,
      Math.trunc(this.oldest()),
      Math.max(1, Math.ceil(b.maxAgeMs)),
    ]);
    return { created: created === 1, evicted: { count: count!, bytes: bytes!, age: age! }, count: size!, bytes: total! };
  }

  async get(fingerprint: string): Promise<HistoryEntry | undefined> {
    const [row, detail, evidence] = await this.redis.script<string[]>(GET, KEYS, [fingerprint, Math.trunc(this.oldest())]);
    if (!row || !detail) return undefined;
    return { stored: JSON.parse(row) as StoredRow, detail, evidence: evidenceList(evidence) };
  }

  async scan(cursor: string | undefined, limit: number): Promise<ScanPage> {
    const [score, member] = parseCursor(cursor);
    const [more, ...flat] = await this.redis.script<(string | number)[]>(SCAN, KEYS, [
      score,
      member,
      Math.max(1, limit),
      Math.trunc(this.oldest()),
    ]);
    const items: ScanPage['items'] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const row = String(flat[i + 2]);
      if (!row) continue; // evicted between the index and the row: gone
      items.push({ stored: JSON.parse(row) as StoredRow, cursor: `${flat[i + 1]}:${flat[i]}` });
    }
    return { items, done: more !== 1 };
  }

  async size(): Promise<{ count: number; bytes: number }> {
    const [count, bytes] = await this.redis.script<[number, number]>(SIZE, KEYS, []);
    return { count, bytes };
  }

  private oldest(): number {
    return this.now() - this.bounds.maxAgeMs;
  }
}

function parseCursor(cursor: string | undefined): [string, string] {
  if (cursor === undefined) return ['+inf', ''];
  const colon = cursor.indexOf(':');
  const score = cursor.slice(0, colon);
  // A cursor this adapter did not hand out lists nothing rather than failing (query.ts checks its own envelope).
  if (colon === -1 || !/^-?\d+$/.test(score)) return ['-inf', ''];
  return [score, cursor.slice(colon + 1)];
}

function evidenceList(json: string | undefined): string[] {
  if (!json) return [];
  const parsed = JSON.parse(json) as unknown;
  return Array.isArray(parsed) ? parsed.filter((e): e is string => typeof e === 'string') : [];
}
