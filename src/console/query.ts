import { BadRequestError } from '../core/errors';
import { PRIORITIES, parsePriority, type Priority } from '../core/priority';
import { matchesAll, type Matcher } from '../alert/matcher';
import type { AlertRow, StoredRow } from './row';
import type { ConsoleHistory } from './history/port';

/** What `GET /v1/console/alerts` (and the stream) filter on; absent: any. */
export interface AlertFilter {
  priorities?: ReadonlySet<Priority>;
  rule?: string;
  source?: string;
  cluster?: string;
  namespace?: string;
  pod?: string;
  user?: string;
  tag?: string;
  sinceMs?: number;
  untilMs?: number;
  /** Lowercased. */
  q?: string;
}

export const MAX_LIMIT = 500;
const DEFAULT_LIMIT = 100;
const MAX_VALUE = 512;
const EXACT = ['rule', 'source', 'cluster', 'namespace', 'pod', 'user', 'tag'] as const;

type Query = Record<string, unknown>;

/** One value of a query parameter: a string, at most MAX_VALUE long; repeated parameters are refused. */
function one(query: Query, name: string): string | undefined {
  const v = query[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw new BadRequestError(`${name} must be given once`);
  if (v.length > MAX_VALUE) throw new BadRequestError(`${name} is longer than ${MAX_VALUE} characters`);
  return v;
}

export function parseTime(query: Query, name: string): number | undefined {
  const v = one(query, name);
  if (v === undefined) return undefined;
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new BadRequestError(`${name} must be an ISO-8601 time`);
  return ms;
}

/** The filter from a query string; bad values are a 400 that says which. */
export function parseFilter(query: Query): AlertFilter {
  const filter: AlertFilter = {};
  const rawPriorities = query.priority;
  if (rawPriorities !== undefined && rawPriorities !== '') {
    const list = (Array.isArray(rawPriorities) ? rawPriorities : [rawPriorities]).flatMap((p) =>
      typeof p === 'string' ? p.split(',') : [p],
    );
    const set = new Set<Priority>();
    for (const p of list) {
      if (p === '') continue;
      const parsed = parsePriority(p);
      if (!parsed)
        throw new BadRequestError(`unknown priority ${JSON.stringify(String(p).slice(0, 40))}: ${PRIORITIES.join(', ')}`);
      set.add(parsed);
    }
    if (set.size) filter.priorities = set;
  }
  for (const name of EXACT) {
    const v = one(query, name);
    if (v !== undefined) filter[name] = v;
  }
  const since = parseTime(query, 'since');
  const until = parseTime(query, 'until');
  if (since !== undefined) filter.sinceMs = since;
  if (until !== undefined) filter.untilMs = until;
  const q = one(query, 'q');
  if (q !== undefined) filter.q = q.toLowerCase();
  return filter;
}

export function parseLimit(query: Query): number {
  const v = one(query, 'limit');
  if (v === undefined) return DEFAULT_LIMIT;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT)
    throw new BadRequestError(`limit must be an integer from 1 to ${MAX_LIMIT}`);
  return n;
}

export function isEmptyFilter(f: AlertFilter): boolean {
  return Object.keys(f).length === 0;
}

/** Whether a row passes the filter. `since`/`until` keep the rows whose span [firstSeen, lastSeen] touches the range. */
export function matchesFilter(f: AlertFilter, s: StoredRow): boolean {
  const r = s.row;
  if (f.priorities && !f.priorities.has(r.priority)) return false;
  if (f.rule !== undefined && r.rule !== f.rule) return false;
  if (f.source !== undefined && r.source !== f.source) return false;
  if (f.cluster !== undefined && r.cluster !== f.cluster) return false;
  if (f.namespace !== undefined && r.namespace !== f.namespace) return false;
  if (f.pod !== undefined && r.pod !== f.pod) return false;
  if (f.user !== undefined && r.user !== f.user) return false;
  if (f.tag !== undefined && !r.tags.includes(f.tag)) return false;
  if (f.sinceMs !== undefined && s.lastSeenMs < f.sinceMs) return false;
  if (f.untilMs !== undefined && s.firstSeenMs > f.untilMs) return false;
  if (f.q !== undefined) {
    const q = f.q;
    const hit = [r.rule, r.summary, r.pod, r.namespace, r.user, s.command].some((v) => v.toLowerCase().includes(q));
    if (!hit) return false;
  }
  return true;
}

const SCAN_BATCH = 1000;
/** A long pass gives the event loop a turn this often (batches), so ingest is not held up by a query. */
const YIELD_EVERY = 8;

/** One batch of a pass over the history; every YIELD_EVERY batches it first lets I/O run (the memory history answers without ever yielding). */
async function scanYielding(history: ConsoleHistory, position: string | undefined, batch: number) {
  if (batch % YIELD_EVERY === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  return history.scan(position, SCAN_BATCH);
}

interface ListCursor {
  /** The adapter's position. */
  p: string;
  /** The total as of the first page. */
  t: number;
}

function encodeCursor(c: ListCursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(s: string): ListCursor {
  try {
    const c = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as ListCursor;
    if (typeof c.p === 'string' && c.p.length <= 512 && Number.isInteger(c.t) && c.t >= 0) return c;
  } catch {
    // fall through
  }
  throw new BadRequestError('cursor is not one this server handed out');
}

export interface AlertPage {
  items: AlertRow[];
  nextCursor: string | null;
  total: number;
}

/**
 * One page of the history, newest first. The first page counts every match (one pass over the
 * history, stopped early by `since`) and the cursor carries that total on, so later pages read only
 * as far as they list.
 */
export async function listAlerts(
  history: ConsoleHistory,
  filter: AlertFilter,
  limit: number,
  cursor: string | undefined,
): Promise<AlertPage> {
  const from = cursor === undefined ? undefined : decodeCursor(cursor);
  const items: AlertRow[] = [];
  let nextPos: string | null = null;
  let more = false;
  let total = 0;
  let position = from?.p;
  let batches = 0;
  const countAll = from === undefined;
  for (;;) {
    const page = await scanYielding(history, position, ++batches);
    let stop = false;
    for (const { stored, cursor: at } of page.items) {
      if (filter.sinceMs !== undefined && stored.lastSeenMs < filter.sinceMs) {
        stop = true;
        break;
      }
      if (!matchesFilter(filter, stored)) continue;
      total++;
      if (items.length < limit) {
        items.push(stored.row);
        nextPos = at;
      } else {
        more = true;
        if (!countAll) {
          stop = true;
          break;
        }
      }
    }
    const last = page.items.at(-1);
    if (stop || page.done || !last) break;
    position = last.cursor;
  }
  const t = from ? from.t : total;
  return { items, nextCursor: more && nextPos !== null ? encodeCursor({ p: nextPos, t }) : null, total: t };
}

export interface Stats {
  since: string;
  until: string;
  bucketSeconds: number;
  series: { t: string; counts: Record<Priority, number> }[];
  topRules: { key: string; count: number }[];
  topNamespaces: { key: string; count: number }[];
  topUsers: { key: string; count: number }[];
}

const TOP = 10;

/**
 * Alerts over a range: new alerts per time bucket and priority (by first occurrence), and the top
 * rules, namespaces and users by occurrences among the alerts active in the range. Reads the history
 * from the newest down to `since` only.
 */
export async function alertStats(history: ConsoleHistory, sinceMs: number, untilMs: number, buckets: number): Promise<Stats> {
  const span = Math.max(1, untilMs - sinceMs);
  const bucketMs = Math.max(1000, Math.ceil(span / buckets / 1000) * 1000);
  const n = Math.ceil(span / bucketMs);
  const series = Array.from({ length: n }, (_, i) => ({
    t: new Date(sinceMs + i * bucketMs).toISOString(),
    counts: Object.fromEntries(PRIORITIES.map((p) => [p, 0])) as Record<Priority, number>,
  }));
  const rules = new Map<string, number>();
  const namespaces = new Map<string, number>();
  const users = new Map<string, number>();
  const add = (m: Map<string, number>, key: string, count: number) => key && m.set(key, (m.get(key) ?? 0) + count);
  let position: string | undefined;
  let batches = 0;
  scan: for (;;) {
    const page = await scanYielding(history, position, ++batches);
    for (const { stored } of page.items) {
      if (stored.lastSeenMs < sinceMs) break scan;
      if (stored.firstSeenMs > untilMs) continue;
      const r = stored.row;
      if (stored.firstSeenMs >= sinceMs) {
        const bucket = series[Math.min(n - 1, Math.floor((stored.firstSeenMs - sinceMs) / bucketMs))];
        if (bucket) bucket.counts[r.priority]++;
      }
      add(rules, r.rule, r.count);
      add(namespaces, r.namespace, r.count);
      add(users, r.user, r.count);
    }
    const last = page.items.at(-1);
    if (page.done || !last) break;
    position = last.cursor;
  }
  return {
    since: new Date(sinceMs).toISOString(),
    until: new Date(untilMs).toISOString(),
    bucketSeconds: bucketMs / 1000,
    series,
    topRules: top(rules),
    topNamespaces: top(namespaces),
    topUsers: top(users),
  };
}

function top(m: Map<string, number>): { key: string; count: number }[] {
  return [...m]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, TOP)
    .map(([key, count]) => ({ key, count }));
}

const PREVIEW_LIMIT = 100;

/** The stored alerts (any status) whose labels the matchers select, newest first: what a silence would mute. */
export async function previewSilence(
  history: ConsoleHistory,
  matchers: readonly Matcher[],
): Promise<{ items: AlertRow[]; total: number }> {
  const items: AlertRow[] = [];
  let total = 0;
  let position: string | undefined;
  let batches = 0;
  for (;;) {
    const page = await scanYielding(history, position, ++batches);
    for (const { stored } of page.items) {
      if (!matchesAll(matchers, stored.labels)) continue;
      total++;
      if (items.length < PREVIEW_LIMIT) items.push(stored.row);
    }
    const last = page.items.at(-1);
    if (page.done || !last) break;
    position = last.cursor;
  }
  return { items, total };
}
