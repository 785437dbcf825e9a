import type { RedisStateStore } from '../redis';
import { tooLarge, type EventDeadLetterBounds, type EventDeadLetterStore, type StoredLetter } from './port';

/** Keys under the state store's prefix: letters by id, their order, the bytes held, the order's sequence. */
const KEYS = ['edl:letters', 'edl:order', 'edl:bytes', 'edl:seq'];

/** Adds or replaces ARGV[1] = ARGV[2] as the newest letter, then evicts the oldest until the bounds hold. */
const PUT = `
local size = string.len(ARGV[2])
if size > tonumber(ARGV[4]) then return -1 end
local old = redis.call('HSTRLEN', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[4]), ARGV[1])
local bytes = redis.call('INCRBY', KEYS[3], size - old)
local evicted = 0
while redis.call('ZCARD', KEYS[2]) > tonumber(ARGV[3]) or bytes > tonumber(ARGV[4]) do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  bytes = redis.call('INCRBY', KEYS[3], -redis.call('HSTRLEN', KEYS[1], oldest))
  redis.call('HDEL', KEYS[1], oldest)
  redis.call('ZREM', KEYS[2], oldest)
  evicted = evicted + 1
end
return evicted
`;

/** Newest first: {id, letter, id, letter, ...}. */
const LIST = `
local out = {}
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1)) do
  table.insert(out, id)
  table.insert(out, redis.call('HGET', KEYS[1], id))
end
return out
`;

/** Removes and returns the letters named in ARGV[2..], or the oldest ARGV[1] when none are named; oldest first. */
const TAKE = `
local ids
if #ARGV > 1 then
  ids = {}
  for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do ids[#ids + 1] = id end
  local wanted = {}
  for i = 2, #ARGV do wanted[ARGV[i]] = true end
  local chosen = {}
  for _, id in ipairs(ids) do if wanted[id] then chosen[#chosen + 1] = id end end
  ids = chosen
else
  ids = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1)
end
local out = {}
for _, id in ipairs(ids) do
  local letter = redis.call('HGET', KEYS[1], id)
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('DECRBY', KEYS[3], string.len(letter))
  table.insert(out, id)
  table.insert(out, letter)
end
return out
`;

const SIZE = `return {redis.call('HLEN', KEYS[1]), tonumber(redis.call('GET', KEYS[3]) or '0')}`;

/**
 * The event dead-letter store in Redis, shared by the replicas, on the state store's connection.
 * Each operation is one Lua script, so it is atomic; while Redis is away they fail with
 * UnavailableError like the state store's own commands.
 */
export class RedisEventDeadLetterStore implements EventDeadLetterStore {
  constructor(
    private readonly redis: RedisStateStore,
    private readonly bounds: EventDeadLetterBounds,
  ) {}

  async put(id: string, letter: string): Promise<number> {
    const evicted = await this.redis.script<number>(PUT, KEYS, [id, letter, this.bounds.maxCount, this.bounds.maxBytes]);
    if (evicted < 0) throw tooLarge(Buffer.byteLength(letter), this.bounds);
    return evicted;
  }

  async list(limit: number): Promise<StoredLetter[]> {
    if (limit <= 0) return [];
    return pairs(await this.redis.script<string[]>(LIST, KEYS, [limit]));
  }

  async take(ids: readonly string[] | undefined, limit: number): Promise<StoredLetter[]> {
    if (ids ? ids.length === 0 : limit <= 0) return [];
    return pairs(await this.redis.script<string[]>(TAKE, KEYS, [limit, ...(ids ?? [])]));
  }

  async size(): Promise<{ count: number; bytes: number }> {
    const [count, bytes] = await this.redis.script<[number, number]>(SIZE, KEYS, []);
    return { count, bytes };
  }
}

function pairs(flat: string[]): StoredLetter[] {
  const out: StoredLetter[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i]!, letter: flat[i + 1]! });
  return out;
}
