import { BadRequestError } from '../../src/core/errors';
import { MemoryConsoleHistory } from '../../src/console/history/memory';
import { portsOf } from '../../src/console/graph';
import { alertStats, listAlerts, matchesFilter, parseFilter, parseLimit } from '../../src/console/query';
import { alertFor, stored } from './history-contract';

const ALERT = alertFor('a', 0);

describe('console alert filters', () => {
  it('parses repeated and comma-separated priorities, times, and free text', () => {
    const f = parseFilter({ priority: ['critical,Error', 'info'], namespace: 'shop', since: '2026-01-01T00:00:00Z', q: 'BASH' });
    expect([...f.priorities!].sort()).toEqual(['critical', 'error', 'informational']);
    expect(f.namespace).toBe('shop');
    expect(f.sinceMs).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(f.q).toBe('bash');
    expect(parseFilter({})).toEqual({});
  });

  it('refuses what it cannot read', () => {
    expect(() => parseFilter({ priority: 'loud' })).toThrow(BadRequestError);
    expect(() => parseFilter({ namespace: ['a', 'b'] })).toThrow(/once/);
    expect(() => parseFilter({ until: 'soon' })).toThrow(/ISO-8601/);
    expect(() => parseFilter({ q: 'x'.repeat(600) })).toThrow(/longer/);
    expect(() => parseLimit({ limit: '0' })).toThrow(BadRequestError);
    expect(parseLimit({ limit: '500' })).toBe(500);
    expect(parseLimit({})).toBe(100);
  });

  it('matches exact fields, tags, the time range and free text over rule, summary, pod, namespace, user, command', () => {
    const s = stored('a', 1000);
    expect(matchesFilter({ pod: 'pod-a' }, s)).toBe(true);
    expect(matchesFilter({ pod: 'pod' }, s)).toBe(false);
    expect(matchesFilter({ tag: 'shell' }, s)).toBe(true);
    expect(matchesFilter({ tag: 'network' }, s)).toBe(false);
    expect(matchesFilter({ q: 'bash' }, s)).toBe(true); // the command
    expect(matchesFilter({ q: 'terminal' }, s)).toBe(true);
    expect(matchesFilter({ q: 'nothing' }, s)).toBe(false);
    expect(matchesFilter({ sinceMs: 1001 }, s)).toBe(false);
    expect(matchesFilter({ untilMs: 999 }, s)).toBe(false);
    expect(matchesFilter({ sinceMs: 1000, untilMs: 1000, priorities: new Set(['warning'] as const) }, s)).toBe(true);
  });
});

describe('listAlerts and alertStats over a history', () => {
  const h = new MemoryConsoleHistory(
    { maxAlerts: 10_000, maxBytes: 1e9, maxAgeMs: 1e12, evidencePerAlert: 0, evidenceMaxBytes: 8192 },
    () => 5000,
  );
  for (let i = 0; i < 2500; i++) {
    const s = stored(`a${i}`, 1000 + i, { priority: i % 10 === 0 ? 'critical' : 'notice', namespace: `ns${i % 3}`, count: 2 });
    h.recordSync({ stored: s, alert: ALERT });
  }

  it('pages a filter across scan batches with the first page total carried on', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await listAlerts(h, { priorities: new Set(['critical'] as const) }, 30, cursor);
      expect(page.total).toBe(250);
      seen.push(...page.items.map((r) => r.fingerprint));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(9);
    expect(seen).toHaveLength(250);
    expect(seen[0]).toBe('a2490');
    expect(seen.at(-1)).toBe('a0');
  });

  it('stops at since', async () => {
    const page = await listAlerts(h, { sinceMs: 1000 + 2400 }, 500, undefined);
    expect(page.total).toBe(100);
  });

  it('buckets new alerts by priority and ranks the top lists by occurrences', async () => {
    const stats = await alertStats(h, 1000, 1000 + 2500 * 1, 5);
    expect(stats.bucketSeconds).toBe(1);
    const counts = stats.series.map((b) => b.counts.critical + b.counts.notice);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(2500);
    expect(stats.series.reduce((n, b) => n + b.counts.critical, 0)).toBe(250);
    expect(stats.topNamespaces).toEqual([
      { key: 'ns0', count: 1668 },
      { key: 'ns1', count: 1666 },
      { key: 'ns2', count: 1666 },
    ]);
    expect(stats.topRules).toEqual([{ key: 'Terminal shell in container', count: 5000 }]);
  });
});

describe('a long pass over the history', () => {
  it('lets the event loop run (ingest is not held up by a query)', async () => {
    const big = new MemoryConsoleHistory(
      { maxAlerts: 50_000, maxBytes: 1e9, maxAgeMs: 1e12, evidencePerAlert: 0, evidenceMaxBytes: 8192 },
      () => 0,
    );
    for (let i = 0; i < 20_000; i++) big.recordSync({ stored: stored(`b${i}`, i), alert: ALERT });
    let turns = 0;
    let done = false;
    const tick = () => {
      if (done) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const page = await listAlerts(big, { q: 'no such text' }, 10, undefined);
    done = true;
    expect(page.total).toBe(0);
    expect(turns).toBeGreaterThan(0);
  });
});

describe('graph ports', () => {
  it("splits Connectivity's connection string per protocol", () => {
    expect(portsOf('All Connections')).toEqual(['all']);
    expect(portsOf('TCP 80,443,UDP 53')).toEqual(['TCP 80', 'TCP 443', 'UDP 53']);
    expect(portsOf('TCP,UDP 53')).toEqual(['TCP', 'UDP 53']);
  });
});
