import { VirtualClock } from '../../src/core/clock';
import type { SecurityEvent } from '../../src/core/event';
import { storeClaims } from '../../src/ingest/claims';
import { MemoryStateStore } from '../../src/store/memory';
import { RedisStateStore } from '../../src/store/redis';
import type { StateStore } from '../../src/store/port';
import { testRedisUrl, uniqueName } from '../support/services';

const event = (id: string) => ({ source: 'falco', id, k8s: { cluster: 'c' } }) as SecurityEvent;

describe.each<[string, (clock: VirtualClock) => StateStore]>([
  ['memory', (clock) => new MemoryStateStore(clock)],
  ['Redis', () => new RedisStateStore({ url: testRedisUrl(), keyPrefix: `${uniqueName('claims')}:` })],
])('retry claims in the %s store', (_name, makeStore) => {
  const clock = new VirtualClock(1_000_000);
  const store = makeStore(clock);
  const claims = storeClaims(store, { ttlMs: 60_000, pendingMs: 5_000, now: () => clock.now(), onError: () => undefined });
  afterAll(() => store.close());

  it('is new once, in flight while unconfirmed, then a duplicate once confirmed', async () => {
    const first = await claims.claim(event('a'));
    expect(first.outcome).toBe('claimed');
    expect((await claims.claim(event('a'))).outcome).toBe('in_flight');
    await first.confirm();
    expect((await claims.claim(event('a'))).outcome).toBe('duplicate');
    expect((await claims.claim(event('b'))).outcome).toBe('claimed'); // ids do not collide
  });

  it('is new again after a release', async () => {
    const first = await claims.claim(event('r'));
    await first.release();
    const again = await claims.claim(event('r'));
    expect(again.outcome).toBe('claimed');
    await first.confirm(); // a stale handle changes nothing: the claim is no longer its own
    expect((await claims.claim(event('r'))).outcome).toBe('in_flight');
  });

  it('lets a claim left unconfirmed by a request that died be taken over after pendingMs', async () => {
    await claims.claim(event('dead'));
    clock.advance(4_999);
    expect((await claims.claim(event('dead'))).outcome).toBe('in_flight');
    clock.advance(1);
    const taken = await claims.claim(event('dead'));
    expect(taken.outcome).toBe('claimed');
    await taken.confirm();
    expect((await claims.claim(event('dead'))).outcome).toBe('duplicate');
  });
});

it('forgets a confirmed id after the retry window', async () => {
  const clock = new VirtualClock(0);
  const store = new MemoryStateStore(clock);
  const claims = storeClaims(store, { ttlMs: 60_000, pendingMs: 5_000, now: () => clock.now(), onError: () => undefined });
  const c = await claims.claim(event('old'));
  await c.confirm();
  clock.advance(59_999);
  expect((await claims.claim(event('old'))).outcome).toBe('duplicate');
  clock.advance(1);
  expect((await claims.claim(event('old'))).outcome).toBe('claimed');
  await store.close();
});
