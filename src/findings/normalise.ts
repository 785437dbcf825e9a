import {
  MAX_IDS,
  MAX_MESSAGE,
  MAX_TOP,
  MAX_TOP_UNSCOPED,
  SEVERITY_RANK,
  type Finding,
  type FindingSeverity,
  type FindingSource,
  type ReportKind,
  type ReportSummary,
  type ResourceRef,
  type SeverityCounts,
} from './types';

/** A report's summary (kept) and all its failing findings (for the diff only, then dropped). */
export interface Normalised {
  summary: ReportSummary;
  findings: Finding[];
}

/**
 * Turns one object as the apiserver sent it (snapshot item, audit request/response object, watch event)
 * into the summary Falconer keeps, or undefined when it is not a kind read here. Untrusted input: every
 * field is type-checked and copied, so the full report can be collected at once.
 */
export function normaliseFindingObject(raw: unknown): Normalised | undefined {
  if (!isRecord(raw) || !isRecord(raw.metadata)) return undefined;
  const group = apiGroup(raw.apiVersion);
  const kind = str(raw.kind);
  if (group === 'wgpolicyk8s.io' && (kind === 'PolicyReport' || kind === 'ClusterPolicyReport')) return policyReport(raw, kind);
  if (group === 'openreports.io' && (kind === 'Report' || kind === 'ClusterReport')) return policyReport(raw, kind);
  if (group === 'constraints.gatekeeper.sh' && kind) return constraint(raw, kind);
  if (group === 'aquasecurity.github.io') {
    if (kind === 'VulnerabilityReport') return vulnerabilityReport(raw);
    if (kind === 'ConfigAuditReport' || kind === 'RbacAssessmentReport') return checkReport(raw, kind);
    return undefined;
  }
  if ((group === '' || group === 'events.k8s.io') && kind === 'Event') return event(raw);
  return undefined;
}

/** The object kinds read here, by API group (what the live source lists and the audit stream applies). */
export const FINDING_RESOURCES = [
  { group: 'wgpolicyk8s.io', version: 'v1alpha2', resource: 'policyreports', kind: 'PolicyReport', namespaced: true },
  {
    group: 'wgpolicyk8s.io',
    version: 'v1alpha2',
    resource: 'clusterpolicyreports',
    kind: 'ClusterPolicyReport',
    namespaced: false,
  },
  { group: 'openreports.io', version: 'v1alpha1', resource: 'reports', kind: 'Report', namespaced: true },
  { group: 'openreports.io', version: 'v1alpha1', resource: 'clusterreports', kind: 'ClusterReport', namespaced: false },
  {
    group: 'aquasecurity.github.io',
    version: 'v1alpha1',
    resource: 'vulnerabilityreports',
    kind: 'VulnerabilityReport',
    namespaced: true,
  },
  {
    group: 'aquasecurity.github.io',
    version: 'v1alpha1',
    resource: 'configauditreports',
    kind: 'ConfigAuditReport',
    namespaced: true,
  },
  {
    group: 'aquasecurity.github.io',
    version: 'v1alpha1',
    resource: 'rbacassessmentreports',
    kind: 'RbacAssessmentReport',
    namespaced: true,
  },
] as const;

// ---- PolicyReport / ClusterPolicyReport / openreports Report / ClusterReport ----

const POLICY_SEVERITIES = new Set<FindingSeverity>(['critical', 'high', 'medium', 'low', 'info']);

function policyReport(raw: Record<string, unknown>, kind: ReportKind): Normalised | undefined {
  const key = reportKey(raw, kind);
  if (!key) return undefined;
  const scope = objectRef(raw.scope);
  const findings: Finding[] = [];
  let failing = 0;
  for (const result of list(raw.results)) {
    if (result.result !== 'fail') continue;
    const policy = str(result.policy);
    if (!policy) continue;
    const rule = str(result.rule);
    const check = rule ? `${policy}/${rule}` : policy;
    const source = policySource(result.source);
    const severity = POLICY_SEVERITIES.has(result.severity as FindingSeverity) ? (result.severity as FindingSeverity) : 'medium';
    const resources = list(result.resources).map(objectRef).filter(isDefined);
    const targets = resources.length > 0 ? resources : scope ? [scope] : [];
    for (const resource of targets) {
      failing++;
      findings.push({
        id: findingId(source, check, resource),
        source,
        category: 'policy',
        check,
        severity,
        resource,
        message: cap(str(result.message) ?? ''),
      });
    }
  }
  return summary(key, kind, findings, failing, {}, scope ? { subject: scope } : {});
}

function policySource(raw: unknown): FindingSource {
  const s = typeof raw === 'string' ? raw.toLowerCase() : '';
  if (s === 'kyverno') return 'kyverno';
  if (s === 'gatekeeper') return 'gatekeeper';
  return 'policy-report';
}

// ---- Gatekeeper constraints ----

/** How strongly each enforcement action says "this is wrong now". */
function actionSeverity(action: string | undefined): FindingSeverity {
  if (action === 'deny') return 'high';
  if (action === 'warn') return 'medium';
  return 'low';
}

function constraint(raw: Record<string, unknown>, kind: string): Normalised | undefined {
  const name = str((raw.metadata as Record<string, unknown>).name);
  if (!name) return undefined;
  const status = isRecord(raw.status) ? raw.status : {};
  const check = `${kind}/${name}`;
  const findings: Finding[] = [];
  for (const v of list(status.violations)) {
    const resource = objectRef(v);
    if (!resource) continue;
    const message = cap(str(v.message) ?? '');
    findings.push({
      id: findingId('gatekeeper', check, resource, message),
      source: 'gatekeeper',
      category: 'policy',
      check,
      severity: actionSeverity(str(v.enforcementAction)),
      resource,
      message,
    });
  }
  // The constraint lists at most --constraint-violations-limit (20) violations; totalViolations is the truth.
  const total = typeof status.totalViolations === 'number' ? Math.max(status.totalViolations, findings.length) : findings.length;
  return summary(`${kind}//${name}`, 'Constraint', findings, total, {}, {});
}

// ---- Events (Kyverno and Gatekeeper) ----

const GATEKEEPER_REASONS: Readonly<Record<string, FindingSeverity | 'by-action'>> = {
  FailedAdmission: 'high',
  WarningAdmission: 'medium',
  DryrunViolation: 'low',
  AuditViolation: 'by-action',
};

function event(raw: Record<string, unknown>): Normalised | undefined {
  const key = reportKey(raw, 'Event');
  if (!key) return undefined;
  const reason = str(raw.reason);
  const meta = raw.metadata as Record<string, unknown>;
  const annotations = isRecord(meta.annotations) ? meta.annotations : {};
  const message = str(raw.message) ?? str(raw.note) ?? '';
  const involved = objectRef(raw.involvedObject) ?? objectRef(raw.regarding);
  let finding: Finding | undefined;
  const gk = reason ? GATEKEEPER_REASONS[reason] : undefined;
  if (gk && str(annotations.constraint_kind) && str(annotations.constraint_name)) {
    const check = `${str(annotations.constraint_kind)}/${str(annotations.constraint_name)}`;
    const rname = str(annotations.resource_name);
    const resource: ResourceRef | undefined = rname
      ? { kind: str(annotations.resource_kind) ?? 'Unknown', name: rname, ...nsOf(str(annotations.resource_namespace)) }
      : involved;
    if (!resource) return undefined;
    const severity = gk === 'by-action' ? actionSeverity(str(annotations.constraint_action)) : gk;
    finding = { id: '', source: 'gatekeeper', category: 'policy', check, severity, resource, message: cap(message) };
  } else if (reason === 'PolicyViolation' && involved) {
    finding = kyvernoViolation(involved, message);
  }
  if (!finding) return undefined;
  finding.id = findingId(finding.source, finding.check, finding.resource, key);
  const made = summary(key, 'Event', [finding], 1, {}, {});
  made.summary.occurrence = true;
  return made;
}

// Kyverno's two messages: on the resource, "policy <policy>/<rule> fail: <msg>"; on the policy, for a
// request admission blocked, "<Kind> <ns>/<name>: [<rule>] fail (blocked); <msg>".
const ON_RESOURCE = /^policy ([^/\s]+)\/(\S+) fail: ([\s\S]*)$/;
const ON_POLICY = /^(\S+) (?:([^/\s]+)\/)?(\S+): \[([^\]]+)\] fail( \(blocked\))?[;:]? ?([\s\S]*)$/;

function kyvernoViolation(involved: ResourceRef, message: string): Finding {
  const onPolicy = involved.kind === 'ClusterPolicy' || involved.kind === 'Policy' ? ON_POLICY.exec(message) : null;
  if (onPolicy) {
    const [, kind, ns, name, rule, blocked, msg] = onPolicy as unknown as string[];
    return {
      id: '',
      source: 'kyverno',
      category: 'policy',
      check: `${involved.name}/${rule}`,
      severity: blocked ? 'high' : 'medium',
      resource: { kind: kind as string, name: name as string, ...nsOf(ns) },
      message: cap(msg ?? ''),
    };
  }
  const onResource = ON_RESOURCE.exec(message);
  return {
    id: '',
    source: 'kyverno',
    category: 'policy',
    check: onResource ? `${onResource[1]}/${onResource[2]}` : 'PolicyViolation',
    severity: 'medium',
    resource: involved,
    message: cap(onResource ? (onResource[3] ?? '') : message),
  };
}

// ---- trivy-operator ----

const TRIVY_SEVERITY: Readonly<Record<string, FindingSeverity>> = {
  CRITICAL: 'critical',
  HIGH: 'high',
  MEDIUM: 'medium',
  LOW: 'low',
  UNKNOWN: 'info',
};

/** The workload and container trivy-operator's labels name. */
function trivySubject(raw: Record<string, unknown>): { subject?: ResourceRef; container?: string } {
  const labels = isRecord((raw.metadata as Record<string, unknown>).labels)
    ? ((raw.metadata as Record<string, unknown>).labels as Record<string, unknown>)
    : {};
  const kind = str(labels['trivy-operator.resource.kind']);
  const name = str(labels['trivy-operator.resource.name']);
  const container = str(labels['trivy-operator.container.name']);
  return {
    ...(kind && name ? { subject: { kind, name, ...nsOf(str(labels['trivy-operator.resource.namespace'])) } } : {}),
    ...(container ? { container } : {}),
  };
}

function vulnerabilityReport(raw: Record<string, unknown>): Normalised | undefined {
  const key = reportKey(raw, 'VulnerabilityReport');
  if (!key) return undefined;
  const { subject, container } = trivySubject(raw);
  const report = isRecord(raw.report) ? raw.report : {};
  const artifact = isRecord(report.artifact) ? report.artifact : {};
  const registry = isRecord(report.registry) ? str(report.registry.server) : undefined;
  const repo = str(artifact.repository) ?? '';
  const tag = str(artifact.tag) ?? str(artifact.digest);
  const image = `${registry && registry !== 'index.docker.io' ? `${registry}/` : ''}${repo}${tag ? (tag.startsWith('sha256:') ? `@${tag}` : `:${tag}`) : ''}`;
  const resource = subject ?? { kind: 'VulnerabilityReport', name: key.split('/')[2] as string, ...nsOf(key.split('/')[1]) };
  const counts = zeroCounts();
  const findings: Finding[] = [];
  let fixable = 0;
  for (const v of list(report.vulnerabilities)) {
    const cve = str(v.vulnerabilityID);
    if (!cve) continue;
    const severity = TRIVY_SEVERITY[str(v.severity) ?? ''] ?? 'info';
    bump(counts, severity);
    const fixedVersion = str(v.fixedVersion) ?? '';
    if (fixedVersion !== '') fixable++;
    const pkg = str(v.resource) ?? '';
    const score = typeof v.score === 'number' ? v.score : undefined;
    const link = str(v.primaryLink);
    findings.push({
      id: findingId('trivy', cve, resource, `${container ?? ''}|${pkg}`),
      source: 'trivy',
      category: 'vulnerability',
      check: cve,
      severity,
      resource,
      ...(container ? { container } : {}),
      message: cap(str(v.title) ?? ''),
      vulnerability: {
        package: pkg,
        installedVersion: str(v.installedVersion) ?? '',
        fixedVersion,
        ...(score !== undefined ? { score } : {}),
        image,
        ...(link ? { link } : {}),
      },
    });
  }
  return summary(
    key,
    'VulnerabilityReport',
    findings,
    findings.length,
    { counts, fixable },
    {
      ...(subject ? { subject } : {}),
      ...(container ? { container } : {}),
      image,
    },
  );
}

function checkReport(raw: Record<string, unknown>, kind: 'ConfigAuditReport' | 'RbacAssessmentReport'): Normalised | undefined {
  const key = reportKey(raw, kind);
  if (!key) return undefined;
  const { subject } = trivySubject(raw);
  const report = isRecord(raw.report) ? raw.report : {};
  const resource = subject ?? { kind, name: key.split('/')[2] as string, ...nsOf(key.split('/')[1]) };
  const counts = zeroCounts();
  const findings: Finding[] = [];
  for (const c of list(report.checks)) {
    const id = str(c.checkID);
    if (!id || c.success !== false) continue;
    const severity = TRIVY_SEVERITY[str(c.severity) ?? ''] ?? 'info';
    bump(counts, severity);
    const messages = Array.isArray(c.messages) ? c.messages.filter((m): m is string => typeof m === 'string') : [];
    const scope = isRecord(c.scope) && str(c.scope.value) ? `${str(c.scope.type) ?? ''}:${str(c.scope.value)}` : '';
    findings.push({
      id: findingId('trivy', id, resource, scope),
      source: 'trivy',
      category: kind === 'ConfigAuditReport' ? 'config-audit' : 'rbac-assessment',
      check: id,
      severity,
      resource,
      message: cap(messages.length > 0 ? messages.join('; ') : (str(c.title) ?? '')),
    });
  }
  return summary(key, kind, findings, findings.length, { counts }, subject ? { subject } : {});
}

// ---- shared ----

function summary(
  key: string,
  kind: ReportKind,
  findings: Finding[],
  failing: number,
  extra: { counts?: SeverityCounts; fixable?: number },
  about: { subject?: ResourceRef; container?: string; image?: string },
): Normalised {
  let counts = extra.counts;
  if (!counts) {
    counts = zeroCounts();
    for (const f of findings) bump(counts, f.severity);
  }
  const ids = [...new Set(findings.map((f) => f.id))].slice(0, MAX_IDS);
  const top = [...findings].sort(bySeverity).slice(0, about.subject ? MAX_TOP : MAX_TOP_UNSCOPED);
  return {
    summary: { key, kind, ...about, counts, fixable: extra.fixable ?? 0, failing, ids, top, occurrence: false },
    findings,
  };
}

/** Most severe first; among equals the higher score, then a fixed version, then by check id. */
export function bySeverity(a: Finding, b: Finding): number {
  return (
    SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] ||
    (b.vulnerability?.score ?? -1) - (a.vulnerability?.score ?? -1) ||
    Number(Boolean(b.vulnerability?.fixedVersion)) - Number(Boolean(a.vulnerability?.fixedVersion)) ||
    (a.check < b.check ? -1 : a.check > b.check ? 1 : 0)
  );
}

function findingId(source: string, check: string, resource: ResourceRef, detail = ''): string {
  return `${source}|${check}|${resource.kind}/${resource.namespace ?? ''}/${resource.name}|${detail}`.slice(0, 1000);
}

function reportKey(raw: Record<string, unknown>, kind: string): string | undefined {
  const meta = raw.metadata as Record<string, unknown>;
  const name = str(meta.name);
  if (!name) return undefined;
  return `${kind}/${str(meta.namespace) ?? ''}/${name}`;
}

function objectRef(raw: unknown): ResourceRef | undefined {
  if (!isRecord(raw)) return undefined;
  const kind = str(raw.kind);
  const name = str(raw.name);
  if (!kind || !name) return undefined;
  return { kind, name, ...nsOf(str(raw.namespace)) };
}

function nsOf(ns: string | undefined): { namespace?: string } {
  return ns ? { namespace: ns } : {};
}

function zeroCounts(): SeverityCounts {
  return { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };
}

function bump(counts: SeverityCounts, severity: FindingSeverity): void {
  if (severity === 'info') counts.unknown++;
  else counts[severity]++;
}

function apiGroup(apiVersion: unknown): string | undefined {
  if (typeof apiVersion !== 'string') return undefined;
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

function cap(s: string): string {
  return s.length > MAX_MESSAGE ? `${s.slice(0, MAX_MESSAGE - 1)}…` : s;
}

function list(raw: unknown): Record<string, unknown>[] {
  return Array.isArray(raw) ? raw.filter(isRecord) : [];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isDefined<T>(v: T | undefined): v is T {
  return v !== undefined;
}
