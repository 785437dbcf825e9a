import { ErrorBox, Facts, Loading, PriorityBadge, Section, SeverityBadge, Time, yesNo } from '../components';
import { formatTime, formatWhere, prettyJson, safeHref } from '../format';
import { useApi, useNow } from '../hooks';
import { href, Link } from '../router';
import { useStream } from '../stream';
import type { Alert, AlertDetail, AlertRow, Attribution, Enrichment, Session, SubjectEnrichment } from '../types';

export function AlertDetailPage({ fingerprint, session }: { fingerprint: string; session: Session }) {
  const { data, error, loading, reload } = useApi<AlertDetail>(`/v1/console/alerts/${encodeURIComponent(fingerprint)}`);
  const now = useNow();
  // A new occurrence (count, last seen, evidence) or a change of status shows without a reload.
  useStream<AlertRow>('alert', (row) => {
    if (row?.fingerprint === fingerprint) reload();
  });
  if (error) {
    return (
      <>
        <h1>Alert</h1>
        <ErrorBox error={error} />
        <Link href={href('/alerts')}>Back to the alerts</Link>
      </>
    );
  }
  if (!data) return loading ? <Loading what="the alert" /> : null;
  const { alert } = data;
  const incidentId = data.incidentId ?? alert.incident?.id ?? null;
  const k8s = alert.event.k8s ?? {};
  const runbook = safeHref(alert.runbookUrl);

  return (
    <article data-testid="alert-detail">
      <div class="page-head">
        <h1>
          <PriorityBadge priority={alert.priority} /> {alert.rule}
        </h1>
        {session.scopes.includes('admin') && (
          <Link
            href={href('/silences/new', new URLSearchParams({ fromAlert: alert.fingerprint }))}
            class="button-link"
            data-testid="silence-from-alert"
          >
            Silence from this alert
          </Link>
        )}
      </div>
      <p class="summary">{alert.summary}</p>
      <div class="grid-2">
        <Section title="Alert">
          <Facts
            rows={[
              ['Where', formatWhere({ cluster: k8s.cluster, namespace: k8s.namespace, pod: k8s.pod, container: k8s.container })],
              ['Source', alert.source],
              ['Count', String(alert.count)],
              [
                'First seen',
                <>
                  {formatTime(alert.firstSeen)} (<Time value={alert.firstSeen} now={now} />)
                </>,
              ],
              [
                'Last seen',
                <>
                  {formatTime(alert.lastSeen)} (<Time value={alert.lastSeen} now={now} />)
                </>,
              ],
              ['State', alert.state ?? ''],
              ['Silenced by', alert.silencedBy?.join(', ')],
              ['Inhibited by', alert.inhibitedBy?.join(', ')],
              ['Resolved', alert.resolvedAt ? formatTime(alert.resolvedAt) : ''],
              [
                'Tags',
                alert.tags.length ? (
                  <>
                    {alert.tags.map((t) => (
                      <span class="tag" key={t}>
                        {t}
                      </span>
                    ))}
                  </>
                ) : (
                  ''
                ),
              ],
              [
                'Runbook',
                runbook ? (
                  <a href={runbook} data-testid="runbook-link" rel="noreferrer noopener" target="_blank">
                    {alert.runbookUrl}
                  </a>
                ) : (
                  <span data-testid="runbook-link">{alert.runbookUrl || 'none'}</span>
                ),
              ],
              [
                'Incident',
                incidentId ? (
                  <Link href={href(`/incidents/${encodeURIComponent(incidentId)}`)} data-testid="incident-link">
                    {incidentId}
                    {alert.incident?.chain ? ` (${alert.incident.chain})` : ''}
                  </Link>
                ) : (
                  'not part of an incident'
                ),
              ],
              ['Fingerprint', <code>{alert.fingerprint}</code>],
            ]}
          />
        </Section>
        <AttributionSection alert={alert} />
      </div>
      <h2 class="section-title">Enrichment</h2>
      <EnrichmentSections enrichment={alert.enrichment ?? {}} />
      <Section title="Evidence" testid="evidence">
        <p class="muted small">The latest raw events behind this alert, as received ({data.evidence.length} kept).</p>
        {data.evidence.length === 0 && <p class="muted">No raw events are kept for this alert.</p>}
        {data.evidence.map((e, i) => (
          <pre class="json" key={i} tabIndex={0} aria-label={`Raw event ${i + 1}`}>
            {prettyJson(e)}
          </pre>
        ))}
      </Section>
      {alert.labels && (
        <Section title="Labels">
          <Facts rows={Object.entries(alert.labels).map(([k, v]) => [k, <code>{v}</code>])} />
        </Section>
      )}
    </article>
  );
}

function AttributionSection({ alert }: { alert: Alert }) {
  const a = alert.attribution;
  const actor = { ...alert.event.actor, processUser: alert.event.process?.user };
  return (
    <Section title="Who" testid="attribution">
      {a ? (
        <AttributionFacts a={a} />
      ) : actor?.user ? (
        <Facts
          rows={[
            ['User', actor.user],
            ['Impersonated', actor.impersonatedUser],
            ['Groups', actor.groups?.join(', ')],
            ['Source IP', actor.sourceIp],
          ]}
        />
      ) : actor?.processUser ? (
        <p>
          Process user <strong>{actor.processUser}</strong>; no exec or attach session attributes it to a Kubernetes user.
        </p>
      ) : (
        <p class="muted">Nothing attributes this alert to a user.</p>
      )}
    </Section>
  );
}

export function AttributionFacts({ a }: { a: Attribution }) {
  return (
    <>
      <Facts
        rows={[
          ['User', a.user ?? 'ambiguous: more than one session fits'],
          ['Confidence', a.confidence],
          ['Command', a.command ? <code>{a.command}</code> : ''],
          ['Groups', a.groups.join(', ')],
          ['Source IPs', a.sourceIPs.join(', ')],
          ['User agent', a.userAgent ?? ''],
          ['Audit ID', a.auditID ? <code>{a.auditID}</code> : ''],
        ]}
      />
      {a.candidates.length > 0 && (
        <>
          <h3>Candidate sessions</h3>
          <ul class="plain">
            {a.candidates.map((c) => (
              <li key={c.auditID}>
                {c.user} — {c.kind}
                {c.command ? `: ${c.command}` : ''} from {c.sourceIPs.join(', ') || 'unknown address'}
              </li>
            ))}
          </ul>
        </>
      )}
      {a.subject && (
        <>
          <h3>The attributed user's permissions</h3>
          <SubjectFacts subject={a.subject} />
        </>
      )}
    </>
  );
}

function Unknown({ reason }: { reason: string }) {
  return <p class="muted">Not known: {reason}</p>;
}

function SubjectFacts({ subject }: { subject: SubjectEnrichment }) {
  if (!subject.known) return <Unknown reason={subject.reason} />;
  return (
    <>
      <Facts
        rows={[
          ['User', subject.user],
          ['Kind', subject.kind],
          ['Found from', subject.origin],
          ['Impersonated by', subject.impersonatedBy],
          ['Groups', subject.groups.join(', ')],
          [
            'Bindings',
            subject.bindings.length ? (
              <ul class="plain">
                {subject.bindings.map((b) => (
                  <li key={b}>{b}</li>
                ))}
                {subject.bindingCount > subject.bindings.length && (
                  <li class="muted">…and {subject.bindingCount - subject.bindings.length} more</li>
                )}
              </ul>
            ) : (
              'none'
            ),
          ],
        ]}
      />
      <h3>Risky permissions ({subject.findingCount})</h3>
      {subject.findings.length === 0 ? (
        <p class="muted">None found.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Severity</th>
                <th scope="col">Permission</th>
                <th scope="col">Scope</th>
                <th scope="col">Granted by</th>
              </tr>
            </thead>
            <tbody>
              {subject.findings.map((f) => (
                <tr key={`${f.id}-${f.scope}-${f.grantedBy}`}>
                  <td>
                    <SeverityBadge severity={f.severity} />
                  </td>
                  <td>
                    {f.title} <code class="muted">{f.id}</code>
                    {f.resourceNames?.length ? ` (only ${f.resourceNames.join(', ')})` : ''}
                  </td>
                  <td>{f.scope}</td>
                  <td>{f.grantedBy}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function EnrichmentSections({ enrichment }: { enrichment: Enrichment }) {
  const { subject, pod, network, vulnerabilities, policy } = enrichment;
  return (
    <div class="grid-2">
      <Section title="Subject and its permissions" testid="enrichment-subject">
        {subject ? <SubjectFacts subject={subject} /> : <p class="muted">The alert names no subject.</p>}
      </Section>
      <Section title="Pod security" testid="enrichment-pod">
        {!pod ? (
          <p class="muted">The alert names no pod.</p>
        ) : !pod.known ? (
          <Unknown reason={pod.reason} />
        ) : (
          <>
            <Facts
              rows={[
                ['Pod', `${pod.namespace}/${pod.name}`],
                ['Pod Security level', `${pod.pss.level} (${pod.pss.version})`],
                ['Service account', pod.serviceAccount],
                ['Node', pod.node],
                ['Privileged', pod.privileged ? `yes: ${pod.privilegedContainers.join(', ')}` : 'no'],
                ['Runs as root', pod.runAsRoot],
                ['Host network / PID / IPC', [pod.hostNetwork, pod.hostPID, pod.hostIPC].map(yesNo).join(' / ')],
                ['Capabilities added', pod.capabilitiesAdded.join(', ')],
                ['hostPath volumes', pod.hostPathVolumes.join(', ')],
                [
                  'Namespace policy',
                  pod.namespacePolicy.known
                    ? `enforce ${pod.namespacePolicy.enforce}, audit ${pod.namespacePolicy.audit}, warn ${pod.namespacePolicy.warn}; ${
                        pod.namespacePolicy.meetsEnforce ? 'meets enforce' : 'would NOT be admitted under enforce'
                      }`
                    : `not known: ${pod.namespacePolicy.reason}`,
                ],
                ['Source of facts', pod.origin === 'state' ? 'cluster state' : "the audit event's object"],
              ]}
            />
            <h3>What keeps it from the next level ({pod.pss.violations.length})</h3>
            {pod.pss.violations.length === 0 ? (
              <p class="muted">Nothing: it meets restricted.</p>
            ) : (
              <ul class="plain">
                {pod.pss.violations.map((v) => (
                  <li key={v.check}>
                    <code>{v.check}</code>: {v.reason}
                    {v.detail ? ` (${v.detail})` : ''}
                  </li>
                ))}
              </ul>
            )}
          </>
        )}
      </Section>
      <Section title="Network isolation" testid="enrichment-network">
        {!network ? (
          <p class="muted">The alert names no pod.</p>
        ) : !network.known ? (
          <Unknown reason={network.reason} />
        ) : (
          <Facts
            rows={(['ingress', 'egress'] as const).map((dir) => {
              const d = network[dir];
              const how = d.isolated
                ? `isolated${d.defaultDeny ? ' (default deny)' : ''}${d.anyPeerAllowed ? ', but some port is open to any peer' : ''}`
                : 'NOT isolated: any peer';
              return [
                dir === 'ingress' ? 'Ingress' : 'Egress',
                <>
                  {how}
                  {d.policies.length > 0 && <span class="muted small"> — policies: {d.policies.join(', ')}</span>}
                </>,
              ];
            })}
          />
        )}
      </Section>
      <Section title="Vulnerabilities" testid="enrichment-vulns">
        {!vulnerabilities ? (
          <p class="muted">No vulnerability report is known for this pod's images.</p>
        ) : (
          <>
            <p>
              {vulnerabilities.critical} critical, {vulnerabilities.high} high, {vulnerabilities.medium} medium;{' '}
              {vulnerabilities.fixable} fixable ({vulnerabilities.criticalFixable} critical with a fix).
            </p>
            {vulnerabilities.images.map((img) => (
              <div key={img.image}>
                <h3>
                  {img.image}
                  {img.container ? ` (${img.container})` : ''}
                </h3>
                {img.top.length > 0 && (
                  <div class="table-wrap">
                    <table>
                      <thead>
                        <tr>
                          <th scope="col">CVE</th>
                          <th scope="col">Severity</th>
                          <th scope="col">Package</th>
                          <th scope="col">Installed</th>
                          <th scope="col">Fixed in</th>
                        </tr>
                      </thead>
                      <tbody>
                        {img.top.map((c) => (
                          <tr key={`${c.id}-${c.package}`}>
                            <td>{c.id}</td>
                            <td>
                              <SeverityBadge severity={c.severity} />
                              {c.score !== undefined ? ` ${c.score}` : ''}
                            </td>
                            <td>{c.package}</td>
                            <td>{c.installedVersion}</td>
                            <td>{c.fixedVersion || 'no fix'}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                )}
              </div>
            ))}
          </>
        )}
      </Section>
      <Section title="Policy results" testid="enrichment-policy">
        {!policy ? (
          <p class="muted">No failing policy results are known for this pod or its workload.</p>
        ) : (
          <>
            <p>{policy.failing} failing</p>
            <ul class="plain">
              {policy.results.map((r, i) => (
                <li key={i}>
                  <SeverityBadge severity={r.severity || 'unknown'} /> <strong>{r.check}</strong> ({r.source}
                  {r.category ? `, ${r.category}` : ''}) on {r.resource}: {r.message}
                </li>
              ))}
            </ul>
          </>
        )}
      </Section>
    </div>
  );
}
