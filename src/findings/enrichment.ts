import type { CveSummary, Enrichment, PolicyResultSummary } from '../core/alert';
import type { FindingStore, PodFindings } from './store';
import type { Finding, ResourceRef } from './types';

/** CVEs listed per image, and policy results per alert: enough to act on, small enough for every alert. */
export const CVES_PER_IMAGE = 5;
export const POLICY_RESULTS = 10;

/** The `vulnerabilities` and `policy` parts of an alert's enrichment; a part is absent when nothing is known. */
export function podFindingFacts(found: PodFindings): Pick<Enrichment, 'vulnerabilities' | 'policy'> {
  const out: Pick<Enrichment, 'vulnerabilities' | 'policy'> = {};
  if (found.vulnerabilities.length > 0) {
    let critical = 0;
    let high = 0;
    let medium = 0;
    let fixable = 0;
    let criticalFixable = 0;
    const images = found.vulnerabilities.map((v) => {
      critical += v.counts.critical;
      high += v.counts.high;
      medium += v.counts.medium;
      fixable += v.fixable;
      criticalFixable += v.top.filter((f) => f.severity === 'critical' && f.vulnerability?.fixedVersion).length;
      return {
        ...(v.container ? { container: v.container } : {}),
        image: v.image,
        critical: v.counts.critical,
        high: v.counts.high,
        medium: v.counts.medium,
        fixable: v.fixable,
        top: v.top.slice(0, CVES_PER_IMAGE).map(cve),
      };
    });
    out.vulnerabilities = { images, critical, high, medium, fixable, criticalFixable };
  }
  if (found.policyFailing > 0) {
    out.policy = { failing: found.policyFailing, results: found.policy.slice(0, POLICY_RESULTS).map(policyResult) };
  }
  return out;
}

function cve(f: Finding): CveSummary {
  const v = f.vulnerability;
  return {
    id: f.check,
    severity: f.severity,
    ...(v?.score !== undefined ? { score: v.score } : {}),
    package: v?.package ?? '',
    installedVersion: v?.installedVersion ?? '',
    fixedVersion: v?.fixedVersion ?? '',
  };
}

function policyResult(f: Finding): PolicyResultSummary {
  return {
    source: f.source,
    category: f.category,
    check: f.check,
    severity: f.severity,
    resource: refText(f.resource),
    message: f.message,
  };
}

export function refText(r: ResourceRef): string {
  return `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
}

/** GET /v1/findings: every cluster's failing state per workload, and the latest resolutions. */
export function findingsView(
  states: { clusters(): string[]; peek(cluster: string): { findings: FindingStore } | undefined },
  resolved: readonly { cluster: string; id: string; at: number }[],
  limit: number,
): unknown {
  return {
    clusters: states.clusters().map((cluster) => {
      const store = states.peek(cluster)?.findings;
      const workloads = store?.workloads(limit) ?? [];
      return {
        cluster,
        reports: store?.size().reports ?? 0,
        workloads: workloads.map((w) => ({
          resource: w.resource,
          ...podFindingFacts({ vulnerabilities: w.vulnerabilities, policy: w.policy, policyFailing: w.policyFailing }),
        })),
      };
    }),
    resolved: resolved.map((r) => ({ cluster: r.cluster, id: r.id, at: new Date(r.at).toISOString() })),
  };
}
