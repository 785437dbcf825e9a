import { MemoryConsoleHistory } from '../../src/console/history/memory';
import { alertFor, historyContract, stored } from './history-contract';

historyContract('memory', (bounds, now) => new MemoryConsoleHistory(bounds, now));

describe('memory console history', () => {
  it('compacts its log: many updates of few alerts keep memory and listing order', () => {
    const h = new MemoryConsoleHistory(
      { maxAlerts: 100, maxBytes: 1e9, maxAgeMs: 1e12, evidencePerAlert: 1, evidenceMaxBytes: 8192 },
      () => 0,
    );
    const alert = alertFor('a', 0);
    for (let i = 0; i < 50_000; i++) h.recordSync({ stored: stored(`a${i % 10}`, i), alert });
    const internals = h as unknown as { log: unknown[] };
    expect(internals.log.length).toBeLessThan(2000);
    const page = h.scanSync(undefined, 100);
    expect(page.items.map((x) => x.stored.row.fingerprint)).toEqual(
      Array.from({ length: 10 }, (_, k) => `a${(49_999 - k) % 10}`),
    );
    expect(page.done).toBe(true);
  });
});
