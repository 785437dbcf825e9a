import { createHash } from 'node:crypto';
import type { SecurityEvent } from '../core/event';
import type { StateStore } from '../store/port';

/**
 * - `claimed`: the id is new, and this request now holds it;
 * - `duplicate`: it was received and published before (a sender's retry);
 * - `in_flight`: another request holds it and has not finished publishing: neither a duplicate (that
 *   publish may still fail) nor new (it may succeed). The caller answers 503 so the sender tries again.
 */
export type ClaimOutcome = 'claimed' | 'duplicate' | 'in_flight';

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
 * accepted again.
 */
export interface RetryClaims {
  claim(event: SecurityEvent): Promise<Claim>;
}

export interface ClaimOptions {
  /** How long a published id is remembered (`ingest.retryDedupSeconds`). */
  ttlMs: number;
  /** How long a claim may stay unconfirmed before another request may take it over (a publish that died with its process). */
  pendingMs: number;
  now: () => number;
  onError: (err: unknown) => void;
}

const DONE = 'd';
const PENDING = 'p:';

/**
 * Claims in the state store, shared by replicas in scale-out mode. A claim is written as pending
 * (with its time) by an atomic `setIfAbsent` and confirmed by compare-and-set once published;
 * release and take-over are compare-and-set too, so a request only ever changes its own claim. Ids
 * are hashed into the key, so a hostile id costs a fixed-size key. A store that fails is not a reason
 * to refuse events: the claim is skipped (the pipeline's own seen-check still drops a redelivered id)
 * and `onError` counts it.
 */
export function storeClaims(store: StateStore, options: ClaimOptions): RetryClaims {
  const { ttlMs, pendingMs, now, onError } = options;
  const held = (key: string, value: string): Claim => ({
    outcome: 'claimed',
    confirm: () => store.replace(key, value, DONE, ttlMs).then(() => undefined, onError),
    release: () => store.replace(key, value, 'released', ttlMs).then(() => undefined, onError),
  });
  const noop = async () => undefined;
  const other = (outcome: ClaimOutcome): Claim => ({ outcome, confirm: noop, release: noop });

  return {
    async claim(event) {
      const key = claimKey(event);
      const mine = `${PENDING}${now()}:${Math.random().toString(36).slice(2)}`;
      try {
        if (await store.setIfAbsent(key, mine, ttlMs)) return held(key, mine);
        const current = await store.get(key);
        if (current === DONE) return other('duplicate');
        if (current === undefined) return (await store.setIfAbsent(key, mine, ttlMs)) ? held(key, mine) : other('in_flight');
        if (current.startsWith(PENDING) && now() - Number(current.split(':')[1]) < pendingMs) return other('in_flight');
        // Released, or pending for longer than any publish takes: free to take over.
        return (await store.replace(key, current, mine, ttlMs)) ? held(key, mine) : other('in_flight');
      } catch (err) {
        onError(err);
        return other('claimed');
      }
    },
  };
}

export function claimKey(event: SecurityEvent): string {
  const hash = createHash('sha256').update(event.k8s.cluster).update('\0').update(event.id).digest('base64url');
  return `ingested:${event.source}:${hash}`;
}

/** Identity of an event within one request: the same id twice in one batch is one event. */
export function batchKey(event: SecurityEvent): string {
  return `${event.source}\0${event.k8s.cluster}\0${event.id}`;
}
