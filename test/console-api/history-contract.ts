import { randomBytes } from 'node:crypto';
import { alertViewJson } from '../../src/alert/view';
import type { ConsoleHistory, HistoryBounds, HistoryRecord } from '../../src/console/history/port';
import type { AlertStatus, StoredRow } from '../../src/console/row';
import type { Alert } from '../../src/core/alert';
import { alertOf, falcoSecurityEvent } from '../support/alerts';

export type MakeHistory = (bounds: HistoryBounds, now: () => number) => ConsoleHistory;

const T0 = Date.parse('2026-03-01T12:00:00Z');
const HOUR = 3_600_000;
const BOUNDS: HistoryBounds = {
  maxAlerts: 1000,
  maxBytes: 10 * 1024 * 1024,
  maxAgeMs: 24 * HOUR,
  evidencePerAlert: 3,
  evidenceMaxBytes: 1000,
};

export function stored(fp: string, lastSeenMs: number, over: Partial<StoredRow['row']> = {}): StoredRow {
  return {
    row: {
      fingerprint: fp,
      priority: 'warning',
      rule: 'Terminal shell in container',
      source: 'falco',
      cluster: 'default',
      namespace: 'shop',
      pod: `pod-${fp}`,
      container: 'app',
      user: 'root',
      summary: `shell in pod-${fp}`,
      count: 1,
      firstSeen: new Date(lastSeenMs).toISOString(),
      lastSeen: new Date(lastSeenMs).toISOString(),
      tags: ['shell'],
      incidentId: null,
      status: 'firing',
      ...over,
    },
    labels: { pod: `pod-${fp}`, namespace: 'shop' },
    command: 'bash',
    lastSeenMs,
    firstSeenMs: lastSeenMs,
  };
}

const EVENT = falcoSecurityEvent();

/** An alert to record (the same text for the same arguments). */
export function alertFor(fp: string, lastSeenMs: number, over: Partial<Alert> = {}): Alert {
  return alertOf(EVENT, { fingerprint: fp, firstSeen: lastSeenMs, lastSeen: lastSeenMs, ...over });
}

function rec(fp: string, lastSeenMs: number, eventId?: string, status: AlertStatus = 'firing'): HistoryRecord {
  return {
    stored: stored(fp, lastSeenMs, { status }),
    alert: alertFor(fp, lastSeenMs, status === 'resolved' ? { resolvedAt: lastSeenMs } : {}),
    ...(eventId ? { evidence: [{ id: eventId, raw: { uuid: eventId }, sizeBytes: 64 }] } : {}),
  };
}

async function all(h: ConsoleHistory, batch: number): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 1000; i++) {
    const page = await h.scan(cursor, batch);
    out.push(...page.items.map((x) => x.stored.row.fingerprint));
    const last = page.items.at(-1);
    if (page.done || !last) return out;
    cursor = last.cursor;
  }
  throw new Error('scan did not end');
}

/** What every console history adapter must do; `make` gives a fresh, empty history each call. */
export function historyContract(name: string, make: MakeHistory): void {
  describe(`console history contract: ${name}`, () => {
    let now = T0;
    const clock = () => now;
    beforeEach(() => {
      now = T0;
    });

    it('stores rows and lists them newest first by last occurrence; an occurrence moves a row to the top', async () => {
      const h = make(BOUNDS, clock);
      expect((await h.record(rec('a', T0 + 1, 'e1'))).created).toBe(true);
      await h.record(rec('b', T0 + 2, 'e2'));
      await h.record(rec('c', T0 + 3, 'e3'));
      expect(await all(h, 10)).toEqual(['c', 'b', 'a']);
      const again = await h.record(rec('a', T0 + 4, 'e4'));
      expect(again.created).toBe(false);
      expect(again.count).toBe(3);
      expect(await all(h, 10)).toEqual(['a', 'c', 'b']);
      const entry = await h.get('a');
      expect(entry?.stored.lastSeenMs).toBe(T0 + 4);
      expect(entry!.detail).toBe(alertViewJson(alertFor('a', T0 + 4)));
      expect(JSON.parse(entry!.detail)).toMatchObject({ fingerprint: 'a', lastSeen: T0 + 4, state: 'active' });
      expect(await h.get('nope')).toBeUndefined();
      expect((await h.size()).count).toBe(3);
    });

    it('replaces a row in place when nothing happened since (a resolve, an attribution)', async () => {
      const h = make(BOUNDS, clock);
      await h.record(rec('a', T0 + 1, 'e1'));
      await h.record(rec('b', T0 + 2, 'e2'));
      await h.record(rec('a', T0 + 1, undefined, 'resolved'));
      expect(await all(h, 10)).toEqual(['b', 'a']);
      expect((await h.get('a'))?.stored.row.status).toBe('resolved');
    });

    it('pages with cursors through every row exactly once, ties on the same millisecond included', async () => {
      const h = make(BOUNDS, clock);
      const fps: string[] = [];
      for (let i = 0; i < 57; i++) {
        const fp = `fp-${String(i).padStart(3, '0')}`;
        fps.push(fp);
        await h.record(rec(fp, T0 + Math.floor(i / 5), `e${i}`)); // five rows per millisecond
      }
      for (const batch of [1, 4, 5, 7, 100]) {
        const listed = await all(h, batch);
        expect(listed).toHaveLength(57);
        expect(new Set(listed).size).toBe(57);
        expect(listed.slice(0, 2)).toEqual(expect.arrayContaining([expect.stringMatching(/^fp-05[56]$/)]));
        expect(listed.at(-1)).toMatch(/^fp-00[0-4]$/);
      }
    });

    it('keeps the latest evidence events, oldest first, once per event id, at most evidencePerAlert', async () => {
      const h = make(BOUNDS, clock);
      await h.record(rec('a', T0 + 1, 'e1'));
      await h.record(rec('a', T0 + 1, 'e1')); // the same event again (an amendment): not kept twice
      expect((await h.get('a'))?.evidence.map((e) => JSON.parse(e).uuid)).toEqual(['e1']);
      for (let i = 2; i <= 5; i++) await h.record(rec('a', T0 + i, `e${i}`));
      expect((await h.get('a'))?.evidence.map((e) => JSON.parse(e).uuid)).toEqual(['e3', 'e4', 'e5']);
      // Several occurrences in one write (the console batches them), the first already kept.
      const batch = ['e5', 'e6', 'e7'].map((id) => ({ id, raw: { uuid: id }, sizeBytes: 64 }));
      await h.record({ ...rec('a', T0 + 7), evidence: batch });
      expect((await h.get('a'))?.evidence.map((e) => JSON.parse(e).uuid)).toEqual(['e5', 'e6', 'e7']);
      const none = make({ ...BOUNDS, evidencePerAlert: 0 }, clock);
      await none.record(rec('x', T0, 'e1'));
      expect((await none.get('x'))?.evidence).toEqual([]);
    });

    it.each([
      ['as it came', 4000],
      ['cut by the alert stage (a copy)', 1e6],
    ])(
      'shows a raw event longer than evidenceMaxBytes as JSON cut to it, marked as truncated: a payload %s',
      async (_what, sizeBytes) => {
        const h = make({ ...BOUNDS, evidencePerAlert: 2 }, clock);
        const long = { id: 'long', raw: { uuid: 'long', output: '"quoted" and long '.repeat(100) }, sizeBytes };
        const text = JSON.stringify(long.raw);
        const cut = { truncated: true, eventId: 'long', json: text.slice(0, BOUNDS.evidenceMaxBytes) };
        await h.record({ ...rec('a', T0 + 1), evidence: [long] });
        expect((await h.get('a'))?.evidence.map((e) => JSON.parse(e))).toEqual([cut]); // the newest
        await h.record({ ...rec('a', T0 + 2), evidence: [{ id: 'short', raw: { uuid: 'short' }, sizeBytes }] });
        expect((await h.get('a'))?.evidence.map((e) => JSON.parse(e))).toEqual([cut, { uuid: 'short' }]); // an older one
        const exact = { id: 'exact', raw: { o: 'x'.repeat(BOUNDS.evidenceMaxBytes - 8) }, sizeBytes };
        expect(JSON.stringify(exact.raw)).toHaveLength(BOUNDS.evidenceMaxBytes);
        await h.record({ ...rec('a', T0 + 3), evidence: [exact] });
        expect((await h.get('a'))?.evidence).toEqual(['{"uuid":"short"}', JSON.stringify(exact.raw)]); // at the bound: whole
      },
    );

    it('is bounded by count: the oldest rows go first', async () => {
      const h = make({ ...BOUNDS, maxAlerts: 3 }, clock);
      let evicted = 0;
      for (let i = 0; i < 5; i++) evicted += (await h.record(rec(`r${i}`, T0 + i, `e${i}`))).evicted.count;
      expect(evicted).toBe(2);
      expect(await all(h, 10)).toEqual(['r4', 'r3', 'r2']);
      expect(await h.get('r0')).toBeUndefined();
      expect((await h.size()).count).toBe(3);
    });

    it('is bounded by bytes', async () => {
      const big = randomBytes(7500).toString('base64'); // 10000 characters that do not compress much
      const h = make({ ...BOUNDS, maxBytes: 35_000 }, clock);
      let evicted = 0;
      for (let i = 0; i < 10; i++) {
        const r = rec(`b${i}`, T0 + i, `e${i}`);
        const result = await h.record({ ...r, alert: alertFor(`b${i}`, T0 + i, { summary: big }) });
        evicted += result.evicted.bytes;
        expect(result.bytes).toBeLessThanOrEqual(35_000);
      }
      expect(evicted).toBeGreaterThanOrEqual(5);
      expect(await all(h, 10)).toEqual(Array.from({ length: 10 - evicted }, (_, k) => `b${9 - k}`));
      const { bytes } = await h.size();
      expect(bytes).toBeGreaterThan(20_000);
      expect(bytes).toBeLessThanOrEqual(35_000);
      expect((await h.get('b9'))?.detail).toBe(alertViewJson(alertFor('b9', T0 + 9, { summary: big })));
    });

    it('is bounded by age: old rows are not listed, and leave on the next write', async () => {
      const h = make({ ...BOUNDS, maxAgeMs: HOUR }, clock);
      await h.record(rec('old', T0, 'e1'));
      now = T0 + HOUR / 2;
      await h.record(rec('new', now, 'e2'));
      expect(await all(h, 10)).toEqual(['new', 'old']);
      now = T0 + HOUR + 1;
      expect(await all(h, 10)).toEqual(['new']);
      expect(await h.get('old')).toBeUndefined();
      const result = await h.record(rec('newer', now, 'e3'));
      expect(result.evicted.age).toBe(1);
      expect(result.count).toBe(2);
    });
  });
}
