import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningFalconer } from '../../src/app';
import { KubeApiServer } from '../support/kube-api-server';
import { falcoEvent } from '../support/events';
import { eventually, post, startTestFalconer, TEST_TOKEN } from '../support/falconer';

/**
 * The service with `enrichment.live`: the real Kubernetes client lists and watches a local API
 * server, and a runtime alert on a pod carries what that cluster says about it.
 */
describe('end to end: live cluster state enriches runtime alerts', () => {
  let kube: KubeApiServer;
  let f: RunningFalconer;

  beforeAll(async () => {
    kube = await new KubeApiServer().start();
    kube.apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'shop', labels: { 'pod-security.kubernetes.io/enforce': 'baseline' } },
    });
    kube.apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'web', namespace: 'shop' } });
    kube.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-1', namespace: 'shop', uid: 'u-web-1', labels: { app: 'web' } },
      spec: {
        serviceAccountName: 'web',
        hostPID: true,
        containers: [{ name: 'nginx', image: 'nginx:1.27', securityContext: { privileged: true } }],
      },
    });
    kube.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'cluster-admin' },
      rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
    });
    kube.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'web-is-admin' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'web', namespace: 'shop' }],
    });
    const dir = mkdtempSync(join(tmpdir(), 'falconer-kube-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kube.kubeConfig().exportConfig());
    f = await startTestFalconer({ enrichment: { live: { source: 'kubeconfig', kubeconfig }, waitForStateMs: 0 } });
  }, 60_000);

  afterAll(async () => {
    await f?.stop();
    await kube?.close();
  });

  it('reports readiness once the initial list is done, then enriches from the watched state', async () => {
    await eventually(async () => {
      const ready = await fetch(`${f.url}/readyz`);
      expect(await ready.json()).toMatchObject({ ok: true, checks: { 'cluster-state': { ok: true } } });
    }, 20_000);

    const shell = falcoEvent({
      uuid: 'live-1',
      output_fields: { 'k8s.ns.name': 'shop', 'k8s.pod.name': 'web-1', 'container.name': 'nginx', 'proc.cmdline': 'bash' },
    });
    expect((await post(`${f.url}/v1/events/falco`, JSON.stringify(shell))).status).toBe(202);

    await eventually(async () => {
      const res = await fetch(`${f.url}/v1/alerts`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
      const [alert] = ((await res.json()) as { alerts: any[] }).alerts;
      expect(alert.enrichment.pod).toMatchObject({
        known: true,
        privileged: true,
        hostPID: true,
        serviceAccount: 'web',
        pss: { level: 'privileged' },
      });
      expect(alert.enrichment.pod.namespacePolicy).toMatchObject({ known: true, meetsEnforce: false });
      expect(alert.enrichment.subject).toMatchObject({
        known: true,
        user: 'system:serviceaccount:shop:web',
        kind: 'serviceaccount',
      });
      expect(alert.enrichment.subject.findings.map((x: { id: string }) => x.id)).toContain('cluster-admin');
      expect(alert.enrichment.network).toMatchObject({ known: true, ingress: { isolated: false }, egress: { isolated: false } });
    });
  });

  it('follows changes: a pod that appears later is known to the next alert', async () => {
    kube.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'api-1', namespace: 'shop', uid: 'u-api-1' },
      spec: {
        serviceAccountName: 'web',
        securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'api',
            image: 'api:1',
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          },
        ],
      },
    });
    await eventually(async () => {
      const shell = falcoEvent({
        uuid: `live-${Math.random()}`,
        output_fields: {
          'k8s.ns.name': 'shop',
          'k8s.pod.name': 'api-1',
          'container.name': 'api',
          'proc.cmdline': `sh ${Math.random()}`,
        },
      });
      await post(`${f.url}/v1/events/falco`, JSON.stringify(shell));
      const res = await fetch(`${f.url}/v1/alerts?limit=1`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
      const [alert] = ((await res.json()) as { alerts: any[] }).alerts;
      expect(alert.labels.pod).toBe('api-1');
      expect(alert.enrichment.pod).toMatchObject({ known: true, privileged: false, pss: { level: 'restricted' } });
    }, 15_000);
  });
});
