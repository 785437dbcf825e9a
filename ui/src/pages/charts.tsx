import type { ChartConfiguration } from 'chart.js';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ErrorBox, Loading, Section } from '../components';
import { PRIORITIES, timeFilterError } from '../filters';
import { formatTime } from '../format';
import { useApi } from '../hooks';
import { href, navigate } from '../router';
import type { Priority, Stats } from '../types';

type ChartModule = typeof import('../charts');

const RANGES: [string, number][] = [
  ['1h', 3_600_000],
  ['6h', 6 * 3_600_000],
  ['24h', 86_400_000],
  ['7d', 7 * 86_400_000],
  ['30d', 30 * 86_400_000],
];
const DEFAULT_RANGE = '24h';
const BUCKETS = 48;

/** Bar colours per priority, the list's badge colours. */
const COLOURS: Record<Priority, string> = {
  emergency: '#6d1414',
  alert: '#8c1c1c',
  critical: '#b3261e',
  error: '#d0601f',
  warning: '#d9a400',
  notice: '#4b83d6',
  informational: '#5aa9bf',
  debug: '#9aa3ae',
};

/** The range the page shows: `?range=24h`, or `?since=...&until=...`. */
function rangeOf(search: string, now: number): { since: string; until: string; range?: string } {
  const p = new URLSearchParams(search);
  const since = p.get('since');
  const until = p.get('until');
  if (since && !timeFilterError(since)) {
    return { since, until: until && !timeFilterError(until) ? until : new Date(now).toISOString() };
  }
  const range = RANGES.find(([name]) => name === p.get('range'))?.[0] ?? DEFAULT_RANGE;
  const ms = RANGES.find(([name]) => name === range)?.[1] as number;
  return { since: new Date(now - ms).toISOString(), until: new Date(now).toISOString(), range };
}

function bucketLabel(t: string, spanMs: number): string {
  const iso = new Date(Date.parse(t)).toISOString();
  return spanMs <= 86_400_000 ? iso.slice(11, 16) : `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
}

export function ChartsPage({ search }: { search: string }) {
  // The relative range is computed once per URL, so a re-render does not refetch.
  const { since, until, range } = useMemo(() => rangeOf(search, Date.now()), [search]);
  const query = new URLSearchParams({ since, until, buckets: String(BUCKETS) }).toString();
  const { data, error, loading } = useApi<Stats>(`/v1/console/stats?${query}`);
  const [charts, setCharts] = useState<ChartModule | undefined>();
  const [custom, setCustom] = useState({ since: range ? '' : since, until: range ? '' : until });

  useEffect(() => {
    import('../charts').then(setCharts);
  }, []);

  const spanMs = Date.parse(until) - Date.parse(since);
  return (
    <>
      <div class="page-head">
        <h1>Charts</h1>
      </div>
      <form
        class="card filters"
        aria-label="Chart range"
        onSubmit={(e) => {
          e.preventDefault();
          if (!custom.since || timeFilterError(custom.since) || timeFilterError(custom.until)) return;
          const q = new URLSearchParams({ since: custom.since });
          if (custom.until) q.set('until', custom.until);
          navigate(href('/charts', q));
        }}
      >
        <div class="field">
          <label for="chart-range">Range</label>
          <select
            id="chart-range"
            data-testid="chart-range"
            value={range ?? ''}
            onChange={(e) => {
              const v = e.currentTarget.value;
              if (v) navigate(href('/charts', new URLSearchParams({ range: v })));
            }}
          >
            {!range && <option value="">custom</option>}
            {RANGES.map(([name]) => (
              <option key={name} value={name}>
                last {name}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="chart-since">Since (ISO-8601)</label>
          <input
            id="chart-since"
            data-testid="chart-since"
            type="text"
            placeholder="2026-12-01T00:00:00Z"
            value={custom.since}
            onInput={(e) => setCustom((c) => ({ ...c, since: e.currentTarget.value }))}
            aria-invalid={timeFilterError(custom.since) ? true : undefined}
          />
        </div>
        <div class="field">
          <label for="chart-until">Until (ISO-8601)</label>
          <input
            id="chart-until"
            data-testid="chart-until"
            type="text"
            placeholder="now"
            value={custom.until}
            onInput={(e) => setCustom((c) => ({ ...c, until: e.currentTarget.value }))}
            aria-invalid={timeFilterError(custom.until) ? true : undefined}
          />
        </div>
        <div class="actions">
          <button type="submit" data-testid="chart-apply">
            Show
          </button>
          <span class="muted small">
            {formatTime(since)} – {formatTime(until)}
          </span>
        </div>
      </form>
      <ErrorBox error={error} />
      {(loading && !data) || !charts ? (
        <Loading what="the charts" />
      ) : data ? (
        <>
          <Section title="Alerts over time, by priority" testid="chart-over-time">
            <BarChart
              charts={charts}
              tall
              label="Alerts over time, stacked by priority"
              config={overTime(data, spanMs)}
              table={data.series.map((s) => [
                bucketLabel(s.t, spanMs),
                PRIORITIES.map((p) => (s.counts[p] ? `${p} ${s.counts[p]}` : ''))
                  .filter(Boolean)
                  .join(', ') || '0',
              ])}
            />
          </Section>
          <TopChart charts={charts} testid="chart-top-rules" title="Top rules" items={data.topRules} />
          <div class="grid-2">
            <TopChart charts={charts} testid="chart-top-namespaces" title="Top namespaces" items={data.topNamespaces} />
            <TopChart charts={charts} testid="chart-top-users" title="Top users" items={data.topUsers} />
          </div>
        </>
      ) : null}
    </>
  );
}

function overTime(stats: Stats, spanMs: number) {
  const labels = stats.series.map((s) => bucketLabel(s.t, spanMs));
  const present = PRIORITIES.filter((p) => stats.series.some((s) => (s.counts[p] ?? 0) > 0));
  return {
    type: 'bar' as const,
    data: {
      labels,
      datasets: present.map((p) => ({
        label: p,
        data: stats.series.map((s) => s.counts[p] ?? 0),
        backgroundColor: COLOURS[p],
        stack: 'alerts',
      })),
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false as const,
      scales: {
        x: { stacked: true, grid: { display: false } },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
      },
      plugins: { legend: { position: 'bottom' as const } },
    },
  };
}

function TopChart({
  charts,
  testid,
  title,
  items,
}: {
  charts: ChartModule;
  testid: string;
  title: string;
  items: { key: string; count: number }[];
}) {
  const config = {
    type: 'bar' as const,
    data: {
      labels: items.map((i) => (i.key.length > 60 ? `${i.key.slice(0, 59)}…` : i.key)),
      datasets: [{ label: 'alerts', data: items.map((i) => i.count), backgroundColor: '#4b83d6' }],
    },
    options: {
      indexAxis: 'y' as const,
      responsive: true,
      maintainAspectRatio: false,
      animation: false as const,
      scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { grid: { display: false } } },
      plugins: { legend: { display: false } },
    },
  };
  return (
    <Section title={title} testid={testid}>
      {items.length === 0 ? (
        <p class="muted">No alerts in this range.</p>
      ) : (
        <BarChart charts={charts} label={title} config={config} table={items.map((i) => [i.key, String(i.count)])} />
      )}
    </Section>
  );
}

/** One canvas with its chart, and the same numbers as a table for screen readers and copying. */
function BarChart({
  charts,
  config,
  label,
  table,
  tall,
}: {
  charts: ChartModule;
  // Chart.js's configuration type is generic over the chart type; the two callers build bar configs.
  config: object;
  label: string;
  table: [string, string][];
  tall?: boolean;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<InstanceType<ChartModule['Chart']> | undefined>(undefined);
  const key = JSON.stringify(config);
  useEffect(() => {
    if (!canvas.current) return;
    chart.current?.destroy();
    chart.current = new charts.Chart(canvas.current, config as ChartConfiguration);
    return () => {
      chart.current?.destroy();
      chart.current = undefined;
    };
  }, [key]);
  return (
    <>
      <div class={tall ? 'chart-box tall' : 'chart-box'}>
        <canvas ref={canvas} role="img" aria-label={label} />
      </div>
      <details class="data-table">
        <summary>Show as a table</summary>
        <table>
          <tbody>
            {table.map(([k, v], i) => (
              <tr key={i}>
                <th scope="row">{k}</th>
                <td>{v}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </>
  );
}
