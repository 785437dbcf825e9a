import type { ClusterState } from '../enrich/cluster-state/state';
import type { Pod } from '../enrich/cluster-state/types';
import {
  AREAS,
  refString,
  severityRank,
  sortFindings,
  subjectString,
  workloadOf,
  type Area,
  type Finding,
  type Severity,
} from './finding';
import { networkReport, type NetworkReport } from './network';
import { pssReport, type PssReport } from './pss';
import { rbacReport, type RbacReport } from './rbac';

/** Bumped when a field is renamed or removed (additions keep it). */
export const POSTURE_SCHEMA_VERSION = 1;

export interface AreaScore {
  /** 0–100: the share of checked objects without a finding, weighted by each one's worst finding. */
  score: number;
  /** Objects checked: subjects and roles (rbac), namespaces and workloads (pss, network). */
  checked: number;
  findings: Record<Severity, number>;
}

export interface PostureSummary {
  scores: Partial<Record<Area, AreaScore>>;
  /** The ten findings to fix first: most severe, then most pods affected. */
  topFixes: Finding[];
}

export interface PostureReport {
  schemaVersion: number;
  cluster: string;
  /** ms since the epoch: when the report was built. */
  generatedAt: number;
  areas: Area[];
  rbac?: RbacReport;
  pss?: PssReport;
  network?: NetworkReport;
  summary: PostureSummary;
}

/** Weight of an object's worst finding in its area's score. */
const WEIGHT: Record<Severity, number> = { critical: 1, high: 0.6, medium: 0.3, low: 0.1 };
const TOP = 10;

/** Builds the requested reports (all three by default) and their summary. Pure: reads the state only. */
export function buildPosture(state: ClusterState, options: { areas?: readonly Area[]; now: number }): PostureReport {
  const areas = [...(options.areas ?? AREAS)];
  const report: PostureReport = {
    schemaVersion: POSTURE_SCHEMA_VERSION,
    cluster: state.cluster,
    generatedAt: options.now,
    areas,
    summary: { scores: {}, topFixes: [] },
  };
  const workloads = areas.includes('pss') || areas.includes('network') ? countWorkloads(state) : 0;
  if (areas.includes('rbac')) {
    report.rbac = rbacReport(state);
    const c = report.rbac.counts;
    report.summary.scores.rbac = score(report.rbac.findings, c.subjects + c.roles + c.clusterRoles, rbacObject);
  }
  if (areas.includes('pss')) {
    report.pss = pssReport(state);
    report.summary.scores.pss = score(report.pss.findings, report.pss.counts.namespaces + workloads, objectKey);
  }
  if (areas.includes('network')) {
    report.network = networkReport(state);
    report.summary.scores.network = score(report.network.findings, report.network.counts.namespaces + workloads, objectKey);
  }
  report.summary.topFixes = sortFindings(allFindings(report).filter((f) => !f.builtin)).slice(0, TOP);
  return report;
}

/** Every finding of the report, in report order (rbac, pss, network). */
export function allFindings(report: PostureReport): Finding[] {
  return [...(report.rbac?.findings ?? []), ...(report.pss?.findings ?? []), ...(report.network?.findings ?? [])];
}

/** The worst severity among scored findings, or undefined when there are none. */
export function worstSeverity(findings: readonly Finding[]): Severity | undefined {
  let worst: Severity | undefined;
  for (const f of findings) if (!f.builtin && (!worst || severityRank(f.severity) < severityRank(worst))) worst = f.severity;
  return worst;
}

function score(findings: Finding[], checked: number, keyOf: (f: Finding) => string): AreaScore {
  const counts: Record<Severity, number> = { critical: 0, high: 0, medium: 0, low: 0 };
  const worst = new Map<string, number>();
  for (const f of findings) {
    if (f.builtin) continue;
    counts[f.severity]++;
    const k = keyOf(f);
    worst.set(k, Math.max(worst.get(k) ?? 0, WEIGHT[f.severity]));
  }
  const penalty = [...worst.values()].reduce((a, b) => a + b, 0);
  const denominator = Math.max(checked, worst.size, 1);
  return { score: Math.round(100 * (1 - penalty / denominator)), checked, findings: counts };
}

function rbacObject(f: Finding): string {
  return f.subject ? subjectString(f.subject) : refString(f.object);
}

function objectKey(f: Finding): string {
  return refString(f.object);
}

function countWorkloads(state: ClusterState): number {
  const seen = new Set<string>();
  for (const pod of state.all('Pod')) seen.add(refString(workloadOf(pod as Pod)));
  return seen.size;
}
