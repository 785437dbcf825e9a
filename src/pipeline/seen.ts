import { hash } from 'node:crypto';
import type { SecurityEvent } from '../core/event';

/**
 * The one state-store key per event id that ingest and the pipeline share: ingest's retry claim
 * (src/ingest/claims.ts: pending, then published) becomes, once the pipeline has processed or parked
 * the event, `PROCESSED`, so a sender's retry is answered as a duplicate and a redelivery is skipped.
 * One key (and with a data dir one row) per event instead of a claim and a separate `seen:` mark.
 * Ids are hashed in, so a hostile id costs a fixed-size key: 128 bits of SHA-256, no collision in
 * any retry window (the one-shot `hash` skips the Hash object createHash builds per call). Safe on a
 * malformed event off the bus (no `k8s`): such an event must still be parkable.
 */
export function seenKey(event: Pick<SecurityEvent, 'source' | 'id' | 'k8s'>): string {
  const known = (event as { [SEEN_KEY]?: string })[SEEN_KEY];
  if (known !== undefined) return known;
  const key = keyOf(event);
  if (Object.isExtensible(event)) Object.defineProperty(event, SEEN_KEY, { value: key });
  return key;
}

/**
 * The key, kept on the event once made: ingest's claim makes it and the pipeline asks again for the
 * same object, which then also looks up the very string the store holds as its key. An event is not
 * changed once normalised, so the key stays its own. Non-enumerable: neither JSON (the bus, the
 * journal, dead letters) nor a spread copies it. Not a WeakMap: get-or-set there measured 1.9–3.5 µs
 * per event against 1.0–1.1 for hashing twice (its entries are ephemerons the collector traces).
 */
const SEEN_KEY = Symbol('seen key');

function keyOf(event: Pick<SecurityEvent, 'source' | 'id' | 'k8s'>): string {
  const k8s = event.k8s as SecurityEvent['k8s'] | undefined;
  const digest = hash('sha256', `${k8s?.cluster}\0${event.id}`, 'base64url');
  // Joined, not `+`: the key stays alive for the retry window, and `+` makes a tree of string
  // pieces (and a slice that keeps the whole digest) where `join` writes one flat string: 93 bytes
  // per live key instead of 197, and fewer objects for each young-generation GC to copy.
  return [CLAIM_PREFIX, event.source, ':', digest.slice(0, 21), last128BitsChar(digest)].join('');
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * The base64url of a digest's first 16 bytes is the whole digest's first 21 characters and this
 * one: the key stays what it always was (keys in a data dir and in Redis keep matching), without
 * the Buffer a `'buffer'` digest allocates, which made the key cost 1.0 µs instead of 0.33 (bench in
 * docs/performance.md). 16 bytes are 21 whole characters (126 bits) and the top 2 bits of the 22nd;
 * the rest of that character belongs to byte 17 in the long form and is zero in the short one.
 */
function last128BitsChar(digest: string): string {
  return BASE64URL[BASE64URL.indexOf(digest[21]!) & 0b110000]!;
}

export const CLAIM_PREFIX = 'ingested:';

/** The value of `seenKey` once the pipeline has processed (or parked) the event. */
export const PROCESSED = 's';
