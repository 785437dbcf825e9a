import { VirtualClock } from '../../src/core/clock';
import type { SecurityEvent } from '../../src/core/event';
import { storeClaims, type RetryClaims } from '../../src/ingest/claims';
import { PROCESSED, seenKey } from '../../src/pipeline/seen';
import { DurableStateStore } from '../../src/store/durable';
import { MemoryStateStore } from '../../src/store/memory';
import { RedisStateStore } from '../../src/store/redis';
import type { StateStore } from '../../src/store/port';
import { testRedisUrl, uniqueName } from '../support/services';
import { openDataDir, removeTempDirs, tempDir } from '../support/data-dir';

const event = (id: string) => ({ source: 'falco', id, k8s: { cluster: 'c' } }) as SecurityEvent;

afterAll(removeTempDirs);

describe.each<[string, (clock: VirtualClock) => Promise<{ store: StateStore; close: () => Promise<void> }>]>([
  ['memory', async (clock) => ({ store: new MemoryStateStore(clock), close: async () => undefined })],
  [
    'Redis',
    async () => {
      const store = new RedisStateStore({ url: testRedisUrl(), keyPrefix: `${uniqueName('claims')}:` });
      return { store, close: () => store.close() };
    },
  ],
  [
    'data dir',
    async (clock) => {
      const dataDir = await openDataDir(tempDir(), clock.now());
      return { store: new DurableStateStore(clock, dataDir), close: () => dataDir.close() };
    },
  ],
])('retry claims in the %s store', (_name, makeStore) => {
  let store: StateStore;
  let claims: RetryClaims;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ store, close } = await makeStore(new VirtualClock(1_000_000)));
    claims = storeClaims(store, { ttlMs: 60_000, onError: () => undefined });
  });
  afterAll(async () => {
    await store.close();
    await close();
  });

  it("shares the pipeline's processed mark: processed before the confirm, a retry is a duplicate and the confirm leaves the mark", async () => {
    const claim = await claims.claim(event('processed-first'));
    expect(claim.outcome).toBe('claimed');
    await store.set(seenKey(event('processed-first')), PROCESSED, 60_000); // what the pipeline writes when done
    await claim.confirm();
    expect(await store.get(seenKey(event('processed-first')))).toBe(PROCESSED);
    expect((await claims.claim(event('processed-first'))).outcome).toBe('duplicate');
  });

  it('claims a batch in one store operation: new, pending elsewhere and published ids each get their outcome', async () => {
    const published = await claims.claim(event('b-published'));
    await published.confirm();
    await claims.claim(event('b-pending')); // another request's claim, not published yet
    const setIfAbsentMany = jest.spyOn(store, 'setIfAbsentMany');
    const setIfAbsent = jest.spyOn(store, 'setIfAbsent');
    const batch = await claims.claimAll([event('b-new'), event('b-pending'), event('b-published')]);
    expect(batch.outcomes).toEqual(['claimed', 'claimed', 'duplicate']);
    expect(setIfAbsentMany).toHaveBeenCalledTimes(1);
    expect(setIfAbsent).not.toHaveBeenCalled();
    const replaceMany = jest.spyOn(store, 'replaceMany');
    await batch.confirm();
    expect(replaceMany).toHaveBeenCalledTimes(1);
    expect((await claims.claimAll([event('b-new'), event('b-pending')])).outcomes).toEqual(['duplicate', 'duplicate']);
    jest.restoreAllMocks();
  });

  it('releases a batch whose publish failed: its new ids are accepted again, not called duplicates', async () => {
    const batch = await claims.claimAll([event('r-1'), event('r-2')]);
    await batch.release();
    const again = await claims.claimAll([event('r-1'), event('r-2')]);
    expect(again.outcomes).toEqual(['claimed', 'claimed']);
    await again.confirm();
    expect((await claims.claim(event('r-2'))).outcome).toBe('duplicate');
  });

  it('is new until some request has published it; a duplicate once confirmed', async () => {
    const first = await claims.claim(event('a'));
    expect(first.outcome).toBe('claimed');
    // Still pending: the first attempt may yet fail, or its replica may have died. Publish again.
    expect((await claims.claim(event('a'))).outcome).toBe('claimed');
    await first.confirm();
    expect((await claims.claim(event('a'))).outcome).toBe('duplicate');
    expect((await claims.claim(event('b'))).outcome).toBe('claimed'); // ids do not collide
  });

  it('lets the request that published a pending id mark it done (a replica died holding the claim)', async () => {
    await claims.claim(event('dead')); // never confirmed nor released
    const second = await claims.claim(event('dead'));
    expect(second.outcome).toBe('claimed');
    await second.confirm();
    expect((await claims.claim(event('dead'))).outcome).toBe('duplicate');
  });

  it('is new again after a release, and a stale handle cannot mark it done', async () => {
    const first = await claims.claim(event('r'));
    await first.release();
    await first.confirm(); // no longer its claim: changes nothing
    expect((await claims.claim(event('r'))).outcome).toBe('claimed');
  });
});

it('forgets a published id after the retry window', async () => {
  const clock = new VirtualClock(0);
  const store = new MemoryStateStore(clock);
  const claims = storeClaims(store, { ttlMs: 60_000, onError: () => undefined });
  await (await claims.claim(event('old'))).confirm();
  clock.advance(59_999);
  expect((await claims.claim(event('old'))).outcome).toBe('duplicate');
  clock.advance(1);
  expect((await claims.claim(event('old'))).outcome).toBe('claimed');
  await store.close();
});
