import { applyAuditEvent } from '../../src/enrich/cluster-state/audit';
import { loadSnapshot } from '../../src/enrich/cluster-state/snapshot';
import { ClusterState } from '../../src/enrich/cluster-state/state';
import { watchCluster, type ClusterWatch } from '../../src/enrich/cluster-state/live';
import { FINDING_RESOURCES } from '../../src/findings/normalise';
import type { FindingChange } from '../../src/findings/store';
import { KubeApiServer, type KubeObject } from '../support/kube-api-server';
import { fixture, one, revised } from './fixtures';

/** Every sample object, one per kind (the Events file holds six, of which five are findings). */
const KINDS = [
  'policyreport',
  'clusterpolicyreport',
  'openreports',
  'clusterreport',
  'constraint',
  'vulnerabilityreport',
  'configauditreport',
  'rbacassessmentreport',
];
const samples = () => [...KINDS.map(one), ...fixture('events')];
const FINDING_EVENTS = 5;

function listening(state: ClusterState): FindingChange[] {
  const changes: FindingChange[] = [];
  state.onFindingChange((change) => changes.push(change));
  return changes;
}

const addCve = (o: any) =>
  o.report.vulnerabilities.push({
    vulnerabilityID: 'CVE-2025-9999',
    resource: 'openssl',
    installedVersion: '3.0.11',
    fixedVersion: '3.0.15',
    severity: 'CRITICAL',
    score: 9.8,
    title: 'new',
  });

describe('door 1: snapshots', () => {
  it('loads every kind as state, alerting nothing', () => {
    const state = new ClusterState('prod');
    const changes = listening(state);
    const { loaded, skipped } = loadSnapshot(JSON.stringify({ kind: 'List', apiVersion: 'v1', items: samples() }), state);
    expect([loaded, skipped]).toEqual([KINDS.length + FINDING_EVENTS, 1]);
    expect(state.findings.size().reports).toBe(KINDS.length + FINDING_EVENTS);
    expect(changes).toEqual([]);
    expect(state.isEmpty()).toBe(true);
  });
});

describe('door 2: the audit stream', () => {
  const resourceOf = (obj: Record<string, any>) => {
    const [group, version] = String(obj.apiVersion).includes('/') ? String(obj.apiVersion).split('/') : ['', obj.apiVersion];
    const known = FINDING_RESOURCES.find((r) => r.kind === obj.kind);
    const resource = obj.kind === 'Event' ? 'events' : (known?.resource ?? String(obj.kind).toLowerCase());
    return { apiGroup: group, apiVersion: version, resource, namespace: obj.metadata.namespace, name: obj.metadata.name };
  };
  const audit = (verb: string, obj: Record<string, any>, body: Record<string, unknown>) => ({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    stage: 'ResponseComplete',
    verb,
    objectRef: resourceOf(obj),
    responseStatus: { code: verb === 'create' ? 201 : 200 },
    ...body,
  });

  it('applies a create of every kind from its requestObject; first sight is state, an Event is news', () => {
    const state = new ClusterState('prod');
    const changes = listening(state);
    for (const obj of samples()) {
      const result = applyAuditEvent(state, audit('create', obj, { requestObject: obj }));
      const isFinding = !(obj.kind === 'Event' && obj.reason === 'PolicyApplied');
      expect([obj.kind, result.applied]).toEqual([obj.kind, isFinding ? 'finding-upsert' : false]);
    }
    expect(state.findings.size().reports).toBe(KINDS.length + FINDING_EVENTS);
    expect(changes.flatMap((c) => c.news.map((f) => f.source)).sort()).toEqual([
      'gatekeeper',
      'gatekeeper',
      'gatekeeper',
      'kyverno',
      'kyverno',
    ]);
  });

  it('alerts a new CVE from an update’s responseObject, skips a bare patch, resolves a fixed one, forgets on delete', () => {
    const state = new ClusterState('prod');
    const changes = listening(state);
    const report = one('vulnerabilityreport');
    applyAuditEvent(state, audit('create', report, { requestObject: report }));
    const updated = revised(report, addCve);
    expect(applyAuditEvent(state, audit('patch', updated, { requestObject: { report: {} } })).applied).toBe(false);
    expect(
      applyAuditEvent(state, audit('patch', updated, { requestObject: { report: {} }, responseObject: updated })).applied,
    ).toBe('finding-upsert');
    expect(changes.flatMap((c) => c.news.map((f) => f.check))).toEqual(['CVE-2025-9999']);
    const failed = { ...audit('update', report, { requestObject: report }), responseStatus: { code: 409 } };
    expect(applyAuditEvent(state, failed).applied).toBe(false);
    const fixed = revised(updated, (o) => o.report.vulnerabilities.splice(0, 1));
    applyAuditEvent(state, audit('update', fixed, { requestObject: fixed }));
    expect(changes.at(-1)?.resolved).toEqual([expect.stringContaining('CVE-2023-44487')]);
    expect(applyAuditEvent(state, audit('delete', report, {})).applied).toBe('finding-delete');
    expect(state.findings.size().reports).toBe(0);
  });

  it('reads a Gatekeeper constraint status update (the audit writes status)', () => {
    const state = new ClusterState('prod');
    const changes = listening(state);
    const constraint = one('constraint');
    const before = revised(constraint, (o) => o.status.violations.pop());
    applyAuditEvent(state, audit('create', before, { requestObject: before }));
    const ev = audit('update', constraint, { responseObject: constraint });
    (ev.objectRef as Record<string, unknown>).subresource = 'status';
    expect(applyAuditEvent(state, ev).applied).toBe('finding-upsert');
    expect(changes[0]?.news[0]?.resource.name).toBe('kube-proxy-abcde');
  });
});

describe('door 3: the live API', () => {
  let server: KubeApiServer;
  let watch: ClusterWatch | undefined;

  beforeEach(async () => {
    server = await new KubeApiServer().start();
  });
  afterEach(async () => {
    await watch?.stop();
    watch = undefined;
    await server.close();
  });

  async function eventually(assertion: () => void, timeoutMs = 3_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return assertion();
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 15));
      }
    }
  }

  it('lists and watches every kind whose CRD is served; existing findings are state, changes are news', async () => {
    server.serveCustomResources([
      ...FINDING_RESOURCES.map((r) => ({ group: r.group, version: r.version, resource: r.resource, kind: r.kind })),
      {
        group: 'constraints.gatekeeper.sh',
        version: 'v1beta1',
        resource: 'k8spspprivilegedcontainer',
        kind: 'K8sPSPPrivilegedContainer',
      },
    ]);
    server.serveEvents();
    for (const obj of samples()) server.apply(obj as KubeObject);
    const state = new ClusterState('prod');
    const changes = listening(state);
    watch = await watchCluster(state, {
      credentials: { from: 'kubeconfig', kubeConfig: server.kubeConfig() },
      kinds: [],
      findings: true,
      retry: { initialMs: 20, maxMs: 100 },
    });
    await watch.synced();
    expect(state.findings.size().reports).toBe(KINDS.length + FINDING_EVENTS);
    expect(changes).toEqual([]);
    // Only the reasons Falconer reads are listed, by field selector.
    expect(server.requestsFor('Event', 'list')).toHaveLength(5);

    server.apply(revised(one('vulnerabilityreport'), addCve) as KubeObject);
    const [blocked] = fixture('events');
    server.apply(revised(blocked, (o) => (o.metadata.name = 'require-labels.later')) as KubeObject);
    await eventually(() =>
      expect(changes.flatMap((c) => c.news.map((f) => f.check)).sort()).toEqual([
        'CVE-2025-9999',
        'require-labels/check-for-labels',
      ]),
    );

    server.apply(revised(one('configauditreport'), (o) => (o.report.checks[0].success = true)) as KubeObject);
    await eventually(() => expect(changes.at(-1)?.resolved).toEqual([expect.stringContaining('KSV017')]));
    server.remove('RbacAssessmentReport', 'shop', 'role-5b8c9d7f4');
    // One Event more, one report less.
    await eventually(() => expect(state.findings.size().reports).toBe(KINDS.length + FINDING_EVENTS + 1 - 1));
    expect(
      state.findings.forPod('shop', 'x', [{ kind: 'ReplicaSet', name: 'checkout-7d4b9c8f6d' }]).vulnerabilities[0]?.counts
        .critical,
    ).toBe(2);
  });

  it('watches no report kind whose CRD is absent, and syncs without them', async () => {
    const state = new ClusterState('prod');
    watch = await watchCluster(state, {
      credentials: { from: 'kubeconfig', kubeConfig: server.kubeConfig() },
      kinds: [],
      findings: true,
      retry: { initialMs: 20, maxMs: 100 },
    });
    await watch.synced();
    expect(server.requestsFor('VulnerabilityReport', 'list')).toEqual([]);
    // Events are not served here (as when Falconer may not read them): synced, empty, not retried.
    expect(
      watch
        .status()
        .filter((s) => s.kind.startsWith('Event'))
        .every((s) => s.synced && s.errors === 1),
    ).toBe(true);
  });
});
