import { randomBytes } from 'node:crypto';
import type { SecurityEvent } from '../core/event';
import { CLAIM_PREFIX, PROCESSED, seenKey } from '../pipeline/seen';
import type { StateStore } from '../store/port';

/**
 * - `claimed`: the id is new (or another request holds it but has not published it yet: that
 *   request may fail or have died with its replica, so this one publishes too; the pipeline's
 *   seen-check drops the second copy if both get through). Publish it, then confirm or release.
 * - `duplicate`: it was received and published (or processed) before: a sender's retry.
 */
export type ClaimOutcome = 'claimed' | 'duplicate';

export interface Claim {
  readonly outcome: ClaimOutcome;
  /** The event is on the bus: from now on its id is a duplicate. */
  confirm(): Promise<void>;
  /** The publish failed: the id is free again, so the sender's retry is accepted, not called a duplicate. */
  release(): Promise<void>;
}

/**
 * Retry detection at the door: ingest claims each event id before publishing it, so a sender's
 * retry (same Falco uuid, same audit auditID+stage) is answered as a duplicate instead of being
 * accepted again. Only a published id is a duplicate: a claim never makes an event be dropped
 * before some request has put it on the bus.
 */
export interface RetryClaims {
  claim(event: SecurityEvent): Promise<Claim>;
  /**
   * Claims the events of one request at once: one store operation for the batch (one round trip to
   * Redis instead of one or two per event), and one to confirm or release what it claimed.
   */
  claimAll(events: readonly SecurityEvent[]): Promise<BatchClaim>;
}

/** The claims of one request's events: an outcome per event, in order; confirm and release cover the claimed ones. */
export interface BatchClaim {
  readonly outcomes: readonly ClaimOutcome[];
  confirm(): Promise<void>;
  release(): Promise<void>;
}

export interface ClaimOptions {
  /** How long a published id is remembered (`ingest.retryDedupSeconds`). */
  ttlMs: number;
  onError: (err: unknown) => void;
}

const DONE = 'd';

/**
 * A pending claim's value must differ between requests (and replicas) so compare-and-set only ever
 * changes one's own claim: a random prefix per process and a counter do that without asking the
 * CSPRNG once per event (which cost about as much as the store operation itself, bench/profile.js).
 */
const PROCESS_NONCE = randomBytes(9).toString('base64url');
let claimsMade = 0;

/**
 * Claims in the state store, shared by replicas in scale-out mode. A claim is written as pending (a
 * value of its own) by an atomic `setIfAbsent`, and confirmed or released by compare-and-set, so a
 * request only ever changes its own claim, or a pending one it published itself. The key is the
 * event's `seenKey`, which the pipeline marks `PROCESSED` once it is done with the event (a confirm
 * that comes later finds the mark and leaves it). A store that fails is not a reason to refuse
 * events: the claim is skipped (the pipeline's seen-check still drops a redelivered id) and
 * `onError` counts it.
 */
export function storeClaims(store: StateStore, { ttlMs, onError }: ClaimOptions): RetryClaims {
  const noop = async () => undefined;
  const cas = (key: string, from: string, to: string) => () => store.replace(key, from, to, ttlMs).then(() => undefined, onError);
  const casAll = (changes: [string, string, string][]) => async () => {
    if (changes.length) await store.replaceMany(changes, ttlMs).then(() => undefined, onError);
  };
  return {
    async claimAll(events) {
      const keys = events.map(claimKey);
      // One pending value for the whole request: it still differs from every other request's, which
      // is all compare-and-set needs (a value per event was a string per event for nothing).
      const mine = `p:${PROCESS_NONCE}${(claimsMade++).toString(36)}`;
      let held: (string | undefined)[];
      try {
        held = await store.setIfAbsentMany(
          keys.map((key) => [key, mine] as const),
          ttlMs,
        );
      } catch (err) {
        onError(err);
        return { outcomes: events.map(() => 'claimed' as const), confirm: noop, release: noop };
      }
      const outcomes: ClaimOutcome[] = [];
      const confirms: [string, string, string][] = [];
      const ours: string[] = [];
      held.forEach((current, i) => {
        const key = keys[i]!;
        if (current === undefined) {
          outcomes.push('claimed');
          confirms.push([key, mine, DONE]);
          ours.push(key);
        } else if (current === DONE || current === PROCESSED) outcomes.push('duplicate');
        else {
          // Pending elsewhere (or released): publish too, as `claim` does; only our success marks it done.
          outcomes.push('claimed');
          confirms.push([key, current, DONE]);
        }
      });
      const release = () => casAll(ours.map((key) => [key, mine, 'free']))();
      return { outcomes, confirm: casAll(confirms), release };
    },
    async claim(event) {
      const key = claimKey(event);
      const mine = `p:${PROCESS_NONCE}${(claimsMade++).toString(36)}`;
      try {
        if (await store.setIfAbsent(key, mine, ttlMs))
          return { outcome: 'claimed', confirm: cas(key, mine, DONE), release: cas(key, mine, 'free') };
        const current = await store.get(key);
        if (current === DONE || current === PROCESSED) return { outcome: 'duplicate', confirm: noop, release: noop };
        // Pending elsewhere (or released, or just expired): publish too; only our own success marks it done.
        return { outcome: 'claimed', confirm: current === undefined ? noop : cas(key, current, DONE), release: noop };
      } catch (err) {
        onError(err);
        return { outcome: 'claimed', confirm: noop, release: noop };
      }
    },
  };
}

/**
 * Whether a store entry is a retry claim not yet marked processed (pending, published or released):
 * state a restart may forget. The journal and the processed marks decide what is redone; a retry
 * that comes after a restart is published again and skipped as processed. A data dir keeps these in
 * memory only: two of the three writes per event an audit batch made.
 */
export function isUnprocessedClaim(key: string, value: () => string): boolean {
  return key.startsWith(CLAIM_PREFIX) && value() !== PROCESSED;
}

/** The store key of an event's claim: the key the pipeline marks it processed under (`seenKey`). */
export const claimKey = (event: SecurityEvent): string => seenKey(event);
