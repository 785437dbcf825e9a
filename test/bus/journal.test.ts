import { JournalBus } from '../../src/bus/journal';
import { systemClock } from '../../src/core/clock';
import { UnavailableError } from '../../src/core/errors';
import type { SecurityEvent } from '../../src/core/event';
import type { DataDir } from '../../src/store/data-dir';
import { openDataDir, removeTempDirs, tempDir } from '../support/data-dir';
import { event, eventBusContract, eventually } from './contract';

afterAll(removeTempDirs);

const options = { capacity: 10_000, batchSize: 5, retryDelayMs: 10 };

eventBusContract(
  'journal (data dir)',
  () => {
    const open: { bus: JournalBus; dataDir: DataDir }[] = [];
    return {
      bus: async () => {
        const dataDir = await openDataDir(tempDir(), systemClock.now());
        const bus = new JournalBus(systemClock, dataDir, options);
        dataDir.release();
        open.push({ bus, dataDir });
        return bus;
      },
      cleanup: async () => {
        for (const { bus, dataDir } of open.splice(0)) {
          await bus.close();
          await dataDir.close();
        }
      },
    };
  },
  { groups: false },
);

describe('JournalBus across restarts', () => {
  async function start(dir: string, handler: (events: SecurityEvent[]) => Promise<void>, capacity = 10_000) {
    const dataDir = await openDataDir(dir, systemClock.now());
    const bus = new JournalBus(systemClock, dataDir, { ...options, capacity });
    await bus.consume(handler);
    return { bus, dataDir };
  }

  it('delivers again after a restart what was acknowledged and not handled, first and in order', async () => {
    const dir = tempDir();
    const handled: string[] = [];
    let stall!: () => void;
    const stalled = new Promise<void>((resolve) => (stall = resolve));
    const first = await start(dir, async (batch) => {
      if (batch.some((e) => e.id === 'p#7')) await new Promise(() => stall()); // never finishes: the "crash"
      handled.push(...batch.map((e) => e.id));
    });
    for (let seq = 0; seq < 12; seq++) await first.bus.publish([event('p', seq)]); // each resolved: durable
    await stalled;
    const done = handled.length; // the batches before the one holding p#7
    expect(done).toBeLessThanOrEqual(7);
    expect(handled).toEqual(Array.from({ length: done }, (_, i) => `p#${i}`));
    await first.dataDir.close(); // the process "dies" with the rest unhandled

    const again: string[] = [];
    const second = await start(dir, async (batch) => {
      again.push(...batch.map((e) => e.id));
    });
    await eventually('the journal replayed', () => again.length >= 12 - done);
    expect(again).toEqual(Array.from({ length: 12 - done }, (_, i) => `p#${done + i}`));
    await second.bus.publish([event('p', 12)]);
    await eventually('a new event after the replayed ones', () => again.length === 13 - done);
    expect(again.at(-1)).toBe('p#12');
    await second.bus.close();
    await second.dataDir.close();

    const third: string[] = [];
    const after = await start(dir, async (batch) => {
      third.push(...batch.map((e) => e.id));
    });
    await new Promise((done) => setTimeout(done, 100));
    expect(third).toEqual([]); // everything handled was deleted from the journal
    expect(after.bus.depth()).toBe(0);
    await after.bus.close();
    await after.dataDir.close();
  });

  it('refuses with UnavailableError when the queue is full, and journals nothing it refused', async () => {
    const dir = tempDir();
    const first = await start(dir, () => new Promise(() => undefined), 3);
    await first.bus.publish([event('q', 0), event('q', 1), event('q', 2)]);
    await expect(first.bus.publish([event('q', 3)])).rejects.toBeInstanceOf(UnavailableError);
    expect(first.bus.health().ok).toBe(false);
    await first.dataDir.close();

    const seen: string[] = [];
    const second = await start(dir, async (batch) => {
      seen.push(...batch.map((e) => e.id));
    });
    await eventually('the journal replayed', () => seen.length >= 3);
    await new Promise((done) => setTimeout(done, 50));
    expect(seen).toEqual(['q#0', 'q#1', 'q#2']);
    await second.bus.close();
    await second.dataDir.close();
  });
});

describe('JournalBus when the data dir fails', () => {
  it('answers UnavailableError (503) and reports the data dir unhealthy once it cannot write', async () => {
    const dataDir = await openDataDir(tempDir(), systemClock.now());
    const bus = new JournalBus(systemClock, dataDir, options);
    await bus.consume(async () => undefined);
    await bus.publish([event('d', 0)]);
    expect(bus.health()).toMatchObject({ ok: true });
    // The database's thread dies (as it would on a fatal I/O error).
    await (dataDir.db as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await expect(bus.publish([event('d', 1)])).rejects.toBeInstanceOf(UnavailableError);
    expect(bus.health()).toEqual({ ok: false, detail: 'data dir: database worker exited' });
    await bus.close();
    await dataDir.close();
  });
});
