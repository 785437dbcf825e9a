import type { StateStore } from '../../src/store/port';

/** What the shared suite needs from an adapter under test. */
export interface StoreHarness {
  /** Several handles on one shared state, as replicas would hold (memory: the same instance). */
  stores(n: number): StateStore[];
  /** Lets `ms` of time pass: on the virtual clock for memory, for real against a server. */
  elapse(ms: number): Promise<void>;
  now(): number;
  /** A key unique to this test, so runs against a long-lived server do not collide. */
  key(name: string): string;
  /** Closes what the harness opened (the durable store: its data dir). */
  cleanup?(): Promise<void>;
}

/**
 * The state-store contract every adapter keeps (see src/store/port.ts). `ttlMs` is the TTL the TTL
 * cases use: exact on a virtual clock, generous against a real server so scheduling noise on a busy
 * machine cannot flip a result.
 */
export function stateStoreContract(name: string, makeHarness: () => StoreHarness | Promise<StoreHarness>, ttlMs: number): void {
  describe(`StateStore contract: ${name}`, () => {
    let h: StoreHarness;
    let store: StateStore;
    beforeEach(async () => {
      h = await makeHarness();
      [store] = h.stores(1) as [StateStore];
    });
    afterEach(async () => {
      await h.cleanup?.();
    });

    it('returns undefined for a missing key and the latest value for a set one', async () => {
      const k = h.key('plain');
      expect(await store.get(k)).toBeUndefined();
      await store.set(k, 'first', 60_000);
      await store.set(k, 'second', 60_000);
      expect(await store.get(k)).toBe('second');
    });

    it('a lazy set value is read back as its text, from every handle (another replica amends from it)', async () => {
      const k = h.key('lazy');
      const [a, b] = h.stores(2) as [StateStore, StateStore];
      await a.set(k, () => '{"alert":"pending"}', 60_000);
      expect(await b.get(k)).toBe('{"alert":"pending"}');
      expect(await a.replace(k, '{"alert":"pending"}', 'amended', 60_000)).toBe(true);
      expect(await b.get(k)).toBe('amended');
    });

    it('forgets a value once its TTL has passed, not before', async () => {
      const k = h.key('ttl');
      await store.set(k, 'v', ttlMs);
      await h.elapse(ttlMs / 5);
      expect(await store.get(k)).toBe('v');
      await h.elapse(ttlMs + ttlMs / 5);
      expect(await store.get(k)).toBeUndefined();
    });

    it('setIfAbsent claims a free key once, keeps the first value, and frees it at expiry', async () => {
      const k = h.key('claim');
      expect(await store.setIfAbsent(k, 'a', ttlMs)).toBe(true);
      expect(await store.setIfAbsent(k, 'b', ttlMs)).toBe(false);
      expect(await store.get(k)).toBe('a');
      await h.elapse(ttlMs + ttlMs / 5);
      expect(await store.setIfAbsent(k, 'c', ttlMs)).toBe(true);
      expect(await store.get(k)).toBe('c');
    });

    it('lets exactly one of many concurrent claimants win, across handles', async () => {
      const k = h.key('race');
      const handles = h.stores(4);
      const attempts = Array.from({ length: 60 }, (_, i) => handles[i % handles.length]!.setIfAbsent(k, `owner-${i}`, 60_000));
      const results = await Promise.all(attempts);
      const winners = results.flatMap((won, i) => (won ? [i] : []));
      expect(winners).toHaveLength(1);
      expect(await store.get(k)).toBe(`owner-${winners[0]}`);
    });

    it('delete removes both a value and a counter under the key', async () => {
      const k = h.key('del');
      await store.set(k, 'v', 60_000);
      await store.hit(k, h.now(), 60_000);
      await store.hit(k, h.now(), 60_000);
      await store.delete(k);
      expect(await store.get(k)).toBeUndefined();
      expect((await store.hit(k, h.now(), 60_000)).count).toBe(1);
      await store.delete(h.key('never-set')); // deleting nothing is fine
    });

    it('keeps values and counters under one key apart', async () => {
      const k = h.key('both');
      await store.set(k, 'value', 60_000);
      expect((await store.hit(k, 1_000, 60_000)).count).toBe(1);
      expect(await store.get(k)).toBe('value');
    });

    it('hit counts, keeps the first time, and takes the latest time even when hits arrive out of order', async () => {
      const k = h.key('counter');
      const t0 = 1_700_000_000_123;
      const table: Array<[at: number, expected: { count: number; firstSeen: number; lastSeen: number }]> = [
        [t0, { count: 1, firstSeen: t0, lastSeen: t0 }],
        [t0 + 500, { count: 2, firstSeen: t0, lastSeen: t0 + 500 }],
        [t0 + 200, { count: 3, firstSeen: t0, lastSeen: t0 + 500 }],
        [t0 + 9_000, { count: 4, firstSeen: t0, lastSeen: t0 + 9_000 }],
      ];
      for (const [at, expected] of table) expect(await store.hit(k, at, 60_000)).toEqual(expected);
    });

    it('hit refreshes the TTL on every hit and starts over once the counter expired', async () => {
      const k = h.key('window');
      const step = (ttlMs * 3) / 5;
      expect((await store.hit(k, 1, ttlMs)).count).toBe(1);
      await h.elapse(step);
      expect((await store.hit(k, 2, ttlMs)).count).toBe(2);
      await h.elapse(step); // past the first TTL, within the refreshed one
      expect((await store.hit(k, 3, ttlMs)).count).toBe(3);
      await h.elapse(ttlMs + ttlMs / 5);
      expect(await store.hit(k, 4, ttlMs)).toEqual({
        count: 1,
        firstSeen: 4,
        lastSeen: 4,
      });
    });

    it('counts every one of many concurrent hits exactly once, across handles', async () => {
      const k = h.key('hits');
      const handles = h.stores(4);
      const n = 80;
      const counters = await Promise.all(
        Array.from({ length: n }, (_, i) => handles[i % handles.length]!.hit(k, 1_000 + i, 60_000)),
      );
      expect(counters.map((c) => c.count).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      expect(counters.every((c) => c.firstSeen === counters.find((x) => x.count === 1)!.firstSeen)).toBe(true);
      const last = await store.hit(k, 0, 60_000);
      expect(last).toEqual({
        count: n + 1,
        firstSeen: last.firstSeen,
        lastSeen: 1_000 + n - 1,
      });
    });

    it('replace sets only while the key holds the expected value, across handles', async () => {
      const k = h.key('cas');
      expect(await store.replace(k, 'v0', 'v1', 60_000)).toBe(false); // absent
      await store.set(k, 'v0', 60_000);
      const handles = h.stores(3);
      const results = await Promise.all(handles.map((s, i) => s.replace(k, 'v0', `v-${i}`, 60_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.get(k)).toBe(`v-${results.indexOf(true)}`);
    });

    it('setIfAbsentMany claims each free key, says what each taken one holds, and sets the TTL', async () => {
      const [a, b, c] = [h.key('many-a'), h.key('many-b'), h.key('many-c')];
      await store.set(b, 'held', 60_000);
      expect(await store.setIfAbsentMany([], 60_000)).toEqual([]);
      expect(
        await store.setIfAbsentMany(
          [
            [a, 'mine-a'],
            [b, 'mine-b'],
            [c, 'mine-c'],
          ],
          ttlMs,
        ),
      ).toEqual([undefined, 'held', undefined]);
      expect([await store.get(a), await store.get(b), await store.get(c)]).toEqual(['mine-a', 'held', 'mine-c']);
      expect(await store.setIfAbsentMany([[a, 'again']], 60_000)).toEqual(['mine-a']);
      await h.elapse(ttlMs + 1);
      expect(await store.get(a)).toBeUndefined();
      expect(await store.get(b)).toBe('held');
    });

    it('replaceMany changes each key only while it holds the expected value', async () => {
      const [a, b, missing] = [h.key('rm-a'), h.key('rm-b'), h.key('rm-missing')];
      await store.set(a, 'p:1', 60_000);
      await store.set(b, 'p:2', 60_000);
      expect(await store.replaceMany([], 60_000)).toEqual([]);
      expect(
        await store.replaceMany(
          [
            [a, 'p:1', 'd'],
            [b, 'p:other', 'd'],
            [missing, 'p:3', 'd'],
          ],
          60_000,
        ),
      ).toEqual([true, false, false]);
      expect([await store.get(a), await store.get(b), await store.get(missing)]).toEqual(['d', 'p:2', undefined]);
    });

    it('replace sets the TTL it is given', async () => {
      const k = h.key('cas-ttl');
      await store.set(k, 'a', 60 * ttlMs);
      expect(await store.replace(k, 'a', 'b', ttlMs)).toBe(true);
      await h.elapse(ttlMs + ttlMs / 5);
      expect(await store.get(k)).toBeUndefined();
    });

    it('handOff creates the record once and lists it in the outbox when due', async () => {
      const k = h.key('handoff');
      const now = h.now();
      expect(await store.handOff(k, 'pending', 60_000, now + 1_000)).toBe(true);
      expect(await store.handOff(k, 'other', 60_000, now + 1_000)).toBe(false);
      expect(await store.get(k)).toBe('pending');
      expect(await store.due(now + 999, 1000)).not.toContain(k);
      expect(await store.due(now + 1_000, 1000)).toContain(k);
    });

    it('due lists keys earliest first up to the limit; schedule moves a key; unschedule drops it', async () => {
      const [a, b, c] = [h.key('out-a'), h.key('out-b'), h.key('out-c')];
      const t = 1_000; // far in the past of any real clock, so other tests' keys are due later
      await store.schedule(a, t + 3);
      await store.schedule(b, t + 1);
      await store.schedule(c, t + 2);
      const ours = (keys: string[]) => keys.filter((key) => [a, b, c].includes(key));
      expect(ours(await store.due(t + 3, 1000))).toEqual([b, c, a]);
      await store.schedule(b, t + 10);
      expect(ours(await store.due(t + 3, 1000))).toEqual([c, a]);
      await store.unschedule(c);
      expect(ours(await store.due(t + 10, 1000))).toEqual([a, b]);
      await store.unschedule(a);
      await store.unschedule(b);
      expect(ours(await store.due(t + 10, 1000))).toEqual([]);
      expect(await store.get(a)).toBeUndefined(); // the outbox lists keys; it does not create records
    });

    it('handles keys with separators and non-ASCII characters', async () => {
      const k = h.key('prod/ns:kube-system/pod:çà-ü 🦅');
      await store.set(k, 'ok', 60_000);
      expect(await store.get(k)).toBe('ok');
      expect(await store.get(`${k}x`)).toBeUndefined();
    });

    it('reports itself healthy while it works', async () => {
      await store.set(h.key('health'), 'v', 60_000);
      expect(store.health().ok).toBe(true);
    });
  });
}
