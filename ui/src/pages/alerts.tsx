import { Component } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBox, PriorityBadge, Time } from '../components';
import {
  alertsApiQuery,
  applyStreamed,
  filterFromQuery,
  filterToQuery,
  isPriority,
  MAX_ROWS,
  PRIORITIES,
  TEXT_FILTERS,
  timeFilterError,
  type AlertFilter,
  type TextFilter,
} from '../filters';
import { useNow } from '../hooks';
import { href, Link, navigate } from '../router';
import { useStream, type StreamStatus } from '../stream';
import type { AlertPage, AlertRow } from '../types';

const PAGE = 100;
const SOURCES = ['falco', 'k8s_audit', 'kyverno', 'gatekeeper', 'trivy', 'policy-report'];
const RANGES: [string, number][] = [
  ['last 15 minutes', 15 * 60_000],
  ['last hour', 3_600_000],
  ['last 24 hours', 86_400_000],
  ['last 7 days', 7 * 86_400_000],
];

const LABELS: Record<TextFilter, string> = {
  rule: 'Rule',
  source: 'Source',
  cluster: 'Cluster',
  namespace: 'Namespace',
  pod: 'Pod',
  user: 'User',
  tag: 'Tag',
  since: 'Since (ISO-8601)',
  until: 'Until (ISO-8601)',
  q: 'Text',
};

interface ListState {
  rows: AlertRow[];
  next: string | null;
  total: number;
  /** Live updates pushed rows out: "load more" starts again from the top. */
  trimmed: boolean;
  loading: boolean;
  error?: unknown;
}

/** Streamed rows are applied at most this often, so a burst of alerts re-renders the table once. */
const FLUSH_MS = 250;

/** Adds a streamed row to a buffer that holds at most MAX_ROWS (the oldest go: the list keeps no more). */
function keepBounded(buffer: AlertRow[], row: AlertRow): void {
  buffer.push(row);
  if (buffer.length > MAX_ROWS) buffer.splice(0, buffer.length - MAX_ROWS);
}

export function AlertsPage({ search }: { search: string }) {
  const filter = useMemo(() => filterFromQuery(search), [search]);
  const key = filterToQuery(filter);
  const rowFilter = useMemo(() => ({ ...filter, q: undefined }), [key]);
  const [list, setList] = useState<ListState>({ rows: [], next: null, total: 0, trimmed: false, loading: true });
  const [generation, setGeneration] = useState(0);
  const now = useNow();

  // Rows streamed while the first page is being read: applied on top of it, so none is lost between the
  // server's read and the answer arriving.
  const duringRead = useRef<AlertRow[] | undefined>(undefined);
  useEffect(() => {
    const ctl = new AbortController();
    duringRead.current = [];
    setList((l) => ({ ...l, loading: true, error: undefined }));
    api<AlertPage>(`/v1/console/alerts?${alertsApiQuery(filter, { limit: PAGE })}`, { signal: ctl.signal }).then(
      (page) => {
        const streamed = duringRead.current ?? [];
        duringRead.current = undefined;
        const base = { rows: page.items, total: page.total, trimmed: false };
        setList({ ...applyStreamed(base, streamed, rowFilter), next: page.nextCursor, loading: false });
      },
      (error: unknown) => {
        if ((error as Error).name === 'AbortError') return;
        duringRead.current = undefined;
        setList({ rows: [], next: null, total: 0, trimmed: false, loading: false, error });
      },
    );
    return () => ctl.abort();
    // `key` stands for the filter: equal filters, equal keys.
  }, [key, generation]);

  const pending = useRef<AlertRow[]>([]);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(
    () => () => {
      clearTimeout(timer.current);
      timer.current = undefined;
      pending.current = [];
    },
    [key],
  );
  // Falconer filters the stream by the same query (free text over the command included, which rows do
  // not carry); the rows are checked again here for the fields they do carry.
  const live = useStream<AlertRow>(
    'alert',
    (row) => {
      if (!row || typeof row.fingerprint !== 'string') return;
      keepBounded(pending.current, row);
      if (timer.current) return;
      timer.current = setTimeout(() => {
        timer.current = undefined;
        const batch = pending.current;
        pending.current = [];
        if (duringRead.current) for (const r of batch) keepBounded(duringRead.current, r);
        setList((l) => ({ ...l, ...applyStreamed(l, batch, rowFilter) }));
      }, FLUSH_MS);
    },
    key,
  );

  // Back after a dropped stream: what happened meanwhile came in no event, so read the list again.
  const lastStatus = useRef(live);
  useEffect(() => {
    if (live === 'live' && lastStatus.current === 'reconnecting') setGeneration((g) => g + 1);
    lastStatus.current = live;
  }, [live]);

  const loadMore = async () => {
    if (list.trimmed) {
      setGeneration((g) => g + 1);
      return;
    }
    if (!list.next) return;
    setList((l) => ({ ...l, loading: true }));
    try {
      const page = await api<AlertPage>(`/v1/console/alerts?${alertsApiQuery(filter, { limit: PAGE, cursor: list.next })}`);
      setList((l) => {
        const seen = new Set(l.rows.map((r) => r.fingerprint));
        return {
          rows: [...l.rows, ...page.items.filter((r) => !seen.has(r.fingerprint))],
          next: page.nextCursor,
          total: page.total,
          trimmed: false,
          loading: false,
        };
      });
    } catch (error) {
      setList((l) => ({ ...l, loading: false, error }));
    }
  };

  return (
    <>
      <div class="page-head">
        <h1>Alerts</h1>
        <LiveStatus status={live} />
      </div>
      <FilterForm filter={filter} />
      <ErrorBox error={list.error} />
      <p class="muted" id="alert-summary">
        {list.loading && !list.rows.length ? 'Loading alerts…' : `${list.rows.length} shown of ${list.total}`}
      </p>
      <AlertTable rows={list.rows} now={now} />
      {(list.next || list.trimmed) && (
        <button type="button" class="secondary" data-testid="load-more" onClick={loadMore} disabled={list.loading}>
          {list.loading ? 'Loading…' : list.trimmed ? 'Reload from the newest' : 'Load more'}
        </button>
      )}
    </>
  );
}

export function LiveStatus({ status }: { status: StreamStatus }) {
  const text = status === 'live' ? 'Live' : status === 'connecting' ? 'Connecting…' : 'Reconnecting…';
  return (
    <span class={`live live-${status}`} data-testid="live-status" data-status={status} role="status">
      {text}
    </span>
  );
}

function FilterForm({ filter }: { filter: AlertFilter }) {
  const [draft, setDraft] = useState<AlertFilter>(filter);
  useEffect(() => setDraft(filter), [filterToQuery(filter)]);
  const errors = { since: timeFilterError(draft.since), until: timeFilterError(draft.until) };

  const apply = (f: AlertFilter) => {
    if (timeFilterError(f.since) || timeFilterError(f.until)) return;
    navigate(href('/alerts', filterToQuery(f)));
  };
  const set = (k: TextFilter, v: string) => setDraft((d) => ({ ...d, [k]: v || undefined }));

  return (
    <form
      class="card filters"
      aria-label="Filter alerts"
      onSubmit={(e) => {
        e.preventDefault();
        apply(draft);
      }}
    >
      <div class="field prio-field">
        <label for="filter-priority">Priority</label>
        <select
          id="filter-priority"
          data-testid="filter-priority"
          multiple
          size={PRIORITIES.length}
          aria-describedby="filter-priority-hint"
          onChange={(e) => {
            const chosen = [...e.currentTarget.selectedOptions].map((o) => o.value).filter(isPriority);
            setDraft((d) => ({ ...d, priority: chosen }));
          }}
        >
          {PRIORITIES.map((p) => (
            <option key={p} value={p} selected={draft.priority.includes(p)}>
              {p}
            </option>
          ))}
        </select>
        <span class="hint" id="filter-priority-hint">
          Ctrl or Shift to choose several; none: all
        </span>
      </div>
      <div class="filter-grid">
        {TEXT_FILTERS.map((k) => (
          <div class="field" key={k}>
            <label for={`filter-${k}`}>{LABELS[k]}</label>
            <input
              id={`filter-${k}`}
              data-testid={`filter-${k}`}
              type={k === 'q' ? 'search' : 'text'}
              list={k === 'source' ? 'sources' : undefined}
              placeholder={k === 'since' || k === 'until' ? '2026-12-01T10:00:00Z' : undefined}
              value={draft[k] ?? ''}
              spellcheck={false}
              onInput={(e) => set(k, e.currentTarget.value)}
              aria-invalid={k === 'since' || k === 'until' ? (errors[k] ? true : undefined) : undefined}
              aria-describedby={(k === 'since' || k === 'until') && errors[k] ? `filter-${k}-error` : undefined}
            />
            {(k === 'since' || k === 'until') && errors[k] && (
              <span id={`filter-${k}-error`} class="error small">
                {errors[k]}
              </span>
            )}
          </div>
        ))}
        <datalist id="sources">
          {SOURCES.map((s) => (
            <option key={s} value={s} />
          ))}
        </datalist>
        <div class="field">
          <label for="filter-range">Quick range</label>
          <select
            id="filter-range"
            onChange={(e) => {
              const ms = Number(e.currentTarget.value);
              if (!ms) return;
              setDraft((d) => ({ ...d, since: new Date(Date.now() - ms).toISOString(), until: undefined }));
              e.currentTarget.value = '';
            }}
          >
            <option value="">choose…</option>
            {RANGES.map(([label, ms]) => (
              <option key={label} value={String(ms)}>
                {label}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div class="actions">
        <button type="submit" data-testid="filter-apply">
          Apply
        </button>
        <button type="button" class="secondary" onClick={() => apply({ priority: [] })}>
          Clear
        </button>
      </div>
    </form>
  );
}

export function AlertTable({ rows, now }: { rows: AlertRow[]; now: number }) {
  return (
    <div class="table-wrap">
      <table data-testid="alert-list" class="alerts">
        <caption class="sr-only">Alerts, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Priority</th>
            <th scope="col">Rule</th>
            <th scope="col">Where</th>
            <th scope="col">Who</th>
            <th scope="col" class="num">
              Count
            </th>
            <th scope="col">First seen</th>
            <th scope="col">Last seen</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 && (
            <tr>
              <td colSpan={8} class="muted">
                No alerts match.
              </td>
            </tr>
          )}
          {rows.map((r) => (
            <RowView key={r.fingerprint} r={r} now={now} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

/**
 * One row, re-rendered only when its alert changed (or the clock moved on): a burst of live updates
 * then redraws the rows it touched, not the whole list.
 */
class RowView extends Component<{ r: AlertRow; now: number }> {
  override shouldComponentUpdate(next: { r: AlertRow; now: number }): boolean {
    return next.r !== this.props.r || next.now !== this.props.now;
  }

  override render() {
    const { r, now } = this.props;
    return (
      <tr data-testid="alert-row" data-fingerprint={r.fingerprint} class={`row-${r.priority}`}>
        <td>
          <PriorityBadge priority={r.priority} testid="alert-priority" />
        </td>
        <td>
          <Link href={href(`/alerts/${encodeURIComponent(r.fingerprint)}`)} data-testid="alert-rule" title={r.summary}>
            {r.rule}
          </Link>
        </td>
        <td class="where">
          {[r.cluster, r.namespace].filter(Boolean).join('/')}
          {r.pod ? '/' : ''}
          <span data-testid="alert-pod">{r.pod ?? ''}</span>
          {r.container ? `/${r.container}` : ''}
        </td>
        <td>
          <span data-testid="alert-user">{r.user ?? ''}</span>
        </td>
        <td class="num" data-testid="alert-count">
          {r.count}
        </td>
        <td>
          <Time value={r.firstSeen} now={now} />
        </td>
        <td>
          <Time value={r.lastSeen} now={now} />
        </td>
        <td>
          <span class={`status status-${r.status}`}>{r.status}</span>
          {r.incidentId && (
            <>
              {' '}
              <Link href={href(`/incidents/${encodeURIComponent(r.incidentId)}`)} class="small">
                incident
              </Link>
            </>
          )}
        </td>
      </tr>
    );
  }
}
