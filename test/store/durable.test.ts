import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { VirtualClock } from '../../src/core/clock';
import { StorageError } from '../../src/core/errors';
import { DataDir } from '../../src/store/data-dir';
import { DurableStateStore } from '../../src/store/durable';
import type { SecurityEvent } from '../../src/core/event';
import { isUnprocessedClaim } from '../../src/ingest/claims';
import { PROCESSED, seenKey } from '../../src/pipeline/seen';
import { openDataDir, removeTempDirs, tempDir } from '../support/data-dir';
import { stateStoreContract } from './contract';

afterAll(removeTempDirs);

stateStoreContract(
  'durable (data dir)',
  async () => {
    const clock = new VirtualClock(1_000_000);
    const dataDir = await openDataDir(tempDir(), clock.now());
    const store = new DurableStateStore(clock, dataDir);
    return {
      stores: (n) => Array.from({ length: n }, () => store),
      elapse: async (ms) => clock.advance(ms),
      now: () => clock.now(),
      key: (name) => name,
      cleanup: () => dataDir.close(),
    };
  },
  1_000,
);

/** Opens the store of `dir` as a fresh process would. */
async function reopen(dir: string, clock: VirtualClock): Promise<{ store: DurableStateStore; dataDir: DataDir }> {
  const dataDir = await openDataDir(dir, clock.now());
  return { store: new DurableStateStore(clock, dataDir), dataDir };
}

/** Rows of a table, read straight from the file (after the data dir closed it). */
function rows(dir: string, table: string): number {
  const db = new DatabaseSync(join(dir, 'falconer.db'), { readOnly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('DurableStateStore across restarts', () => {
  it('keeps volatile values (retry claims not processed yet) in memory only; a processed mark survives', async () => {
    const clock = new VirtualClock(1_000_000);
    const dir = tempDir();
    const dataDir = await openDataDir(dir, clock.now());
    const store = new DurableStateStore(clock, dataDir, { volatile: isUnprocessedClaim });
    const [pending, published, processed] = ['a', 'b', 'c'].map((id) =>
      seenKey({ source: 'falco', id, k8s: { cluster: 'c' } } as SecurityEvent),
    ) as [string, string, string];
    await store.setIfAbsentMany(
      [
        [pending, 'p:1'],
        [published, 'p:2'],
        [processed, 'p:3'],
      ],
      60_000,
    );
    await store.replace(published, 'p:2', 'd', 60_000);
    await store.set(processed, PROCESSED, 60_000);
    expect(await store.get(published)).toBe('d'); // in memory all along
    await store.set('other', 'kept', 60_000);
    await dataDir.close();
    expect(rows(dir, 'kv')).toBe(2); // the processed mark and the other key: nothing else was written
    const second = await reopen(dir, clock);
    expect([await second.store.get(pending), await second.store.get(published)]).toEqual([undefined, undefined]);
    expect(await second.store.get(processed)).toBe(PROCESSED);
    expect(await second.store.get('other')).toBe('kept');
    await second.dataDir.close();
  });

  it('keeps values, counters, claims and the outbox, and honours TTLs on the clock', async () => {
    const clock = new VirtualClock(1_000_000);
    const dir = tempDir();
    const first = await reopen(dir, clock);
    await first.store.set('seen:falco:c:e1', '1', 10_000);
    await first.store.set('short', 'x', 1_000);
    await first.store.hit('dedup:fp', 1_000_000, 60_000);
    await first.store.hit('dedup:fp', 1_000_500, 60_000);
    // Lazy, as the dispatcher hands off: made when its commit is written.
    expect(await first.store.handOff('notify:slack:fp:1', () => '{"state":"pending"}', 60_000, 1_002_000)).toBe(true);
    await first.store.set('gone', 'y', 60_000);
    await first.store.delete('gone');
    await first.store.close();
    await first.dataDir.close();

    clock.advance(2_000); // `short` expired while nothing ran
    const second = await reopen(dir, clock);
    expect(await second.store.get('seen:falco:c:e1')).toBe('1');
    expect(await second.store.get('short')).toBeUndefined();
    expect(await second.store.get('gone')).toBeUndefined();
    expect(await second.store.hit('dedup:fp', 1_002_000, 60_000)).toEqual({
      count: 3,
      firstSeen: 1_000_000,
      lastSeen: 1_002_000,
    });
    expect(await second.store.setIfAbsent('notify:slack:fp:1', 'other', 60_000)).toBe(false);
    expect(await second.store.get('notify:slack:fp:1')).toBe('{"state":"pending"}');
    expect(await second.store.due(clock.now(), 10)).toEqual(['notify:slack:fp:1']);
    clock.advance(8_000);
    expect(await second.store.get('seen:falco:c:e1')).toBeUndefined();
    await second.dataDir.close();
  });

  it('writes nothing for an outbox entry listed and taken off within one commit, and still deletes a committed one', async () => {
    const clock = new VirtualClock(1_000_000);
    const dir = tempDir();
    const { store, dataDir } = await reopen(dir, clock);
    await store.schedule('notify:slack:committed', 1_001_000);
    await dataDir.db.durable();
    const before = dataDir.db.stats().writes;
    // Between two syncs: a hand-off sent at once, a committed entry sent, one moved, one relisted after it went.
    await store.handOff('notify:slack:sent', '{"state":"pending"}', 60_000, 1_001_000);
    await store.schedule('notify:slack:sent', 1_002_000);
    await store.unschedule('notify:slack:sent');
    await store.unschedule('notify:slack:committed');
    await store.schedule('notify:slack:committed', 1_003_000);
    await store.schedule('notify:slack:kept', 1_004_000);
    await dataDir.db.durable();
    // The record, the relisted entry and the new one; no sweep has anything to say (two statements each commit).
    expect(dataDir.db.stats().writes - before).toBe(3 + 2);
    await store.unschedule('notify:slack:committed');
    await dataDir.close();

    const second = await reopen(dir, clock);
    expect(await second.store.due(Number.MAX_SAFE_INTEGER, 10)).toEqual(['notify:slack:kept']);
    expect(await second.store.get('notify:slack:sent')).toBe('{"state":"pending"}');
    await second.dataDir.close();
  });

  it('sweeps expired rows out of the file a bounded batch per commit', async () => {
    const clock = new VirtualClock(0);
    const dir = tempDir();
    const { store, dataDir } = await reopen(dir, clock);
    for (let i = 0; i < 600; i++) await store.set(`seen:old-${i}`, '1', 1_000);
    await dataDir.db.durable();
    clock.advance(1_000);
    await store.set('seen:new', '1', 60_000); // one commit: sweeps 256 expired rows, no more
    await dataDir.db.durable();
    const [{ n }] = (await dataDir.db.query<{ n: number }>('SELECT count(*) AS n FROM kv')) as [{ n: number }];
    expect(n).toBe(600 - 256 + 1);
    await store.set('seen:newer', '1', 60_000);
    await dataDir.db.durable();
    await store.set('seen:newest', '1', 60_000);
    await dataDir.db.durable();
    await dataDir.close();
    expect(rows(dir, 'kv')).toBe(3);
  });

  it('commits many concurrent writes in a few group commits', async () => {
    const clock = new VirtualClock(0);
    const { store, dataDir } = await reopen(tempDir(), clock);
    const before = dataDir.db.stats().commits;
    await Promise.all(Array.from({ length: 500 }, (_, i) => store.set(`k${i}`, 'v', 60_000)));
    await dataDir.db.durable();
    const commits = dataDir.db.stats().commits - before;
    expect(commits).toBeGreaterThanOrEqual(1);
    expect(commits).toBeLessThanOrEqual(3);
    await dataDir.close();
  });

  it("reports the database worker's CPU, and the part of it its COMMITs took", async () => {
    const clock = new VirtualClock(0);
    const { store, dataDir } = await reopen(tempDir(), clock);
    const first = dataDir.db.stats();
    for (let i = 0; i < 20; i++) {
      await store.set(`k${i}`, 'v'.repeat(10_000), 60_000);
      await dataDir.db.durable();
    }
    const after = dataDir.db.stats();
    expect(after.commits - first.commits).toBe(20);
    expect(after.workerCpuUs).toBeGreaterThan(first.workerCpuUs);
    expect(after.commitCpuUs).toBeGreaterThan(first.commitCpuUs);
    // Cumulative over the worker's life (start-up included), so its COMMITs are a part of it.
    expect(after.commitCpuUs).toBeLessThanOrEqual(after.workerCpuUs);
    await dataDir.close();
  });
});

describe('DataDir', () => {
  it('answers why embedded mode is memory-only: no dir, or one it cannot write', async () => {
    expect(await DataDir.open('', 0)).toBe('dataDir is empty');
    // A path under a file cannot be created, even by root.
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, '');
    expect(await DataDir.open(join(file, 'data'), 0)).toMatch(/^data dir .*a-file\/data is not writable \(ENOTDIR\)$/);
    if (process.getuid?.() === 0) return; // root writes into read-only directories
    const readOnly = join(tempDir(), 'ro');
    mkdirSync(readOnly);
    chmodSync(readOnly, 0o500);
    expect(await DataDir.open(readOnly, 0)).toMatch(/is not writable \(EACCES\)/);
  });

  it('is held by one process at a time', async () => {
    const dir = tempDir();
    const first = await openDataDir(dir, 0);
    await expect(DataDir.open(dir, 0, 200)).rejects.toThrow(StorageError);
    await expect(DataDir.open(dir, 0, 200)).rejects.toThrow(/in use by another Falconer/);
    await first.close();
    const second = await openDataDir(dir, 0);
    expect(second.owner).toBe(first.owner); // the installation keeps its identity
    await second.close();
  });
});
