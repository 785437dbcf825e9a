import type { ComponentChildren } from 'preact';
import { errorText } from './api';
import { formatAgo, formatTime } from './format';

export function PriorityBadge({ priority, testid }: { priority: string; testid?: string }) {
  return (
    <span class={`prio prio-${priority}`} data-testid={testid}>
      {priority}
    </span>
  );
}

export function SeverityBadge({ severity }: { severity: string }) {
  return <span class={`sev sev-${severity.toLowerCase()}`}>{severity}</span>;
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {errorText(error)}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

/** An absolute UTC time, with the relative one beside it. */
export function Time({ value, now }: { value: number | string | null | undefined; now: number }) {
  const abs = formatTime(value);
  return (
    <time dateTime={abs === '—' ? undefined : new Date(value as string | number).toISOString()} title={abs}>
      {formatAgo(value, now)}
    </time>
  );
}

export function Section({
  title,
  testid,
  children,
  id,
}: {
  title: string;
  testid?: string;
  id?: string;
  children?: ComponentChildren;
}) {
  const headingId = id ?? `h-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <section class="card" data-testid={testid} aria-labelledby={headingId}>
      <h2 id={headingId}>{title}</h2>
      {children}
    </section>
  );
}

/** A two-column list of facts; rows whose value is empty are left out. */
export function Facts({ rows }: { rows: [string, ComponentChildren][] }) {
  const shown = rows.filter(([, v]) => v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0));
  return (
    <dl class="facts">
      {shown.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

export function yesNo(b: boolean | undefined): string {
  return b === undefined ? '' : b ? 'yes' : 'no';
}
