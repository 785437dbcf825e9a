import { FINDING_KINDS } from './catalogue';
import { refString, subjectString, type Finding, type Severity } from './finding';
import type { SourceLocation } from './manifests';
import { allFindings, type PostureReport } from './report';

/** Control characters (terminal escapes) never reach a terminal from cluster-supplied names. */
function plain(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

const SCORE_LINE = (r: PostureReport) => r.areas.map((a) => `${a} ${r.summary.scores[a]?.score ?? '-'}/100`).join(', ');

/** The default output: one table per section, then every finding with its fix. */
export function renderText(report: PostureReport, options: { includeBuiltin?: boolean } = {}): string {
  const out: string[] = [];
  const push = (...lines: string[]) => out.push(...lines.map(plain));
  push(`Posture of cluster ${report.cluster}: ${SCORE_LINE(report)}`, '');
  if (report.summary.topFixes.length) {
    push('Top fixes');
    report.summary.topFixes.forEach((f, i) => push(`  ${i + 1}. [${f.severity}] ${f.title}`, `     fix: ${f.fix}`));
    push('');
  }
  if (report.rbac) {
    push('RBAC: cluster-admin or equivalent');
    push(
      ...table([
        ['SUBJECT', 'BINDING', 'ROLE', 'BOOTSTRAP'],
        ...report.rbac.clusterAdmins.map((a) => [
          subjectString(a.subject),
          `${a.binding.kind}/${a.binding.namespace ? `${a.binding.namespace}/` : ''}${a.binding.name}`,
          `${a.role.kind}/${a.role.name}`,
          a.builtin ? 'yes' : '',
        ]),
      ]).map((l) => `  ${l}`),
    );
    push('', 'RBAC: subjects by risk (bootstrap policy left out)');
    push(
      ...table([
        ['SUBJECT', 'WORST', 'RISKY PERMISSIONS'],
        ...report.rbac.subjects.map((s) => [
          subjectString(s.subject),
          s.worst,
          [...new Set(s.findings.map((f) => f.id))].join(', '),
        ]),
      ]).map((l) => `  ${l}`),
    );
    push('');
  }
  if (report.pss) {
    push('Pod Security by namespace');
    push(
      ...table([
        ['NAMESPACE', 'ENFORCE', 'AUDIT', 'WARN', 'PODS', 'ALL MEET', 'VERDICT'],
        ...report.pss.namespaces.map((n) => [
          n.namespace,
          n.enforceLabelled ? n.enforce : `${n.enforce} (unset)`,
          n.audit,
          n.warn,
          String(n.pods),
          n.highestLevel,
          n.verdict,
        ]),
      ]).map((l) => `  ${l}`),
    );
    push('');
  }
  if (report.network) {
    push('Network by namespace');
    push(
      ...table([
        ['NAMESPACE', 'POLICIES', 'DENY INGRESS', 'DENY EGRESS', 'PODS', 'NOT ISOLATED'],
        ...report.network.namespaces.map((n) => [
          n.namespace,
          String(n.policies),
          n.defaultDenyIngress ? 'yes' : 'no',
          n.defaultDenyEgress ? 'yes' : 'no',
          String(n.pods),
          String(n.unisolatedPods),
        ]),
      ]).map((l) => `  ${l}`),
    );
    push(`  (${report.network.note})`, '');
  }
  const findings = allFindings(report).filter((f) => options.includeBuiltin || !f.builtin);
  push(`Findings (${findings.length})`);
  for (const f of findings) push(`  [${f.severity}] ${f.id}  ${refString(f.object)}`, `      ${f.title}`, `      fix: ${f.fix}`);
  return `${out.join('\n')}\n`;
}

/** Markdown for a pull request comment or a wiki page; every cluster-supplied string is escaped. */
export function renderMarkdown(report: PostureReport): string {
  const md = (s: string) => plain(s).replace(/[\\`*_[\]<>|#]/g, (c) => `\\${c}`);
  const row = (cells: string[]) => `| ${cells.map(md).join(' | ')} |`;
  const head = (cells: string[]) => [row(cells), `|${cells.map(() => '---').join('|')}|`];
  const out: string[] = [`# Posture of cluster ${md(report.cluster)}`, ''];
  out.push(...head(['Area', 'Score', 'Critical', 'High', 'Medium', 'Low']));
  for (const a of report.areas) {
    const s = report.summary.scores[a];
    if (s)
      out.push(
        row([a, `${s.score}/100`, ...(['critical', 'high', 'medium', 'low'] as Severity[]).map((k) => String(s.findings[k]))]),
      );
  }
  out.push('', '## Top fixes', '');
  report.summary.topFixes.forEach((f, i) => out.push(`${i + 1}. **${f.severity}** ${md(f.title)} — ${md(f.fix)}`));
  if (report.pss) {
    out.push('', '## Pod Security', '', ...head(['Namespace', 'Enforce', 'Audit', 'Warn', 'Pods', 'All meet', 'Verdict']));
    for (const n of report.pss.namespaces)
      out.push(
        row([
          n.namespace,
          n.enforceLabelled ? n.enforce : `${n.enforce} (unset)`,
          n.audit,
          n.warn,
          String(n.pods),
          n.highestLevel,
          n.verdict,
        ]),
      );
  }
  if (report.network) {
    out.push(
      '',
      '## Network',
      '',
      ...head(['Namespace', 'Policies', 'Default-deny ingress', 'Default-deny egress', 'Pods', 'Not isolated']),
    );
    for (const n of report.network.namespaces) {
      out.push(
        row([
          n.namespace,
          String(n.policies),
          n.defaultDenyIngress ? 'yes' : 'no',
          n.defaultDenyEgress ? 'yes' : 'no',
          String(n.pods),
          String(n.unisolatedPods),
        ]),
      );
    }
  }
  if (report.rbac) {
    out.push('', '## RBAC: cluster-admin or equivalent', '', ...head(['Subject', 'Binding', 'Role', 'Bootstrap']));
    for (const a of report.rbac.clusterAdmins)
      out.push(
        row([
          subjectString(a.subject),
          `${a.binding.kind}/${a.binding.name}`,
          `${a.role.kind}/${a.role.name}`,
          a.builtin ? 'yes' : '',
        ]),
      );
  }
  const findings = allFindings(report).filter((f) => !f.builtin);
  out.push('', `## Findings (${findings.length})`, '', ...head(['Severity', 'Id', 'Object', 'Finding', 'Fix']));
  for (const f of findings) out.push(row([f.severity, f.id, refString(f.object), f.title, f.fix]));
  return `${out.join('\n')}\n`;
}

const SARIF_LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  critical: 'error',
  high: 'error',
  medium: 'warning',
  low: 'note',
};
/** GitHub code scanning reads `security-severity` (0–10) to rank results. */
const SECURITY_SEVERITY: Record<Severity, string> = { critical: '9.5', high: '7.5', medium: '5.0', low: '2.0' };

/** SARIF 2.1.0, one result per finding, located at the manifest that defines its object when known. */
export function renderSarif(report: PostureReport, sources: ReadonlyMap<string, SourceLocation> = new Map()): string {
  const findings = allFindings(report).filter((f) => !f.builtin);
  const used = new Set(findings.map((f) => f.id));
  const rules = FINDING_KINDS.filter((k) => used.has(k.id)).map((k) => ({
    id: k.id,
    name: k.id,
    shortDescription: { text: k.summary },
    help: { text: `See docs/posture.md, ${k.id}.` },
    properties: { tags: ['security', 'kubernetes', k.area] },
  }));
  const results = findings.map((f) => result(f, sources));
  return `${JSON.stringify(
    {
      $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
      version: '2.1.0',
      runs: [{ tool: { driver: { name: 'falconer', rules } }, results }],
    },
    null,
    2,
  )}\n`;
}

function result(f: Finding, sources: ReadonlyMap<string, SourceLocation>) {
  const at =
    sources.get(refString(f.object)) ?? (f.object.namespace ? sources.get(`Namespace ${f.object.namespace}`) : undefined);
  return {
    ruleId: f.id,
    level: SARIF_LEVEL[f.severity],
    message: { text: `${f.title}. Fix: ${f.fix}` },
    locations: [
      at
        ? { physicalLocation: { artifactLocation: { uri: at.file.split('\\').join('/') }, region: { startLine: at.line } } }
        : { logicalLocations: [{ fullyQualifiedName: refString(f.object), kind: 'resource' }] },
    ],
    partialFingerprints: { falconerFindingKey: f.key },
    properties: { 'security-severity': SECURITY_SEVERITY[f.severity], severity: f.severity },
  };
}
