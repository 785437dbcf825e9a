import { useState } from 'preact/hooks';
import { ErrorBox, Loading, Section, SeverityBadge } from '../components';
import { formatTime } from '../format';
import { useApi } from '../hooks';
import { href, Link } from '../router';
import type { Finding, PostureReport } from '../types';

const AREA_NAMES: Record<string, string> = { rbac: 'RBAC', pss: 'Pod Security', network: 'Network policy' };
const SHOWN = 25;

function objectText(o: Finding['object']): string {
  return o.namespace ? `${o.kind} ${o.namespace}/${o.name}` : `${o.kind} ${o.name}`;
}

function subjectText(s: { kind: string; name: string; namespace?: string }): string {
  return s.kind === 'ServiceAccount' ? `ServiceAccount ${s.namespace ?? ''}/${s.name}` : `${s.kind} ${s.name}`;
}

export function PosturePage() {
  const [cluster, setCluster] = useState('');
  const [asked, setAsked] = useState('');
  const { data, error, loading } = useApi<PostureReport>(`/v1/posture${asked ? `?cluster=${encodeURIComponent(asked)}` : ''}`);

  return (
    <>
      <div class="page-head">
        <h1>Posture</h1>
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            setAsked(cluster.trim());
          }}
        >
          <label for="posture-cluster">Cluster</label>
          <input
            id="posture-cluster"
            type="text"
            placeholder="default"
            value={cluster}
            onInput={(e) => setCluster(e.currentTarget.value)}
          />
          <button type="submit" class="secondary">
            Show
          </button>
        </form>
      </div>
      <ErrorBox error={error} />
      {loading && !data ? <Loading what="the posture report" /> : data ? <Report report={data} /> : null}
    </>
  );
}

function Report({ report }: { report: PostureReport }) {
  return (
    <>
      <p class="muted">
        Cluster <strong>{report.cluster}</strong>, built {formatTime(report.generatedAt)}
        {report.stale ? ' (the cluster state has changed since; a newer report follows shortly)' : ''}.
      </p>
      <div class="scores">
        {report.areas.map((a) => {
          const s = report.summary.scores[a];
          return (
            <div class="score" key={a}>
              <span class="muted">{AREA_NAMES[a] ?? a}</span>
              <strong>{s ? `${s.score}/100` : '—'}</strong>
              {s && (
                <span class="small">
                  {s.checked} checked; {s.findings.critical ?? 0} critical, {s.findings.high ?? 0} high, {s.findings.medium ?? 0}{' '}
                  medium, {s.findings.low ?? 0} low
                </span>
              )}
            </div>
          );
        })}
      </div>
      <Section title="Top things to fix" testid="posture-top-fixes">
        <FindingsTable findings={report.summary.topFixes} showArea />
      </Section>
      <Section title="RBAC" testid="posture-rbac">
        {!report.rbac ? (
          <p class="muted">Not part of this report.</p>
        ) : (
          <>
            <p class="muted small">
              {report.rbac.counts.subjects ?? 0} subjects, {report.rbac.counts.bindings ?? 0} bindings,{' '}
              {report.rbac.counts.roles ?? 0} roles, {report.rbac.counts.clusterRoles ?? 0} cluster roles.
            </p>
            <h3>Cluster admins ({report.rbac.clusterAdmins.length})</h3>
            <ul class="plain">
              {report.rbac.clusterAdmins.map((c, i) => (
                <li key={i}>
                  {subjectText(c.subject)} — {c.grantedBy}
                  {c.builtin && <span class="muted"> (Kubernetes bootstrap)</span>}
                </li>
              ))}
            </ul>
            <h3>Subjects with risky permissions ({report.rbac.subjects.length})</h3>
            <ul class="plain">
              {report.rbac.subjects.slice(0, 10).map((s, i) => (
                <li key={i}>
                  <SeverityBadge severity={s.worst} /> {subjectText(s.subject)}: {s.findings.map((f) => f.id).join(', ')}
                </li>
              ))}
            </ul>
            {report.rbac.subjects.length > 10 && (
              <p class="muted small">…and {report.rbac.subjects.length - 10} more: see all findings.</p>
            )}
            <details class="findings">
              <summary>All findings ({report.rbac.findings.length})</summary>
              <FindingsTable findings={report.rbac.findings} />
            </details>
          </>
        )}
      </Section>
      <Section title="Pod Security" testid="posture-pss">
        {!report.pss ? (
          <p class="muted">Not part of this report.</p>
        ) : (
          <>
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Namespace</th>
                    <th scope="col">Enforce</th>
                    <th scope="col">Audit</th>
                    <th scope="col">Warn</th>
                    <th scope="col" class="num">
                      Pods
                    </th>
                    <th scope="col">Strictest level all pods meet</th>
                    <th scope="col">Verdict</th>
                  </tr>
                </thead>
                <tbody>
                  {report.pss.namespaces.map((n) => (
                    <tr key={n.namespace}>
                      <td>
                        {n.namespace}
                        {!n.known && <span class="muted small"> (labels unknown)</span>}
                      </td>
                      <td>{n.enforce}</td>
                      <td>{n.audit}</td>
                      <td>{n.warn}</td>
                      <td class="num">{n.pods}</td>
                      <td>{n.highestLevel}</td>
                      <td>{n.verdict}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <details class="findings">
              <summary>All findings ({report.pss.findings.length})</summary>
              <FindingsTable findings={report.pss.findings} />
            </details>
          </>
        )}
      </Section>
      <Section title="Network policy" testid="posture-network">
        {!report.network ? (
          <p class="muted">Not part of this report.</p>
        ) : (
          <>
            <p class="muted small">{report.network.note}.</p>
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Namespace</th>
                    <th scope="col" class="num">
                      Policies
                    </th>
                    <th scope="col">Default deny ingress</th>
                    <th scope="col">Default deny egress</th>
                    <th scope="col" class="num">
                      Pods
                    </th>
                    <th scope="col" class="num">
                      Isolated in neither direction
                    </th>
                    <th scope="col">
                      <span class="sr-only">Graph</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {report.network.namespaces.map((n) => (
                    <tr key={n.namespace}>
                      <td>{n.namespace}</td>
                      <td class="num">{n.policies}</td>
                      <td>{n.defaultDenyIngress ? 'yes' : 'no'}</td>
                      <td>{n.defaultDenyEgress ? 'yes' : 'no'}</td>
                      <td class="num">{n.pods}</td>
                      <td class="num">{n.unisolatedPods}</td>
                      <td>
                        <Link href={href('/network', new URLSearchParams({ namespace: n.namespace }))}>graph</Link>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <details class="findings">
              <summary>All findings ({report.network.findings.length})</summary>
              <FindingsTable findings={report.network.findings} />
            </details>
          </>
        )}
      </Section>
    </>
  );
}

function FindingsTable({ findings, showArea }: { findings: Finding[]; showArea?: boolean }) {
  const [all, setAll] = useState(false);
  if (findings.length === 0) return <p class="muted">Nothing to fix.</p>;
  const shown = all ? findings : findings.slice(0, SHOWN);
  return (
    <>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Severity</th>
              {showArea && <th scope="col">Area</th>}
              <th scope="col">What</th>
              <th scope="col">Object</th>
              <th scope="col">Fix</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((f) => (
              <tr key={f.key} data-finding-id={f.id}>
                <td>
                  <SeverityBadge severity={f.severity} />
                </td>
                {showArea && <td>{AREA_NAMES[f.area] ?? f.area}</td>}
                <td>
                  {f.title}
                  {f.builtin && <span class="muted small"> (Kubernetes bootstrap, not scored)</span>}
                  {f.workloads?.length ? (
                    <div class="muted small">
                      {f.podCount ?? f.workloads.length} pod{(f.podCount ?? 0) === 1 ? '' : 's'}: {f.workloads.join(', ')}
                    </div>
                  ) : null}
                </td>
                <td>{objectText(f.object)}</td>
                <td>{f.fix}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {findings.length > SHOWN && (
        <button type="button" class="secondary" onClick={() => setAll(!all)}>
          {all ? 'Show fewer' : `Show all ${findings.length}`}
        </button>
      )}
    </>
  );
}
