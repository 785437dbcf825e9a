import type { SecurityEvent } from '../core/event';

/**
 * The state-store key that marks an event as processed (or parked), so a redelivery skips it. Safe
 * on a malformed event off the bus (no `k8s`): such an event must still be parkable.
 */
export function seenKey(event: Pick<SecurityEvent, 'source' | 'id' | 'k8s'>): string {
  const k8s = event.k8s as SecurityEvent['k8s'] | undefined;
  return `seen:${event.source}:${k8s?.cluster}:${event.id}`;
}
