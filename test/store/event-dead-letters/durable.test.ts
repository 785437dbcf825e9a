import type { DataDir } from '../../../src/store/data-dir';
import { DurableEventDeadLetterStore } from '../../../src/store/event-dead-letters/durable';
import { openDataDir, removeTempDirs, tempDir } from '../../support/data-dir';
import { eventDeadLetterContract } from './contract';

let shared: DataDir;
beforeAll(async () => {
  shared = await openDataDir(tempDir(), 0);
});
afterAll(async () => {
  await shared.close();
  removeTempDirs();
});

eventDeadLetterContract('durable (data dir)', (bounds) => {
  const store = new DurableEventDeadLetterStore(bounds, shared);
  return { stores: (n) => Array.from({ length: n }, () => store) };
});

describe('DurableEventDeadLetterStore across restarts', () => {
  const bounds = { maxCount: 3, maxBytes: 1_000 };

  it('keeps parked events, in order, without what was taken or evicted', async () => {
    const dir = tempDir();
    const first = await openDataDir(dir, 0);
    const store = new DurableEventDeadLetterStore(bounds, first);
    for (const id of ['a', 'b', 'c', 'd']) await store.put(id, `letter ${id}`); // a is evicted
    await store.put('b', 'letter b, again'); // now the newest
    expect(await store.take(['c'], 10)).toEqual([{ id: 'c', letter: 'letter c' }]);
    await first.close();

    const second = await openDataDir(dir, 0);
    const again = new DurableEventDeadLetterStore(bounds, second);
    expect(await again.list(10)).toEqual([
      { id: 'b', letter: 'letter b, again' },
      { id: 'd', letter: 'letter d' },
    ]);
    expect(await again.size()).toEqual({ count: 2, bytes: 'letter b, again'.length + 'letter d'.length });
    await second.close();

    const third = await openDataDir(dir, 0);
    const smaller = new DurableEventDeadLetterStore({ maxCount: 1, maxBytes: 1_000 }, third);
    expect((await smaller.list(10)).map((l) => l.id)).toEqual(['b']); // a tighter bound applies at once
    await third.close();
  });
});
