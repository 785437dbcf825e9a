import {
  alertsApiQuery,
  applyStreamed,
  filterFromQuery,
  filterToQuery,
  isEmptyFilter,
  rowMatches,
  timeFilterError,
  upsertRow,
  type AlertFilter,
} from '../../ui/src/filters';
import type { AlertRow } from '../../ui/src/types';

function row(over: Partial<AlertRow> = {}): AlertRow {
  return {
    fingerprint: 'fp1',
    priority: 'notice',
    rule: 'Terminal shell in container',
    source: 'falco',
    cluster: 'prod',
    namespace: 'shop',
    pod: 'web-7c9f8d-abcde',
    container: 'nginx',
    user: 'alice',
    summary: 'A shell was spawned in a container with an attached terminal',
    count: 1,
    firstSeen: Date.parse('2026-12-01T10:00:00Z'),
    lastSeen: Date.parse('2026-12-01T10:05:00Z'),
    tags: ['T1059', 'shell'],
    incidentId: null,
    status: 'firing',
    ...over,
  };
}

describe('alert filters in the URL', () => {
  it('reads comma-separated and repeated priorities, drops unknown ones, orders them by severity', () => {
    const f = filterFromQuery('priority=notice,critical&priority=ERROR&priority=bogus');
    expect(f.priority).toEqual(['critical', 'error', 'notice']);
  });

  it('reads every text filter and ignores empty and unknown parameters', () => {
    const f = filterFromQuery('?rule=Terminal+shell+in+container&namespace=shop&pod=&q=%20bash%20&other=x');
    expect(f).toEqual({ priority: [], rule: 'Terminal shell in container', namespace: 'shop', q: 'bash' });
  });

  it('round-trips a filter through the query string, in a fixed order', () => {
    const f: AlertFilter = {
      priority: ['warning', 'critical'],
      q: 'curl',
      namespace: 'shop',
      since: '2026-12-01T00:00:00Z',
      user: 'system:serviceaccount:shop:web',
      tag: 'T1059',
    };
    const q = filterToQuery(f);
    expect(q).toBe(
      'priority=critical%2Cwarning&namespace=shop&user=system%3Aserviceaccount%3Ashop%3Aweb&tag=T1059&since=2026-12-01T00%3A00%3A00Z&q=curl',
    );
    expect(filterFromQuery(q)).toEqual({ ...f, priority: ['critical', 'warning'] });
  });

  it('keeps hostile text as text through the round trip', () => {
    const pod = '<img src=x onerror=alert(1)>&x=1#frag';
    expect(filterFromQuery(filterToQuery({ priority: [], pod })).pod).toBe(pod);
  });

  it('adds paging to the API query and says when a filter is empty', () => {
    expect(alertsApiQuery({ priority: ['error'] }, { limit: 100, cursor: 'abc==' })).toBe(
      'priority=error&limit=100&cursor=abc%3D%3D',
    );
    expect(alertsApiQuery({ priority: [] }, { cursor: null })).toBe('');
    expect(isEmptyFilter({ priority: [], q: '  ' })).toBe(true);
    expect(isEmptyFilter({ priority: ['debug'] })).toBe(false);
  });

  it('checks time filters are ISO-8601', () => {
    expect(timeFilterError(undefined)).toBeUndefined();
    expect(timeFilterError('2026-12-01T10:00:00Z')).toBeUndefined();
    expect(timeFilterError('yesterday')).toMatch(/not an ISO-8601 time/);
  });
});

describe('streamed rows against the filter', () => {
  it('matches on exact label values and any listed priority', () => {
    expect(rowMatches(row(), { priority: [] })).toBe(true);
    expect(rowMatches(row(), { priority: ['critical', 'notice'], namespace: 'shop', pod: 'web-7c9f8d-abcde' })).toBe(true);
    expect(rowMatches(row(), { priority: ['critical'] })).toBe(false);
    expect(rowMatches(row(), { priority: [], namespace: 'sho' })).toBe(false);
    expect(rowMatches(row({ namespace: null }), { priority: [], namespace: 'shop' })).toBe(false);
    expect(rowMatches(row(), { priority: [], user: 'alice', cluster: 'prod', source: 'falco' })).toBe(true);
    expect(rowMatches(row(), { priority: [], source: 'k8s_audit' })).toBe(false);
  });

  it('matches a tag among the row tags', () => {
    expect(rowMatches(row(), { priority: [], tag: 'shell' })).toBe(true);
    expect(rowMatches(row(), { priority: [], tag: 'network' })).toBe(false);
  });

  it('matches free text case-insensitively over rule, summary, pod, namespace and user', () => {
    expect(rowMatches(row(), { priority: [], q: 'TERMINAL' })).toBe(true);
    expect(rowMatches(row(), { priority: [], q: 'attached' })).toBe(true);
    expect(rowMatches(row(), { priority: [], q: 'abcde' })).toBe(true);
    expect(rowMatches(row(), { priority: [], q: 'ALI' })).toBe(true);
    expect(rowMatches(row(), { priority: [], q: 'nginx' })).toBe(false);
  });

  it('keeps a row whose first-to-last-seen span touches since..until (ms or ISO)', () => {
    // row(): first seen 10:00, last seen 10:05
    expect(rowMatches(row(), { priority: [], since: '2026-12-01T10:05:00Z' })).toBe(true);
    expect(rowMatches(row(), { priority: [], since: '2026-12-01T10:05:01Z' })).toBe(false);
    expect(rowMatches(row(), { priority: [], until: '2026-12-01T10:00:00Z' })).toBe(true);
    expect(rowMatches(row({ firstSeen: '2026-12-01T10:00:00Z' }), { priority: [], until: '2026-12-01T09:59:59Z' })).toBe(false);
    expect(rowMatches(row(), { priority: [], since: '2026-12-01T10:01:00Z', until: '2026-12-01T10:02:00Z' })).toBe(true);
    expect(rowMatches(row(), { priority: [], since: '2026-12-01T11:00:00Z', until: '2026-12-02T00:00:00Z' })).toBe(false);
  });

  it('puts a new row by last-seen, newest first, and replaces an updated one in place', () => {
    const a = row({ fingerprint: 'a', lastSeen: 3000 });
    const b = row({ fingerprint: 'b', lastSeen: 2000 });
    const c = row({ fingerprint: 'c', lastSeen: 1000 });
    expect(upsertRow([a, c], b).map((r) => r.fingerprint)).toEqual(['a', 'b', 'c']);
    expect(upsertRow([a, b], row({ fingerprint: 'n', lastSeen: 5000 })).map((r) => r.fingerprint)).toEqual(['n', 'a', 'b']);
    expect(upsertRow([a, b], row({ fingerprint: 'o', lastSeen: 10 })).map((r) => r.fingerprint)).toEqual(['a', 'b', 'o']);
    const moved = upsertRow([a, b, c], row({ fingerprint: 'c', lastSeen: 4000, count: 7 }));
    expect(moved.map((r) => [r.fingerprint, r.count])).toEqual([
      ['c', 7],
      ['a', 1],
      ['b', 1],
    ]);
  });
});

describe('applying a batch of streamed rows', () => {
  const shop = { priority: [], namespace: 'shop' } as AlertFilter;

  it('adds matching rows newest first, counts them, and ignores rows outside the filter', () => {
    const listed = row({ fingerprint: 'old', lastSeen: 1000 });
    const out = applyStreamed(
      { rows: [listed], total: 1, trimmed: false },
      [row({ fingerprint: 'new', lastSeen: 2000 }), row({ fingerprint: 'elsewhere', namespace: 'dev', lastSeen: 3000 })],
      shop,
    );
    expect(out.rows.map((r) => r.fingerprint)).toEqual(['new', 'old']);
    expect(out.total).toBe(2);
    expect(out.trimmed).toBe(false);
  });

  it('updates a listed row in place of the old one, without counting it twice', () => {
    const out = applyStreamed(
      { rows: [row({ fingerprint: 'a', lastSeen: 2000 }), row({ fingerprint: 'b', lastSeen: 1000 })], total: 2, trimmed: false },
      [row({ fingerprint: 'b', lastSeen: 3000, count: 5 })],
      shop,
    );
    expect(out.rows.map((r) => [r.fingerprint, r.count])).toEqual([
      ['b', 5],
      ['a', 1],
    ]);
    expect(out.total).toBe(2);
  });

  it('keeps the listed row when the streamed one is older (an update the list read had already seen)', () => {
    const listed = row({ fingerprint: 'a', lastSeen: 5000, count: 3 });
    const out = applyStreamed(
      { rows: [listed], total: 1, trimmed: false },
      [row({ fingerprint: 'a', lastSeen: 4000, count: 2 })],
      shop,
    );
    expect(out.rows).toEqual([listed]);
    const sameTime = applyStreamed(
      { rows: [listed], total: 1, trimmed: false },
      [row({ fingerprint: 'a', lastSeen: 5000, count: 2 })],
      shop,
    );
    expect(sameTime.rows[0]!.count).toBe(3);
  });

  it('drops a listed row that no longer matches (silenced while the list shows firing ones)', () => {
    const out = applyStreamed(
      { rows: [row({ fingerprint: 'a', lastSeen: 1000 })], total: 1, trimmed: false },
      [row({ fingerprint: 'a', namespace: 'moved', lastSeen: 2000 })],
      shop,
    );
    expect(out.rows).toEqual([]);
    expect(out.total).toBe(0);
  });

  it('stays within the row bound, pushing the oldest out and saying so', () => {
    const batch = Array.from({ length: 7 }, (_, i) => row({ fingerprint: `f${i}`, lastSeen: 1000 + i }));
    const out = applyStreamed({ rows: [], total: 0, trimmed: false }, batch, shop, 5);
    expect(out.rows.map((r) => r.fingerprint)).toEqual(['f6', 'f5', 'f4', 'f3', 'f2']);
    expect(out.total).toBe(7);
    expect(out.trimmed).toBe(true);
  });
});
