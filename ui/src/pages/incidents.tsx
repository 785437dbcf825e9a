import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBox, Facts, Loading, PriorityBadge, Section, Time } from '../components';
import { formatTime, incidentTitle, safeHref } from '../format';
import { useApi, useNow } from '../hooks';
import { href, Link } from '../router';
import { useStream } from '../stream';
import type { AlertDetail, Incident } from '../types';
import { LiveStatus } from './alerts';
import { AttributionFacts } from './alert-detail';

export function IncidentsPage() {
  const { data, error, loading, reload } = useApi<{ incidents: Incident[] }>('/v1/incidents?limit=200');
  const now = useNow();
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  // An incident event says one changed; the list is reread at most once a second.
  const live = useStream('incident', () => {
    if (pending.current) return;
    pending.current = setTimeout(() => {
      pending.current = undefined;
      reload();
    }, 1000);
  });
  useEffect(() => () => clearTimeout(pending.current), []);
  // Newest activity first.
  const incidents = [...(data?.incidents ?? [])].sort((a, b) => Date.parse(b.lastTime) - Date.parse(a.lastTime));
  return (
    <>
      <div class="page-head">
        <h1>Incidents</h1>
        <LiveStatus status={live} />
      </div>
      <ErrorBox error={error} />
      {loading && !data ? (
        <Loading what="incidents" />
      ) : (
        <div class="table-wrap">
          <table data-testid="incident-list">
            <caption class="sr-only">Incidents, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Severity</th>
                <th scope="col">Incident</th>
                <th scope="col">Chain</th>
                <th scope="col" class="num">
                  Alerts
                </th>
                <th scope="col">Pods</th>
                <th scope="col">Subjects</th>
                <th scope="col">First</th>
                <th scope="col">Last</th>
              </tr>
            </thead>
            <tbody>
              {incidents.length === 0 && (
                <tr>
                  <td colSpan={8} class="muted">
                    No incidents yet.
                  </td>
                </tr>
              )}
              {incidents.map((i) => (
                <tr key={i.id} data-testid="incident-row" data-incident-id={i.id} class={`row-${i.severity}`}>
                  <td>
                    <PriorityBadge priority={i.severity} />
                  </td>
                  <td>
                    <Link href={href(`/incidents/${encodeURIComponent(i.id)}`)}>{incidentTitle(i)}</Link>
                    <div class="muted small mono">{i.id}</div>
                  </td>
                  <td>{i.chain ?? <span class="muted">—</span>}</td>
                  <td class="num">{i.alertCount}</td>
                  <td class="where">{i.pods.join(', ')}</td>
                  <td>{i.subjects.join(', ')}</td>
                  <td>
                    <Time value={i.firstTime} now={now} />
                  </td>
                  <td>
                    <Time value={i.lastTime} now={now} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

/** Member alerts whose attribution the page shows (each is one request). */
const ATTRIBUTION_LOOKUPS = 20;

export function IncidentDetailPage({ id }: { id: string }) {
  const { data: incident, error, loading, reload } = useApi<Incident>(`/v1/incidents/${encodeURIComponent(id)}`);
  const [members, setMembers] = useState<AlertDetail[]>([]);
  useStream<{ id?: string }>('incident', (e) => {
    if (e?.id === id) reload();
  });

  const memberKey = incident?.alerts.join(',') ?? '';
  useEffect(() => {
    if (!incident) return;
    const ctl = new AbortController();
    Promise.allSettled(
      incident.alerts
        .slice(0, ATTRIBUTION_LOOKUPS)
        .map((fp) => api<AlertDetail>(`/v1/console/alerts/${encodeURIComponent(fp)}`, { signal: ctl.signal })),
    ).then((results) => {
      if (!ctl.signal.aborted) setMembers(results.flatMap((r) => (r.status === 'fulfilled' && r.value?.alert ? [r.value] : [])));
    });
    return () => ctl.abort();
  }, [memberKey]);

  if (error) {
    return (
      <>
        <h1>Incident</h1>
        <ErrorBox error={error} />
        <Link href={href('/incidents')}>Back to the incidents</Link>
      </>
    );
  }
  if (loading && !incident) return <Loading what="the incident" />;
  if (!incident) return null;

  const attributed = members.filter((m) => m.alert.attribution);
  const users = [...new Set(incident.timeline.map((t) => t.user).filter((u): u is string => !!u))];
  const runbook = safeHref(incident.chainMatch?.runbook);

  return (
    <article data-testid="incident-detail">
      <div class="page-head">
        <h1>
          Incident <code>{incident.id}</code>
        </h1>
      </div>
      <div class="grid-2">
        <Section title="Summary">
          <Facts
            rows={[
              ['Severity', <PriorityBadge priority={incident.severity} testid="incident-severity" />],
              ['Attack chain', <span data-testid="incident-chain">{incident.chain ?? 'no chain matched'}</span>],
              [
                'Chain runbook',
                runbook ? (
                  <a href={runbook} rel="noreferrer noopener" target="_blank">
                    {runbook}
                  </a>
                ) : (
                  ''
                ),
              ],
              ['Highest member priority', incident.memberSeverity ?? ''],
              ['Alerts', String(incident.alertCount)],
              ['Pods', incident.pods.join(', ')],
              ['From', formatTime(incident.firstTime)],
              ['To', formatTime(incident.lastTime)],
            ]}
          />
        </Section>
        <Section title="Who" testid="incident-attribution">
          <Facts
            rows={[
              ['Users in the timeline', users.join(', ') || 'none named'],
              ['Subjects', incident.subjects.join(', ') || 'none'],
            ]}
          />
          {attributed.map((m) => (
            <div key={m.alert.fingerprint}>
              <h3>
                Session behind <Link href={href(`/alerts/${encodeURIComponent(m.alert.fingerprint)}`)}>{m.alert.rule}</Link>
              </h3>
              <AttributionFacts a={m.alert.attribution!} />
            </div>
          ))}
        </Section>
      </div>
      <Section title="Timeline" testid="incident-timeline">
        <ol class="timeline">
          {incident.timeline.map((t) => (
            <li
              key={`${t.fingerprint}-${t.timeMs}`}
              data-testid="timeline-item"
              data-fingerprint={t.fingerprint}
              data-source={t.source}
            >
              <span class="when">{formatTime(t.time)}</span>
              <PriorityBadge priority={t.priority} /> <span class="tag">{t.source}</span>{' '}
              <Link href={href(`/alerts/${encodeURIComponent(t.fingerprint)}`)}>{t.rule}</Link>
              {t.user && (
                <>
                  {' '}
                  by <strong>{t.user}</strong>
                </>
              )}
              {t.pod && (
                <>
                  {' '}
                  in <code>{t.pod}</code>
                </>
              )}
              <div class="muted small">{t.summary}</div>
            </li>
          ))}
        </ol>
      </Section>
      {incident.chainMatch && Object.keys(incident.chainMatch.variables).length > 0 && (
        <Section title="Chain variables">
          <Facts rows={Object.entries(incident.chainMatch.variables).map(([k, v]) => [k, <code>{v}</code>])} />
        </Section>
      )}
    </article>
  );
}
