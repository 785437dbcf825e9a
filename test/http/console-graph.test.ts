import { join } from 'node:path';
import type { RunningFalconer } from '../../src/app';
import { startTestFalconer, TEST_TOKEN } from '../support/falconer';

const SAMPLE = join(__dirname, '../fixtures/posture/cluster.yaml');
const auth = { authorization: `Bearer ${TEST_TOKEN}` };

describe('GET /v1/posture/network/graph', () => {
  let f: RunningFalconer;
  beforeAll(async () => {
    f = await startTestFalconer({ cluster: 'sample', enrichment: { snapshots: [SAMPLE], waitForStateMs: 0 } });
  });
  afterAll(() => f.stop());

  const graph = async (query: string) => {
    const res = await fetch(`${f.url}/v1/posture/network/graph?${query}`, { headers: auth });
    return { status: res.status, json: (await res.json()) as any };
  };

  it("draws the namespace's pods, the namespaces they talk with, and what the policies allow", async () => {
    const { status, json } = await graph('namespace=payments');
    expect(status).toBe(200);
    const api = ['pod:payments/api-59d7c8f6b-ax0q', 'pod:payments/api-59d7c8f6b-bx1q'];
    expect(json.nodes.map((n: { id: string }) => n.id).sort()).toEqual(
      [...api, 'pod:payments/db-0', 'namespace:kube-system', 'namespace:shop'].sort(),
    );
    const db = json.nodes.find((n: { id: string }) => n.id === 'pod:payments/db-0');
    expect(db).toEqual({ id: 'pod:payments/db-0', kind: 'pod', label: 'db-0', isolatedIngress: true, isolatedEgress: true });
    const edges = json.edges.map((e: { from: string; to: string; ports: string[] }) => `${e.from}->${e.to} ${e.ports.join('|')}`);
    expect(edges.sort()).toEqual(
      [
        ...api.map((a) => `${a}->pod:payments/db-0 TCP 5432`),
        ...api.map((a) => `${a}->namespace:kube-system TCP 53|UDP 53`),
        ...api.map((a) => `namespace:shop->${a} TCP 8080`),
      ].sort(),
    );
    expect(json.truncated).toBe(false);
  });

  it('shows a pod no policy isolates with both flags false, open to and from any address', async () => {
    const { json } = await graph('namespace=legacy&cluster=sample');
    const pods = json.nodes.filter((n: { kind: string }) => n.kind === 'pod');
    expect(pods.length).toBeGreaterThan(0);
    for (const pod of pods) {
      expect(pod).toMatchObject({ isolatedIngress: false, isolatedEgress: false });
      expect(json.edges).toEqual(
        expect.arrayContaining([
          { from: 'external:0.0.0.0-255.255.255.255', to: pod.id, ports: ['all'] },
          { from: pod.id, to: 'external:0.0.0.0-255.255.255.255', ports: ['all'] },
        ]),
      );
    }
    expect(json.nodes).toContainEqual(expect.objectContaining({ id: 'external:0.0.0.0-255.255.255.255', label: 'any address' }));
  });

  it('answers a missing namespace with 400 and an unknown cluster with 404', async () => {
    expect((await graph('')).status).toBe(400);
    expect((await graph('namespace=payments&cluster=nowhere')).status).toBe(404);
    expect((await graph('namespace=nothing-here')).json).toEqual({
      namespace: 'nothing-here',
      nodes: [],
      edges: [],
      truncated: false,
    });
  });
});
