import { FindingStore, MAX_NEWS_PER_CHANGE } from '../../src/findings/store';
import { fixture, one, revised } from './fixtures';

const vulnReport = () => one('vulnerabilityreport');
const addCve = (o: any, id: string, severity = 'CRITICAL') =>
  o.report.vulnerabilities.push({
    vulnerabilityID: id,
    resource: 'openssl',
    installedVersion: '3.0.11',
    fixedVersion: '3.0.13',
    severity,
    score: 9.1,
    title: 'new one',
  });

describe('FindingStore', () => {
  it('treats what fails at start-up (state mode) and on first sight as state, not news', () => {
    const store = new FindingStore();
    expect(store.upsert(vulnReport(), 'state')).toEqual({ news: [], newsDropped: 0, resolved: [] });
    const live = new FindingStore();
    expect(live.upsert(vulnReport(), 'live')?.news).toEqual([]);
    expect(store.size().reports).toBe(1);
  });

  it('reports a new CVE once, and its going away as resolved', () => {
    const store = new FindingStore();
    store.upsert(vulnReport(), 'state');
    const withNew = revised(vulnReport(), (o) => addCve(o, 'CVE-2025-0001'));
    const change = store.upsert(withNew, 'live');
    expect(change?.news.map((f) => f.check)).toEqual(['CVE-2025-0001']);
    expect(change?.news[0]).toMatchObject({ source: 'trivy', severity: 'critical', container: 'checkout' });
    expect(store.upsert(withNew, 'live')?.news).toEqual([]);
    const fixed = store.upsert(vulnReport(), 'live');
    expect(fixed?.news).toEqual([]);
    expect(fixed?.resolved).toEqual([change?.news[0]?.id]);
  });

  it('does not alert on a snapshot reload of a changed report', () => {
    const store = new FindingStore();
    store.upsert(vulnReport(), 'state');
    expect(
      store.upsert(
        revised(vulnReport(), (o) => addCve(o, 'CVE-2025-0002')),
        'state',
      )?.news,
    ).toEqual([]);
  });

  it('reports a policy result that newly fails, and a new Gatekeeper violation', () => {
    const store = new FindingStore();
    const report = revised(one('policyreport'), (o) => (o.results[1].result = 'pass'));
    store.upsert(report, 'state');
    const change = store.upsert(one('policyreport'), 'live');
    expect(change?.news.map((f) => f.check)).toEqual(['require-run-as-nonroot/autogen-run-as-non-root']);
    store.upsert(
      revised(one('constraint'), (o) => o.status.violations.pop()),
      'state',
    );
    expect(store.upsert(one('constraint'), 'live')?.news[0]?.resource.name).toBe('kube-proxy-abcde');
  });

  it('makes an Event news when it arrives live, never resolved', () => {
    const store = new FindingStore();
    const [blocked] = fixture('events');
    expect(store.upsert(blocked, 'live')?.news).toHaveLength(1);
    expect(store.delete('Event', 'default', (blocked as any).metadata.name, 'live').resolved).toEqual([]);
    const other = new FindingStore();
    expect(other.upsert(blocked, 'state')?.news).toEqual([]);
  });

  it('forgets a deleted report without resolving its findings (a rescan deletes and recreates)', () => {
    const store = new FindingStore();
    store.upsert(one('configauditreport'), 'state');
    expect(store.delete('ConfigAuditReport', 'shop', 'replicaset-checkout-7d4b9c8f6d', 'live').resolved).toEqual([]);
    store.upsert(one('constraint'), 'state');
    store.delete('K8sPSPPrivilegedContainer', undefined, 'psp-privileged-container', 'live');
    expect(store.size().reports).toBe(0);
    // Recreated, it is first sight again: state.
    expect(store.upsert(one('configauditreport'), 'live')?.news).toEqual([]);
  });

  it('caps the news of one change', () => {
    const store = new FindingStore();
    store.upsert(vulnReport(), 'state');
    const flood = revised(vulnReport(), (o) => {
      for (let i = 0; i < 120; i++) addCve(o, `CVE-2025-${1000 + i}`, 'LOW');
    });
    const change = store.upsert(flood, 'live');
    expect(change?.news).toHaveLength(MAX_NEWS_PER_CHANGE);
    expect(change?.newsDropped).toBe(120 - MAX_NEWS_PER_CHANGE);
  });

  it('finds a pod’s vulnerabilities and policy results through its ReplicaSet and Deployment', () => {
    const store = new FindingStore();
    for (const name of [
      'vulnerabilityreport',
      'configauditreport',
      'policyreport',
      'openreports',
      'constraint',
      'rbacassessmentreport',
    ]) {
      store.upsert(one(name), 'state');
    }
    const found = store.forPod('shop', 'checkout-7d4b9c8f6d-x2x9q', [{ kind: 'ReplicaSet', name: 'checkout-7d4b9c8f6d' }]);
    expect(found.vulnerabilities).toHaveLength(1);
    expect(found.vulnerabilities[0]).toMatchObject({ container: 'checkout', image: 'library/nginx:1.25.3', fixable: 2 });
    expect(found.vulnerabilities[0]?.counts.critical).toBe(1);
    expect(found.policy.map((f) => f.check).sort()).toEqual([
      'K8sPSPPrivilegedContainer/psp-privileged-container',
      'KSV012',
      'KSV017',
      'disallow-privileged-containers/autogen-privileged-containers',
      'require-run-as-nonroot/autogen-run-as-non-root',
      'restrict-image-registries/validate-registries',
    ]);
    // The constraint's other violation (kube-system) is not this pod's.
    expect(found.policyFailing).toBe(6);
    const other = store.forPod('shop', 'unrelated', []);
    expect(other).toEqual({ vulnerabilities: [], policy: [], policyFailing: 0 });
  });

  it('lists failing state per workload for the API', () => {
    const store = new FindingStore();
    store.upsert(one('vulnerabilityreport'), 'state');
    store.upsert(one('rbacassessmentreport'), 'state');
    const list = store.workloads();
    expect(list.map((w) => `${w.resource.kind}/${w.resource.name}`)).toEqual(['ReplicaSet/checkout-7d4b9c8f6d']);
  });
});
