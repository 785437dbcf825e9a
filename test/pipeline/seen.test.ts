import { createHash } from 'node:crypto';
import type { SecurityEvent } from '../../src/core/event';
import { seenKey } from '../../src/pipeline/seen';

describe('seenKey', () => {
  // Keys outlive a release (a data dir, Redis shared by replicas of two versions during a rollout):
  // the form is fixed, whatever computes it.
  it('is the source and the base64url of the first 128 bits of SHA-256(cluster NUL id)', () => {
    for (let i = 0; i < 500; i++) {
      const id = `${i}-${'é✓'.repeat(i % 7)}-${i * 7919}`;
      const cluster = `c${i % 3}`;
      const expected = createHash('sha256').update(`${cluster}\0${id}`).digest().subarray(0, 16).toString('base64url');
      const source = i % 2 ? 'falco' : 'k8s_audit';
      expect(seenKey({ source, id, k8s: { cluster } } as SecurityEvent)).toBe(`ingested:${source}:${expected}`);
    }
  });

  it('is kept on the event once made, where neither JSON nor a spread sees it', () => {
    const event = { source: 'k8s_audit', id: 'abc/ResponseComplete', k8s: { cluster: 'prod' } } as SecurityEvent;
    const before = JSON.stringify(event);
    const key = seenKey(event);
    expect(seenKey(event)).toBe(key);
    expect(Object.getOwnPropertySymbols(event)).toHaveLength(1);
    expect(JSON.stringify(event)).toBe(before);
    expect(Object.getOwnPropertySymbols({ ...event })).toHaveLength(0);
    // A copy of the event (off the bus, the journal, a dead letter) makes the same key.
    expect(seenKey(JSON.parse(before) as SecurityEvent)).toBe(key);
    const frozen = Object.freeze({ ...event });
    expect(seenKey(frozen)).toBe(key);
  });

  it('still gives a key for a malformed event without k8s (it must stay parkable)', () => {
    expect(seenKey({ source: 'falco', id: 'x' } as SecurityEvent)).toMatch(/^ingested:falco:[A-Za-z0-9_-]{22}$/);
  });
});
