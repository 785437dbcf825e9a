import { createHash } from 'node:crypto';
import type { Detection } from '../core/alert';
import type { SecurityEvent } from '../core/event';
import type { Priority } from '../core/priority';
import type { Finding, FindingCategory, FindingSeverity } from './types';

/**
 * Finding severity → alert priority (docs/integrations.md#severity). One step below Falco's top two:
 * a finding is a standing weakness, not an attack in progress, so none is `alert` or `emergency`.
 */
export const PRIORITY_OF_SEVERITY: Readonly<Record<FindingSeverity, Priority>> = {
  critical: 'critical',
  high: 'error',
  medium: 'warning',
  low: 'notice',
  info: 'informational',
};

/** The rule name a new finding alerts under, by tool and category. */
export function findingRuleName(finding: Pick<Finding, 'source' | 'category'>): string {
  const names: Record<FindingCategory, string> = {
    policy:
      finding.source === 'gatekeeper'
        ? 'Gatekeeper constraint violation'
        : finding.source === 'kyverno'
          ? 'Kyverno policy violation'
          : 'Policy report failure',
    vulnerability: 'New vulnerability in workload image',
    'config-audit': 'Config audit check failed',
    'rbac-assessment': 'RBAC assessment check failed',
  };
  return names[finding.category];
}

/**
 * The detection a newly failing finding becomes. It goes through the AlertStage like any other, so it is
 * deduplicated (fingerprint: rule, cluster, finding id), routed and silenced the same way.
 */
export function findingDetection(finding: Finding, cluster: string, nowMs: number): Detection {
  const r = finding.resource;
  const time = new Date(nowMs).toISOString();
  const event: SecurityEvent = {
    id: `finding:${createHash('sha256').update(`${cluster}\u0000${finding.id}`).digest('hex').slice(0, 24)}:${nowMs}`,
    source: finding.source,
    time,
    timeNs: `${BigInt(nowMs) * 1_000_000n}`,
    receivedAt: nowMs,
    k8s: {
      cluster,
      ...(r.namespace ? { namespace: r.namespace } : {}),
      ...(r.kind === 'Pod' ? { pod: r.name } : {}),
      ...(finding.container ? { container: finding.container } : {}),
      ...(finding.vulnerability?.image ? { image: finding.vulnerability.image } : {}),
    },
    finding: {
      id: finding.id,
      category: finding.category,
      check: finding.check,
      severity: finding.severity,
      resource: { ...r },
      message: finding.message,
      ...(finding.vulnerability ? { vulnerability: { ...finding.vulnerability } } : {}),
    },
    raw: {},
  };
  const where = `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}${finding.container ? ` (container ${finding.container})` : ''}`;
  const v = finding.vulnerability;
  const detail = v
    ? `${v.package} ${v.installedVersion}${v.fixedVersion ? `, fixed in ${v.fixedVersion}` : ', no fix yet'}`
    : finding.message;
  const ruleId = `${finding.source}:${finding.category}`;
  return {
    rule: findingRuleName(finding),
    ruleId,
    priority: PRIORITY_OF_SEVERITY[finding.severity],
    source: finding.source,
    tags: [finding.source, finding.category, `check:${finding.check}`],
    summary: `${finding.check} (${finding.severity}) on ${where}${detail ? `: ${detail}` : ''}`,
    event,
  };
}
