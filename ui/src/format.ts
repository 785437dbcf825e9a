/** Formatting shared by the pages. Pure (no DOM), so jest tests it (test/ui/). */
import { toMs } from './filters';

/** `2026-12-01 10:46:20 UTC`: absolute times in UTC, as the API and Slack messages give them. */
export function formatTime(value: number | string | null | undefined): string {
  const ms = toMs(value);
  if (Number.isNaN(ms)) return '—';
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

/** `5 s ago`, `3 min ago`, `2 h ago`, `4 d ago`; `in 2 h` for a time ahead of `now`. */
export function formatAgo(value: number | string | null | undefined, now: number): string {
  const ms = toMs(value);
  if (Number.isNaN(ms)) return '—';
  const delta = now - ms;
  // Clocks a little apart (the server's and this browser's) should not say "in 1 s".
  if (delta > -60_000 && delta < 1000) return 'just now';
  const ahead = delta < 0;
  const s = Math.round(Math.abs(delta) / 1000);
  let text: string;
  if (s < 60) text = `${s} s`;
  else if (s < 3600) text = `${Math.floor(s / 60)} min`;
  else if (s < 86_400) text = `${Math.floor(s / 3600)} h`;
  else text = `${Math.floor(s / 86_400)} d`;
  return ahead ? `in ${text}` : `${text} ago`;
}

/** Where an alert happened: `cluster/namespace/pod/container`, leaving out what it does not know. */
export function formatWhere(row: {
  cluster?: string | null;
  namespace?: string | null;
  pod?: string | null;
  container?: string | null;
}): string {
  return [row.cluster, row.namespace, row.pod, row.container].filter((p): p is string => !!p).join('/');
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * A silence duration as people type it: `90m`, `2h`, `1h30m`, `7d`, `1w`. Returns ms, or undefined when
 * it is not one (or is zero).
 */
export function parseDuration(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (!/^(\d+\s*[smhdw]\s*)+$/.test(t)) return undefined;
  let ms = 0;
  for (const m of t.matchAll(/(\d+)\s*([smhdw])/g)) ms += Number(m[1]) * (UNITS[m[2] as string] as number);
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
}

/** `2h`, `1d 4h`, `45m`: a span for humans, largest two units. */
export function formatDuration(ms: number): string {
  if (!(ms > 0)) return '0s';
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.slice(0, 2).join(' ');
}

/** Pretty JSON for evidence: two-space indents, rendered as text. */
export function prettyJson(value: unknown): string {
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Matchers a silence made from an alert starts with: the labels that say what and where, in this order. */
export const SILENCE_LABELS = ['rule', 'cluster', 'namespace', 'pod', 'container'] as const;

export function matchersFromLabels(
  labels: Record<string, string>,
): { name: string; value: string; isRegex: boolean; isEqual: boolean }[] {
  return SILENCE_LABELS.filter((k) => labels[k]).map((name) => ({
    name,
    value: labels[name] as string,
    isRegex: false,
    isEqual: true,
  }));
}

/**
 * A URL fit for an `href`: http(s), or a path on this server. Anything else (`javascript:`, `data:`,
 * `//host`) is shown as text instead of linked.
 */
export function safeHref(url: string | undefined | null): string | undefined {
  if (!url) return undefined;
  const u = url.trim();
  if (/^https?:\/\/[^\s]+$/i.test(u)) return u;
  if (u.startsWith('/') && !u.startsWith('//') && !u.startsWith('/\\')) return u;
  return undefined;
}

/** An edge's ports as the graph endpoint gives them (`["TCP 80"]`, `"all"`, `{TCP: ["80"]}`), as one line. */
export function portsText(ports: unknown): string {
  if (ports === 'all') return 'all ports';
  if (typeof ports === 'string' || typeof ports === 'number') return String(ports);
  if (Array.isArray(ports)) return ports.map(portsText).filter(Boolean).join(', ');
  if (ports && typeof ports === 'object') {
    const o = ports as Record<string, unknown>;
    if ('port' in o || 'protocol' in o) return [o.protocol, o.port].filter((v) => v !== undefined && v !== null).join(' ');
    return Object.entries(o)
      .map(([k, v]) => `${k} ${portsText(v)}`)
      .join(', ');
  }
  return '';
}

/** What a person reads an incident as: its chain and first alert's rule, and how many more alerts. */
export function incidentTitle(i: { chain: string | null; alertCount: number; timeline: { rule: string }[] }): string {
  const first = i.timeline[0]?.rule ?? 'Incident';
  const more = i.alertCount > 1 ? ` + ${i.alertCount - 1} more` : '';
  return i.chain ? `${i.chain}: ${first}${more}` : `${first}${more}`;
}
