import { normaliseFindingObject } from '../../src/findings/normalise';
import { MAX_MESSAGE, MAX_TOP } from '../../src/findings/types';
import { fixture, one, revised } from './fixtures';

const norm = (raw: unknown) => {
  const n = normaliseFindingObject(raw);
  if (!n) throw new Error('not normalised');
  return n;
};

describe('normaliseFindingObject', () => {
  it('reads a scoped PolicyReport: failing results only, about the scope', () => {
    const { summary, findings } = norm(one('policyreport'));
    expect(summary.key).toBe('PolicyReport/shop/6c3c1f0e-1b9a-4c1e-9f0e-3a4b5c6d7e8f');
    expect(summary.subject).toEqual({ kind: 'Deployment', name: 'checkout', namespace: 'shop' });
    expect(findings.map((f) => [f.source, f.check, f.severity])).toEqual([
      ['kyverno', 'disallow-privileged-containers/autogen-privileged-containers', 'high'],
      ['kyverno', 'require-run-as-nonroot/autogen-run-as-non-root', 'medium'],
    ]);
    expect(summary.failing).toBe(2);
    expect(summary.counts).toMatchObject({ high: 1, medium: 1, critical: 0 });
  });

  it('reads an unscoped ClusterPolicyReport by its results’ resources', () => {
    const { summary, findings } = norm(one('clusterpolicyreport'));
    expect(summary.subject).toBeUndefined();
    expect(findings[0]?.resource).toEqual({ kind: 'Namespace', name: 'shop' });
    expect(findings[0]?.severity).toBe('low');
  });

  it('reads openreports.io Report and ClusterReport with the same model', () => {
    const report = norm(one('openreports'));
    expect(report.summary.kind).toBe('Report');
    expect(report.findings[0]).toMatchObject({ check: 'restrict-image-registries/validate-registries', severity: 'high' });
    expect(report.findings[0]?.resource).toEqual({ kind: 'Pod', name: 'checkout-7d4b9c8f6d-x2x9q', namespace: 'shop' });
    const cluster = norm(one('clusterreport'));
    expect(cluster.summary.key).toBe('ClusterReport//1a2b3c4d-0000-4000-8000-000000000001');
    expect(cluster.findings[0]?.resource).toEqual({ kind: 'Namespace', name: 'shop' });
  });

  it('defaults a PolicyReport result without a severity to medium and ignores other API groups', () => {
    const raw = revised(one('policyreport'), (o) => delete o.results[0].severity);
    expect(norm(raw).findings[0]?.severity).toBe('medium');
    expect(normaliseFindingObject({ ...one('policyreport'), apiVersion: 'example.com/v1' })).toBeUndefined();
    expect(normaliseFindingObject({ kind: 'Pod', apiVersion: 'v1', metadata: { name: 'x' } })).toBeUndefined();
    expect(normaliseFindingObject('nonsense')).toBeUndefined();
  });

  it('reads a Gatekeeper constraint’s status.violations, severity from the enforcement action', () => {
    const { summary, findings } = norm(one('constraint'));
    expect(summary.key).toBe('K8sPSPPrivilegedContainer//psp-privileged-container');
    expect(summary.kind).toBe('Constraint');
    expect(findings).toHaveLength(2);
    expect(findings[0]).toMatchObject({
      source: 'gatekeeper',
      check: 'K8sPSPPrivilegedContainer/psp-privileged-container',
      severity: 'high',
      resource: { kind: 'Pod', namespace: 'shop', name: 'checkout-7d4b9c8f6d-x2x9q' },
    });
    const dryrun = revised(one('constraint'), (o) => (o.status.violations[0].enforcementAction = 'dryrun'));
    expect(norm(dryrun).findings[0]?.severity).toBe('low');
    const capped = revised(one('constraint'), (o) => (o.status.totalViolations = 57));
    expect(norm(capped).summary.failing).toBe(57);
  });

  it('reads Kyverno and Gatekeeper Events, and keeps no finding for PolicyApplied', () => {
    const events = fixture('events').map((e) => normaliseFindingObject(e));
    const [blocked, background, applied, denied, audited, dryrun] = events;
    expect(blocked?.findings[0]).toMatchObject({
      source: 'kyverno',
      check: 'require-labels/check-for-labels',
      severity: 'high',
      resource: { kind: 'Pod', namespace: 'shop', name: 'debug-shell' },
    });
    expect(blocked?.findings[0]?.message).toMatch(/^validation error: label/);
    expect(blocked?.summary.occurrence).toBe(true);
    expect(background?.findings[0]).toMatchObject({
      check: 'disallow-capabilities/adding-capabilities',
      severity: 'medium',
      resource: { kind: 'Pod', namespace: 'shop', name: 'checkout-7d4b9c8f6d-x2x9q' },
    });
    expect(applied).toBeUndefined();
    expect(denied?.findings[0]).toMatchObject({
      source: 'gatekeeper',
      check: 'K8sRequiredLabels/must-have-owner',
      severity: 'high',
      resource: { kind: 'Pod', namespace: 'shop', name: 'debug-shell' },
    });
    expect(audited?.findings[0]).toMatchObject({ severity: 'low', check: 'K8sPSPPrivilegedContainer/psp-privileged-container' });
    expect(dryrun?.findings[0]?.severity).toBe('low');
  });

  it('links a VulnerabilityReport to its workload and container; counts, fixable, top by score', () => {
    const { summary, findings } = norm(one('vulnerabilityreport'));
    expect(summary.subject).toEqual({ kind: 'ReplicaSet', name: 'checkout-7d4b9c8f6d', namespace: 'shop' });
    expect(summary.container).toBe('checkout');
    expect(summary.image).toBe('library/nginx:1.25.3');
    expect(summary.counts).toEqual({ critical: 1, high: 2, medium: 1, low: 1, unknown: 0 });
    expect(summary.fixable).toBe(2);
    expect(findings).toHaveLength(5);
    expect(summary.top.map((f) => f.check)).toEqual([
      'CVE-2024-2961',
      'CVE-2023-44487',
      'CVE-2024-45490',
      'CVE-2023-52425',
      'CVE-2011-3374',
    ]);
    expect(summary.top[0]?.vulnerability).toMatchObject({ package: 'libc6', fixedVersion: '2.36-9+deb12u7', score: 9.8 });
  });

  it('keeps a big VulnerabilityReport bounded', () => {
    const big = revised(one('vulnerabilityreport'), (o) => {
      o.report.vulnerabilities = Array.from({ length: 5000 }, (_, i) => ({
        vulnerabilityID: `CVE-2025-${i}`,
        resource: 'pkg',
        installedVersion: '1',
        fixedVersion: i % 2 ? '2' : '',
        severity: i === 4321 ? 'CRITICAL' : 'LOW',
        title: 'x'.repeat(5000),
      }));
    });
    const { summary } = norm(big);
    expect(summary.top).toHaveLength(MAX_TOP);
    expect(summary.top[0]?.check).toBe('CVE-2025-4321');
    expect(summary.top[0]?.message.length).toBe(MAX_MESSAGE);
    expect(summary.ids).toHaveLength(2000);
    expect(summary.failing).toBe(5000);
    expect(summary.fixable).toBe(2500);
  });

  it('reads ConfigAuditReport and RbacAssessmentReport failures only', () => {
    const audit = norm(one('configauditreport'));
    expect(audit.findings.map((f) => [f.category, f.check, f.severity])).toEqual([
      ['config-audit', 'KSV017', 'high'],
      ['config-audit', 'KSV012', 'medium'],
    ]);
    expect(audit.findings[0]?.resource).toEqual({ kind: 'ReplicaSet', name: 'checkout-7d4b9c8f6d', namespace: 'shop' });
    const rbac = norm(one('rbacassessmentreport'));
    expect(rbac.findings[0]).toMatchObject({ category: 'rbac-assessment', check: 'KSV041', severity: 'critical' });
  });
});
