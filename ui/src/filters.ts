/**
 * The alert list's filters and the URL query string they live in, both ways, and whether a row the
 * stream pushes belongs in the filtered list. Pure (no DOM), so jest tests it (test/ui/).
 */
import type { AlertRow, Priority } from './types';

/** Falco's priorities, most severe first (the order the filter lists them). */
export const PRIORITIES: readonly Priority[] = [
  'emergency',
  'alert',
  'critical',
  'error',
  'warning',
  'notice',
  'informational',
  'debug',
];

export const TEXT_FILTERS = ['rule', 'source', 'cluster', 'namespace', 'pod', 'user', 'tag', 'since', 'until', 'q'] as const;
export type TextFilter = (typeof TEXT_FILTERS)[number];

export type AlertFilter = { priority: Priority[] } & { [K in TextFilter]?: string };

export function isPriority(value: string): value is Priority {
  return (PRIORITIES as readonly string[]).includes(value);
}

/** Reads `?priority=critical,error&namespace=shop...`; `priority` may also repeat. Unknown priorities are dropped. */
export function filterFromQuery(search: string | URLSearchParams): AlertFilter {
  const params = typeof search === 'string' ? new URLSearchParams(search) : search;
  const wanted = new Set(
    params
      .getAll('priority')
      .flatMap((v) => v.split(','))
      .map((v) => v.trim().toLowerCase()),
  );
  const filter: AlertFilter = { priority: PRIORITIES.filter((p) => wanted.has(p)) };
  for (const key of TEXT_FILTERS) {
    const value = params.get(key)?.trim();
    if (value) filter[key] = value;
  }
  return filter;
}

/** The query string for a filter (no leading `?`), in a fixed order so equal filters give equal URLs. */
export function filterToQuery(filter: AlertFilter): string {
  const params = new URLSearchParams();
  if (filter.priority.length) params.set('priority', PRIORITIES.filter((p) => filter.priority.includes(p)).join(','));
  for (const key of TEXT_FILTERS) {
    const value = filter[key]?.trim();
    if (value) params.set(key, value);
  }
  return params.toString();
}

/** The API's query: the filter plus paging. */
export function alertsApiQuery(filter: AlertFilter, page: { limit?: number; cursor?: string | null } = {}): string {
  const params = new URLSearchParams(filterToQuery(filter));
  if (page.limit) params.set('limit', String(page.limit));
  if (page.cursor) params.set('cursor', page.cursor);
  return params.toString();
}

export function isEmptyFilter(filter: AlertFilter): boolean {
  return filterToQuery(filter) === '';
}

/** ms since the epoch from an ISO string or a number; NaN when neither. */
export function toMs(value: number | string | null | undefined): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value !== '') return Date.parse(value);
  return Number.NaN;
}

/** A time filter's problem, or undefined when it is empty or a valid ISO-8601 time. */
export function timeFilterError(value: string | undefined): string | undefined {
  if (!value) return undefined;
  return Number.isNaN(Date.parse(value)) ? `not an ISO-8601 time: ${value}` : undefined;
}

function same(a: string | null | undefined, b: string): boolean {
  return (a ?? '') === b;
}

/**
 * Whether a row (new or updated, from the stream) matches the filter, as the API filters: exact values
 * for the label fields, any listed priority, seen within since/until, and `q` a case-insensitive
 * substring of rule, summary, pod, namespace or user (the API also searches the command, which rows do
 * not carry: the alert list leaves free text to the stream's own filter).
 */
export function rowMatches(row: AlertRow, filter: AlertFilter): boolean {
  if (filter.priority.length && !filter.priority.includes(row.priority)) return false;
  if (filter.rule !== undefined && !same(row.rule, filter.rule)) return false;
  if (filter.source !== undefined && !same(row.source, filter.source)) return false;
  if (filter.cluster !== undefined && !same(row.cluster, filter.cluster)) return false;
  if (filter.namespace !== undefined && !same(row.namespace, filter.namespace)) return false;
  if (filter.pod !== undefined && !same(row.pod, filter.pod)) return false;
  if (filter.user !== undefined && !same(row.user, filter.user)) return false;
  if (filter.tag !== undefined && !row.tags.includes(filter.tag)) return false;
  // The API keeps alerts whose [firstSeen, lastSeen] touches [since, until].
  if (filter.since !== undefined && !(toMs(row.lastSeen) >= Date.parse(filter.since))) return false;
  if (filter.until !== undefined && !(toMs(row.firstSeen) <= Date.parse(filter.until))) return false;
  if (filter.q !== undefined) {
    const q = filter.q.toLowerCase();
    const fields = [row.rule, row.summary, row.pod, row.namespace, row.user];
    if (!fields.some((f) => typeof f === 'string' && f.toLowerCase().includes(q))) return false;
  }
  return true;
}

/** The list with a streamed row in it: replaced where it was, or added; newest `lastSeen` first. */
export function upsertRow(rows: readonly AlertRow[], row: AlertRow): AlertRow[] {
  const rest = rows.filter((r) => r.fingerprint !== row.fingerprint);
  const last = toMs(row.lastSeen);
  const at = rest.findIndex((r) => toMs(r.lastSeen) <= last);
  if (at === -1) return [...rest, row];
  return [...rest.slice(0, at), row, ...rest.slice(at)];
}

/** Rows the list keeps in the page at most: live updates beyond it push the oldest out. */
export const MAX_ROWS = 1000;

export interface RowList {
  rows: AlertRow[];
  /** The API's count of matching alerts. */
  total: number;
  /** Rows were pushed out by live updates: paging on from the old cursor would skip some. */
  trimmed: boolean;
}

function isOlder(a: AlertRow, b: AlertRow): boolean {
  const la = toMs(a.lastSeen);
  const lb = toMs(b.lastSeen);
  return la < lb || (la === lb && a.count < b.count);
}

/**
 * A batch of streamed rows applied to the list: a matching row is added or replaced (newest first), a
 * listed row that no longer matches leaves; the list stays within `max` rows.
 */
export function applyStreamed(list: RowList, batch: readonly AlertRow[], filter: AlertFilter, max = MAX_ROWS): RowList {
  let { rows, total, trimmed } = list;
  for (const row of batch) {
    const listed = rows.find((r) => r.fingerprint === row.fingerprint);
    const had = listed !== undefined;
    // A row older than the listed one (an update that overtook the list's own read) changes nothing.
    if (listed && isOlder(row, listed)) continue;
    if (rowMatches(row, filter)) {
      rows = upsertRow(rows, row);
      if (!had) total++;
    } else if (had) {
      rows = rows.filter((r) => r.fingerprint !== row.fingerprint);
      total = Math.max(0, total - 1);
    }
  }
  if (rows.length > max) {
    rows = rows.slice(0, max);
    trimmed = true;
  }
  return { rows, total, trimmed };
}
