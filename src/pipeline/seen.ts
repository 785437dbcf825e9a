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
  const made = keys.get(event);
  if (made !== undefined) return made;
  const k8s = event.k8s as SecurityEvent['k8s'] | undefined;
  const digest = hash('sha256', `${k8s?.cluster}\0${event.id}`, 'buffer').subarray(0, 16);
  const key = `${CLAIM_PREFIX}${event.source}:${digest.toString('base64url')}`;
  keys.set(event, key);
  return key;
}

/**
 * Keys made, by event object: ingest's claim makes an event's key and the embedded bus hands the
 * pipeline the same object, which would hash it again (a fifth of a non-alerting audit event's cost
 * after the bus, bench/profile.js). An event off Kafka or the journal is a new object: hashed anew.
 * Events are not changed once normalised, so the key cannot go stale.
 */
const keys = new WeakMap<object, string>();

export const CLAIM_PREFIX = 'ingested:';

/** The value of `seenKey` once the pipeline has processed (or parked) the event. */
export const PROCESSED = 's';
