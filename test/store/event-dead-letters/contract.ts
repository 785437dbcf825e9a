import type { EventDeadLetterBounds, EventDeadLetterStore } from '../../../src/store/event-dead-letters/port';

/** Makes stores on one shared state (replicas' handles: for memory, the same instance). */
export type DeadLetterHarness = (bounds: EventDeadLetterBounds) => { stores(n: number): EventDeadLetterStore[] };

/** The event dead-letter store contract every adapter keeps (src/store/event-dead-letters/port.ts). */
export function eventDeadLetterContract(name: string, harness: DeadLetterHarness): void {
  describe(`EventDeadLetterStore contract: ${name}`, () => {
    const open = (bounds: Partial<EventDeadLetterBounds> = {}) =>
      harness({ maxCount: 100, maxBytes: 1_000_000, ...bounds }).stores(1)[0]!;

    it('lists letters newest first and counts them with their bytes', async () => {
      const store = open();
      expect(await store.size()).toEqual({ count: 0, bytes: 0 });
      await store.put('a', 'first');
      await store.put('b', 'ünï'); // bytes are UTF-8: 5
      expect(await store.list(10)).toEqual([
        { id: 'b', letter: 'ünï' },
        { id: 'a', letter: 'first' },
      ]);
      expect(await store.list(1)).toEqual([{ id: 'b', letter: 'ünï' }]);
      expect(await store.size()).toEqual({ count: 2, bytes: 10 });
    });

    it('replaces a letter with the same id, which then counts as the newest', async () => {
      const store = open();
      await store.put('a', 'one');
      await store.put('b', 'two');
      await store.put('a', 'three!');
      expect(await store.list(10)).toEqual([
        { id: 'a', letter: 'three!' },
        { id: 'b', letter: 'two' },
      ]);
      expect(await store.size()).toEqual({ count: 2, bytes: 9 });
    });

    it('evicts the oldest beyond the count bound and says how many', async () => {
      const store = open({ maxCount: 3 });
      for (const id of ['a', 'b', 'c']) expect(await store.put(id, id)).toBe(0);
      expect(await store.put('d', 'd')).toBe(1);
      expect((await store.list(10)).map((l) => l.id)).toEqual(['d', 'c', 'b']);
      expect(await store.size()).toEqual({ count: 3, bytes: 3 });
    });

    it('evicts the oldest beyond the byte bound, and refuses a letter larger than the bound alone', async () => {
      const store = open({ maxBytes: 10 });
      await store.put('a', 'xxxx');
      await store.put('b', 'xxxx');
      expect(await store.put('c', 'xxxxxx')).toBe(1); // 14 bytes: a goes
      expect((await store.list(10)).map((l) => l.id)).toEqual(['c', 'b']);
      expect(await store.put('d', 'x'.repeat(10))).toBe(2);
      expect(await store.size()).toEqual({ count: 1, bytes: 10 });
      await expect(store.put('e', 'x'.repeat(11))).rejects.toBeInstanceOf(RangeError);
      expect((await store.list(10)).map((l) => l.id)).toEqual(['d']);
    });

    it('takes named letters or the oldest ones, removing them', async () => {
      const store = open();
      for (const id of ['a', 'b', 'c', 'd']) await store.put(id, `letter-${id}`);
      expect(await store.take(['c', 'missing', 'a'], 100)).toEqual([
        { id: 'a', letter: 'letter-a' },
        { id: 'c', letter: 'letter-c' },
      ]);
      expect(await store.take(undefined, 1)).toEqual([{ id: 'b', letter: 'letter-b' }]);
      expect(await store.take([], 100)).toEqual([]);
      expect(await store.size()).toEqual({ count: 1, bytes: 8 });
      expect(await store.take(undefined, 100)).toEqual([{ id: 'd', letter: 'letter-d' }]);
      expect(await store.size()).toEqual({ count: 0, bytes: 0 });
    });

    it('gives each letter to one of several replicas taking at once', async () => {
      const handles = harness({ maxCount: 100, maxBytes: 1_000_000 }).stores(3);
      for (let i = 0; i < 30; i++) await handles[0]!.put(`l${i}`, `v${i}`);
      const taken = await Promise.all(handles.flatMap((h) => [h.take(undefined, 7), h.take(undefined, 7)]));
      const ids = taken.flat().map((l) => l.id);
      expect(ids).toHaveLength(30);
      expect(new Set(ids).size).toBe(30);
    });
  });
}
