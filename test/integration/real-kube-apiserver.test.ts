import type { RunningFalconer } from '../../src/app';
import type { SecurityEvent } from '../../src/core/event';
import { falcoEvent } from '../support/events';
import { eventually, startTestFalconer, TEST_TOKEN } from '../support/falconer';
import { httpsRequest, RealKubeApiServer } from '../support/real-kube-apiserver';
import { freePort } from '../support/services';

/**
 * A real kube-apiserver (and etcd) pointed at Falconer through deploy/'s audit policy and webhook
 * kubeconfig (issue 16). Needs scripts/provision-kube-apiserver.sh; without it the suite fails saying so.
 * Falconer's own cluster name is `live` (its informers' state); the webhook names its cluster `real-1`
 * in the URL path, so audit alerts show `real-1` only if the path form works (defect 1).
 */
const AUDIT_CLUSTER = 'real-1';

interface ApiAlert {
  rule: string;
  count: number;
  summary: string;
  priority: string;
  event: SecurityEvent;
  enrichment?: any;
}

describe('a real kube-apiserver feeding Falconer', () => {
  let port: number;
  let f: RunningFalconer | undefined;
  let kube: RealKubeApiServer;
  /** Every audit event Falconer published, across restarts: `auditID/stage` → times. */
  const received = new Map<string, number>();
  /** Resent audit events Falconer recognised and dropped (falconer_events_duplicate_total), across restarts. */
  let droppedDuplicates = 0;
  const duplicatesOf = async (running: RunningFalconer) => {
    const metric = await running.metrics.registry.getSingleMetric('falconer_events_duplicate_total')?.get();
    return (metric?.values ?? []).filter((v) => v.labels.source === 'k8s_audit').reduce((s, v) => s + v.value, 0);
  };

  const startFalconer = async () => {
    // HTTPS as in deploy/: client-go sends the webhook's bearer token only over TLS.
    const running = await startTestFalconer({
      server: { port, tls: { certFile: kube.serving.certFile, keyFile: kube.serving.keyFile } },
      cluster: 'live',
      enrichment: { live: { source: 'kubeconfig', kubeconfig: kube.writeKubeconfig('falconer') }, waitForStateMs: 0 },
    });
    const publish = running.bus.publish.bind(running.bus);
    running.bus.publish = async (events) => {
      await publish(events);
      for (const e of events) {
        if (!e.audit) continue;
        const key = `${e.audit.auditID}/${e.audit.stage}`;
        received.set(key, (received.get(key) ?? 0) + 1);
      }
    };
    return running;
  };

  const falconer = (method: string, path: string, body?: string) =>
    httpsRequest(`${f!.url}${path}`, { method, ca: kube.serving.ca, body, headers: { authorization: `Bearer ${TEST_TOKEN}` } });
  const alerts = async (): Promise<ApiAlert[]> => {
    const res = await falconer('GET', '/v1/alerts?limit=1000');
    return (res.json as { alerts: ApiAlert[] }).alerts;
  };
  const auditAlerts = async () => (await alerts()).filter((a) => a.event.source === 'k8s_audit');
  const byRule = async (rule: string, name?: string) =>
    (await auditAlerts()).filter((a) => a.rule === rule && (name === undefined || a.event.audit?.objectRef?.name === name));

  /** Waits until Falconer has every event the apiserver emitted (the webhook flushes every second). */
  const settled = async (timeoutMs = 30_000) => {
    await eventually(async () => {
      const { events } = await kube.auditCounters();
      expect(received.size).toBeGreaterThanOrEqual(events);
    }, timeoutMs);
  };

  beforeAll(async () => {
    port = await freePort();
    kube = new RealKubeApiServer({
      auditWebhookUrl: `https://127.0.0.1:${port}/v1/events/audit/${AUDIT_CLUSTER}`,
      auditWebhookToken: TEST_TOKEN,
    });
    await kube.prepare();
    f = await startFalconer();
    await kube.start();
    const ok = async (method: string, path: string, body: unknown) => {
      const r = await kube.call(method, path, 'admin', body);
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    };
    // deploy/rbac.yaml's least-privilege reader, bound to the informers' identity.
    await ok('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
      metadata: { name: 'falconer-enrichment-reader' },
      rules: [
        { apiGroups: [''], resources: ['pods', 'namespaces', 'serviceaccounts'], verbs: ['get', 'list', 'watch'] },
        {
          apiGroups: ['rbac.authorization.k8s.io'],
          resources: ['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings'],
          verbs: ['get', 'list', 'watch'],
        },
        { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['get', 'list', 'watch'] },
      ],
    });
    await ok('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      metadata: { name: 'falconer-enrichment-reader' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'falconer-enrichment-reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'falconer', namespace: 'falconer' }],
    });
    for (const [ns, enforce] of [
      ['shop', 'privileged'],
      ['locked', 'baseline'],
    ]) {
      await ok('POST', '/api/v1/namespaces', {
        metadata: { name: ns, labels: { 'pod-security.kubernetes.io/enforce': enforce } },
      });
      // No controller-manager runs: the ServiceAccount admission plugin needs the default account.
      await ok('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: 'default' } });
    }
  }, 180_000);

  afterAll(async () => {
    await f?.stop();
    await kube?.stop();
  });

  const pod = (name: string, spec: Record<string, unknown>) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { containers: [{ name: 'x', image: 'busybox:1.37', command: ['sleep', '1d'] }], ...spec },
  });
  const privileged = (name: string) =>
    pod(name, { containers: [{ name: 'x', image: 'busybox:1.37', securityContext: { privileged: true } }] });

  it('stays quiet while the apiserver bootstraps its own roles (defect 3)', async () => {
    await settled();
    const fromApiserver = (await auditAlerts()).filter((a) => a.event.actor?.user === 'system:apiserver');
    expect(fromApiserver.map((a) => `${a.rule}: ${a.summary}`)).toEqual([]);
    // The bootstrap did reach Falconer: hundreds of RBAC writes by system:apiserver.
    expect(received.size).toBeGreaterThan(100);
  }, 60_000);

  it('names the cluster from the webhook URL path (defect 1)', async () => {
    await kube.call('GET', '/api/v1/namespaces/shop/secrets/none', 'dev');
    await settled();
    const audit = await auditAlerts();
    expect(audit.length).toBeGreaterThan(0);
    expect(new Set(audit.map((a) => a.event.k8s.cluster))).toEqual(new Set([AUDIT_CLUSTER]));
  }, 60_000);

  it('fires the expected rules for real RBAC changes, pods, secret reads and denied requests', async () => {
    const admin = (method: string, path: string, body?: unknown) => kube.call(method, path, 'admin', body);
    expect(
      (
        await admin('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
          metadata: { name: 'intruder-is-admin' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
          subjects: [{ kind: 'User', name: 'intruder', apiGroup: 'rbac.authorization.k8s.io' }],
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await admin('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
          metadata: { name: 'everything' },
          rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
        })
      ).status,
    ).toBe(201);
    expect((await admin('POST', '/api/v1/namespaces/shop/pods', privileged('priv'))).status).toBe(201);
    expect(
      (
        await admin(
          'POST',
          '/api/v1/namespaces/shop/pods',
          pod('etc-mount', { volumes: [{ name: 'etc', hostPath: { path: '/etc' } }] }),
        )
      ).status,
    ).toBe(201);
    expect(
      (await admin('POST', '/api/v1/namespaces/shop/secrets', { metadata: { name: 'db' }, stringData: { password: 'x' } }))
        .status,
    ).toBe(201);
    expect((await kube.call('GET', '/api/v1/namespaces/shop/secrets/db', 'admin')).status).toBe(200);
    expect((await kube.call('GET', '/api/v1/namespaces/shop/secrets/db', 'dev')).status).toBe(403);
    expect(
      (await kube.call('DELETE', '/apis/rbac.authorization.k8s.io/v1/clusterroles/system:aggregate-to-view', 'dev')).status,
    ).toBe(403);
    await settled();
    const fired = new Set((await auditAlerts()).map((a) => a.rule));
    for (const rule of [
      'Attach to cluster-admin Role',
      'ClusterRole With Wildcard Created',
      'Create Privileged Pod',
      'Create Sensitive Mount Pod',
      'K8s Secret Created',
      'K8s Secret Get Successfully',
      'K8s Secret Get Unsuccessfully Tried',
      'Disallowed K8s User',
    ]) {
      expect(fired).toContain(rule);
    }
    // A refused delete of a system role changed nothing.
    expect(await byRule('System ClusterRole Modified/Deleted', 'system:aggregate-to-view')).toEqual([]);
  }, 60_000);

  it('reports a failed exec as one attempt with its code, for both transports (defect 2)', async () => {
    const path = '/api/v1/namespaces/shop/pods/priv/exec?command=id&container=x&stdout=true';
    // kubectl's WebSocket try (get), then its SPDY fallback (create): the pod has no node, so 400.
    const ws = await kube.call('GET', path, 'admin', undefined, {
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-protocol': 'v5.channel.k8s.io',
    });
    const spdy = await kube.call('POST', path, 'admin', undefined, {
      connection: 'Upgrade',
      upgrade: 'SPDY/3.1',
      'x-stream-protocol-version': 'v4.channel.k8s.io',
    });
    expect([ws.status, spdy.status]).toEqual([400, 400]);
    expect(ws.text).toContain('does not have a host assigned');
    // A user who may not exec, into a pod that does not exist: 403.
    expect((await kube.call('POST', '/api/v1/namespaces/shop/pods/ghost/exec?command=sh', 'dev')).status).toBe(403);
    await settled();
    expect(await byRule('Attach/Exec Pod')).toEqual([]);
    const [failed] = await byRule('Attach/Exec Pod Attempt', 'priv');
    expect(failed).toMatchObject({ count: 2, priority: 'informational', summary: expect.stringContaining('resp=400') });
    const [denied] = await byRule('Attach/Exec Pod Attempt', 'ghost');
    expect(denied).toMatchObject({ count: 1, summary: expect.stringContaining('resp=403') });
  }, 60_000);

  it('raises a refused pod as a refusal, and a later successful create as its own alert (defect 4)', async () => {
    const denied = await kube.call('POST', '/api/v1/namespaces/locked/pods', 'admin', privileged('priv-2'));
    expect(denied.status).toBe(403);
    expect(denied.text).toContain('violates PodSecurity');
    const invalid = await kube.call(
      'POST',
      '/api/v1/namespaces/shop/pods',
      'admin',
      pod('bad-mount', {
        containers: [{ name: 'Not_A_Name', image: 'busybox' }],
        volumes: [{ name: 'p', hostPath: { path: '/proc' } }],
      }),
    );
    expect(invalid.status).toBe(422);
    expect(
      (
        await kube.call(
          'PATCH',
          '/api/v1/namespaces/locked',
          'admin',
          {
            metadata: { labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } },
          },
          { 'content-type': 'application/merge-patch+json' },
        )
      ).status,
    ).toBe(200);
    // PodSecurity may still judge by the old level for a moment: every refusal it made counts.
    const created = await kube.callAfterRelabel('POST', '/api/v1/namespaces/locked/pods', 'admin', privileged('priv-2'));
    expect(created.answer.status).toBe(201);
    await settled();
    expect(await byRule('Pod Rejected by PodSecurity', 'priv-2')).toEqual([
      expect.objectContaining({ count: 1 + created.refusals, summary: expect.stringContaining('resp=403') }),
    ]);
    expect(await byRule('Create Privileged Pod', 'priv-2')).toEqual([
      expect.objectContaining({ count: 1, summary: expect.stringContaining('resp=201') }),
    ]);
    expect(await byRule('Risky Pod Creation Refused', 'bad-mount')).toEqual([
      expect.objectContaining({ count: 1, summary: expect.stringContaining('resp=422') }),
    ]);
    expect(await byRule('Create Sensitive Mount Pod', 'bad-mount')).toEqual([]);
    expect((await byRule('Namespace PodSecurity Enforce Level Lowered')).length).toBe(1);
  }, 60_000);

  const shellIn = async (podName: string, uuid: string) => {
    const shell = falcoEvent({
      uuid,
      output_fields: { 'k8s.ns.name': 'shop', 'k8s.pod.name': podName, 'container.name': 'x', 'proc.cmdline': `sh ${uuid}` },
    });
    expect((await falconer('POST', '/v1/events/falco', JSON.stringify(shell))).status).toBe(202);
  };
  const runtimeAlert = async (uuid: string) =>
    (await alerts()).find((a) => a.event.source === 'falco' && a.event.process?.cmdline === `sh ${uuid}`);

  it('enriches runtime alerts from informers on the real apiserver, also after the apiserver restarts', async () => {
    await eventually(async () => {
      await shellIn('priv', `before-${Date.now()}`);
      const alert = (await alerts()).find((a) => a.event.source === 'falco');
      expect(alert?.enrichment?.pod).toMatchObject({ known: true, privileged: true, serviceAccount: 'default' });
    }, 60_000);

    await kube.restart();
    expect(
      (await kube.call('POST', '/api/v1/namespaces/shop/pods', 'admin', pod('after-restart', { hostPID: true }))).status,
    ).toBe(201);
    // Audit events go to cluster real-1: only the re-established watch can tell cluster `live` about it.
    let n = 0;
    await eventually(async () => {
      const uuid = `after-${n++}`;
      await shellIn('after-restart', uuid);
      await eventually(async () => expect(await runtimeAlert(uuid)).toBeDefined(), 5000);
      expect((await runtimeAlert(uuid))!.enrichment?.pod).toMatchObject({ known: true, hostPID: true });
    }, 90_000);
  }, 200_000);

  it('loses and duplicates nothing while Falconer is down for 20 s: the apiserver retries', async () => {
    await settled();
    const before = await kube.auditCounters();
    const sizeBefore = received.size;
    droppedDuplicates += await duplicatesOf(f!);
    await f!.stop();
    f = undefined;
    for (let i = 0; i < 5; i++) {
      expect(
        (
          await kube.call('POST', '/api/v1/namespaces/shop/configmaps', 'admin', {
            metadata: { name: `outage-${i}` },
            data: { i: String(i) },
          })
        ).status,
      ).toBe(201);
    }
    await new Promise((r) => setTimeout(r, 20_000));
    const during = await kube.auditCounters();
    f = await startFalconer();
    // The first retry comes 10 s after the failure, then 15 s later: all within the five attempts.
    await settled(60_000);
    const after = await kube.auditCounters();
    const republished = [...received.values()].reduce((s, c) => s + (c - 1), 0);
    const dropped = droppedDuplicates + (await duplicatesOf(f!));
    process.stderr.write(
      `\nreal kube-apiserver ${kube.version}: apiserver_audit_event_total=${after.events} ` +
        `apiserver_audit_error_total=${after.errors}; Falconer received ${received.size} distinct (auditID, stage) ` +
        `events; resent: ${dropped} recognised and dropped as duplicates, ${republished} published twice; outage: ${during.events - before.events} events emitted while down, ` +
        `${received.size - sizeBefore} received after the restart\n`,
    );
    expect(after.errors).toBe(0);
    expect(received.size).toBe(after.events);
    expect(republished).toBe(0);
    expect(received.size - sizeBefore).toBeGreaterThanOrEqual(5);
    // A resent batch is accepted again (202) but ignored downstream: no configmap alert twice.
    const outage = (await auditAlerts()).filter(
      (a) => a.rule === 'K8s ConfigMap Created' && a.event.audit?.objectRef?.name?.startsWith('outage-'),
    );
    expect(outage.map((a) => a.count)).toEqual([1, 1, 1, 1, 1]);
  }, 150_000);
});
