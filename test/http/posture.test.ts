import { join } from 'node:path';
import type { RunningFalconer } from '../../src/app';
import { eventually, post, startTestFalconer, TEST_TOKEN } from '../support/falconer';

const SAMPLE = join(__dirname, '../fixtures/posture/cluster.yaml');
const auth = { authorization: `Bearer ${TEST_TOKEN}` };
const INGEST_ONLY = 'ingest-only-token-0123456789';

/** An audit event of a namespace label patch, as the apiserver sends it at RequestResponse level. */
function labelPatch(id: string, namespace: string, labels: Record<string, string>) {
  const now = new Date().toISOString();
  return {
    kind: 'EventList',
    apiVersion: 'audit.k8s.io/v1',
    items: [
      {
        kind: 'Event',
        apiVersion: 'audit.k8s.io/v1',
        level: 'RequestResponse',
        auditID: id,
        stage: 'ResponseComplete',
        requestURI: `/api/v1/namespaces/${namespace}`,
        verb: 'patch',
        user: { username: 'mallory', groups: ['system:authenticated'] },
        sourceIPs: ['10.0.0.9'],
        objectRef: { resource: 'namespaces', name: namespace, apiVersion: 'v1' },
        responseStatus: { metadata: {}, code: 200 },
        requestObject: { metadata: { labels } },
        responseObject: {
          kind: 'Namespace',
          apiVersion: 'v1',
          metadata: {
            name: namespace,
            resourceVersion: '900001',
            labels: { 'kubernetes.io/metadata.name': namespace, ...labels },
          },
        },
        requestReceivedTimestamp: now,
        stageTimestamp: now,
      },
    ],
  };
}

describe('GET /v1/posture', () => {
  let f: RunningFalconer;
  beforeAll(async () => {
    f = await startTestFalconer({
      cluster: 'sample',
      enrichment: { snapshots: [SAMPLE], waitForStateMs: 0 },
      posture: { minRebuildSeconds: 1, driftIntervalSeconds: 1 },
      auth: { tokens: [{ name: 'falco', token: INGEST_ONLY, scopes: ['ingest'] }] },
    });
  });
  afterAll(() => f.stop());

  const get = async (path: string, headers: Record<string, string> = auth) => {
    const res = await fetch(`${f.url}${path}`, { headers });
    return { status: res.status, json: (await res.json()) as any };
  };

  it('needs a token with the read scope', async () => {
    expect((await get('/v1/posture', {})).status).toBe(401);
    expect((await get('/v1/posture/rbac', { authorization: `Bearer ${INGEST_ONLY}` })).status).toBe(403);
    expect(
      (await get('/v1/posture/network/peers?namespace=payments&pod=db-0', { authorization: `Bearer ${INGEST_ONLY}` })).status,
    ).toBe(403);
  });

  it('the whole report, as the CLI prints it with --json, plus stale', async () => {
    const { status, json } = await get('/v1/posture');
    expect(status).toBe(200);
    expect(json).toMatchObject({ schemaVersion: 1, cluster: 'sample', areas: ['rbac', 'pss', 'network'], stale: false });
    expect(json.rbac.clusterAdmins).toHaveLength(5);
    expect(json.summary.topFixes).toHaveLength(10);
  });

  it('one area, with its score', async () => {
    const { status, json } = await get('/v1/posture/network');
    expect(status).toBe(200);
    expect(Object.keys(json).sort()).toEqual(['cluster', 'generatedAt', 'network', 'schemaVersion', 'score', 'stale']);
    expect(json.network.namespaces).toHaveLength(13);
    expect(typeof json.score.score).toBe('number');
  });

  it('who may talk to a pod', async () => {
    const { status, json } = await get('/v1/posture/network/peers?namespace=payments&pod=db-0');
    expect(status).toBe(200);
    expect(json.ingress.peers).toEqual([{ peer: 'payments/api[Deployment]', conn: 'TCP 5432' }]);
  });

  it.each([
    ['/v1/posture/everything', 400],
    ['/v1/posture?cluster=other', 404],
    ['/v1/posture/network/peers?namespace=payments', 400],
    ['/v1/posture/network/peers?namespace=payments&pod=gone', 404],
    ['/v1/posture?cluster=a&cluster=b', 400],
  ])('%s answers %i', async (path, code) => {
    const { status, json } = await get(path);
    expect(status).toBe(code);
    expect(typeof json.error).toBe('string');
  });

  it('drift: an enforce level lowered through the audit stream becomes an alert; one the rule pack caught is not raised twice', async () => {
    // restricted → baseline: the rule pack's rule only looks for privileged or removal; drift catches it.
    expect(
      (
        await post(
          `${f.url}/v1/events/audit`,
          JSON.stringify(labelPatch('drift-1', 'payments', { 'pod-security.kubernetes.io/enforce': 'baseline' })),
        )
      ).status,
    ).toBe(202);
    // baseline → privileged: the rule pack fires on the audit event itself.
    expect(
      (
        await post(
          `${f.url}/v1/events/audit`,
          JSON.stringify(labelPatch('drift-2', 'shop', { 'pod-security.kubernetes.io/enforce': 'privileged' })),
        )
      ).status,
    ).toBe(202);
    let lowered: any[] = [];
    await eventually(async () => {
      const { json } = await get('/v1/alerts');
      lowered = json.alerts.filter((a: any) => a.ruleId === 'namespace-podsecurity-enforce-lowered');
      expect(lowered.map((a: any) => a.summary).sort()).toEqual([
        expect.stringContaining('Namespace PodSecurity enforce level lowered (user=mallory ns=shop'),
        'Posture drift: Pod Security enforce level of namespace payments lowered from restricted:latest to baseline:latest',
      ]);
    }, 8000);
    // Two more evaluations pass: still one alert per namespace.
    await new Promise((r) => setTimeout(r, 2200));
    const { json } = await get('/v1/alerts');
    expect(json.alerts.filter((a: any) => a.ruleId === 'namespace-podsecurity-enforce-lowered')).toHaveLength(2);
  }, 20_000);
});
