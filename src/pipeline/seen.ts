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
  let key = keys.get(event);
  if (key === undefined) {
    const k8s = event.k8s as SecurityEvent['k8s'] | undefined;
    const digest = hash('sha256', `${k8s?.cluster}\0${event.id}`, 'buffer').subarray(0, 16);
    key = `${CLAIM_PREFIX}${event.source}:${digest.toString('base64url')}`;
    keys.set(event, key);
  }
  return key;
}

/**
 * By event object (never changed once normalised): ingest claims the key and the pipeline marks it,
 * and the memory bus hands the pipeline the very object ingest published, so it is hashed once.
 */
const keys = new WeakMap<object, string>();

export const CLAIM_PREFIX = 'ingested:';

/** The value of `seenKey` once the pipeline has processed (or parked) the event. */
export const PROCESSED = 's';
