import { createHash } from 'node:crypto';
import type { SecurityEvent } from '../core/event';
import type { StateStore } from '../store/port';

/**
 * Retry detection at the door: ingest claims each event id before publishing it, so a sender's
 * retry (same Falco uuid, same audit auditID+stage) is answered as a duplicate instead of being
 * accepted again. A claim whose publish fails is released, or the sender's retry of an event we
 * never took would be called a duplicate and lost.
 */
export interface RetryClaims {
  /** True when this call claimed the id (the event is new); false when it was already claimed. */
  claim(event: SecurityEvent): Promise<boolean>;
  release(event: SecurityEvent): Promise<void>;
}

/**
 * Claims in the state store (atomic `setIfAbsent`, shared by replicas in scale-out mode). Ids are
 * hashed into the key, so a hostile id costs a fixed-size key. A store that fails is not a reason to
 * refuse events: the claim is skipped (the pipeline's own seen-check still drops a redelivered id)
 * and `onError` counts it.
 */
export function storeClaims(store: StateStore, ttlMs: number, onError: (err: unknown) => void): RetryClaims {
  return {
    async claim(event) {
      try {
        return await store.setIfAbsent(claimKey(event), '1', ttlMs);
      } catch (err) {
        onError(err);
        return true;
      }
    },
    async release(event) {
      try {
        await store.delete(claimKey(event));
      } catch (err) {
        onError(err);
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
