import { startChildFalconer, type ChildFalconer } from '../support/child-falconer';
import { eventually, post, TEST_TOKEN } from '../support/falconer';
import { LOOP_TURNS_ARGS, loopTurns } from '../support/loop-turns';

/**
 * Cluster state that events themselves shape must not freeze the event loop: a thousand ClusterRoles
 * that all aggregate each other (the old aggregation walked every simple path: 10 roles took 3 s, 11
 * took 12 s, a thousand never finish), created by a user bound to one of them (so every "ClusterRole
 * created" alert resolves that user's permissions again), then an exec by that user. Falconer runs in
 * a process of its own, so the round trips measure its event loop, not this test runner's heap.
 */
describe('hostile cluster state over HTTP', () => {
  let f: ChildFalconer;
  beforeAll(async () => {
    f = await startChildFalconer({ enrichment: { waitForStateMs: 0 }, log: { level: 'error' } }, LOOP_TURNS_ARGS);
  }, 90_000);
  afterAll(() => f.stop());

  const audit = (items: unknown[]) => post(`${f.url}/v1/events/audit`, JSON.stringify({ kind: 'EventList', items }));

  it('a thousand mutually aggregating ClusterRoles never hold the event loop for 100 ms, and /healthz keeps answering', async () => {
    const roles = 1000;
    // Warm up: the first requests compile routes and rules.
    await fetch(`${f.url}/healthz`);
    expect((await audit([exec('warm-up')])).status).toBe(202);

    const probeFor = (keepGoing: () => boolean) =>
      (async () => {
        const rtts: number[] = [];
        while (keepGoing()) {
          const started = performance.now();
          const res = await fetch(`${f.url}/healthz`);
          await res.text();
          rtts.push(performance.now() - started);
          await new Promise((r) => setTimeout(r, 5));
        }
        return rtts.sort((a, b) => a - b);
      })();
    // What this box costs a round trip with nothing to do: under a full parallel test run, being
    // scheduled out alone can take tens of ms. The loop's stretches are counted from here.
    await loopTurns(f);
    const idleUntil = performance.now() + 1000;
    const idle = await probeFor(() => performance.now() < idleUntil);
    let probing = true;
    const probe = probeFor(() => probing);

    expect((await audit([binding()])).status).toBe(202);
    for (let i = 0; i < roles; i += 100) {
      const items = Array.from({ length: Math.min(100, roles - i) }, (_, k) => clusterRole(i + k));
      expect((await audit(items)).status).toBe(202);
    }
    const newest = async (match: (a: any) => boolean) => {
      let found: any;
      await eventually(async () => {
        const res = await fetch(`${f.url}/v1/alerts?limit=5`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
        found = ((await res.json()) as { alerts: any[] }).alerts.find(match);
        expect(found).toBeDefined();
      }, 60_000);
      return found;
    };
    // Events of different pods run side by side: let the last role land before the exec is sent.
    await newest((a) => a.rule === 'K8s ClusterRole Created' && a.event.audit.objectRef.name === `mesh-${roles - 1}`);
    expect((await audit([exec('hostile-exec')])).status).toBe(202);
    const alert = await newest((a) => a.rule === 'Attach/Exec Pod' && a.event.audit.auditID === 'hostile-exec');
    probing = false;
    const rtts = await probe;
    const turns = await loopTurns(f);

    // The exec was enriched from the hostile state: mallory holds mesh-0, which aggregates all of them.
    expect(alert.enrichment.subject).toMatchObject({ known: true, user: 'mallory', bindingCount: 1 });
    expect(alert.enrichment.subject.bindings[0]).toContain('ClusterRole "mesh-0"');
    expect(alert.enrichment.subject.findings.map((x: { id: string }) => x.id)).toContain('secrets-read'); // from mesh-999

    // The old code did not answer for minutes. The bound is on the work itself: the longest stretch of
    // main-thread CPU time between two turns of the child's event loop (a /healthz arriving meanwhile
    // waits about that long). Round trips on a loaded 2-core box swing by hundreds of ms with the
    // scheduling of both processes (p95 195 ms against 69 ms idle, with these stretches at 14 ms), so
    // they only get a ceiling here, far under a freeze of seconds.
    expect(turns.turns).toBeGreaterThan(10);
    expect(turns.maxMs).toBeLessThan(100);
    expect(rtts.length).toBeGreaterThan(10);
    expect(rtts.at(-1)).toBeLessThan(3000 + idle.at(-1)!);
  }, 120_000);
});

function clusterRole(i: number) {
  return write(`role-${i}`, 'clusterroles', `mesh-${i}`, {
    kind: 'ClusterRole',
    apiVersion: 'rbac.authorization.k8s.io/v1',
    metadata: { name: `mesh-${i}`, labels: { mesh: 'true' } },
    aggregationRule: { clusterRoleSelectors: [{ matchLabels: { mesh: 'true' } }] },
    rules: [{ verbs: ['get'], apiGroups: [''], resources: [i === 999 ? 'secrets' : `thing-${i}`] }],
  });
}

function binding() {
  return write('binding', 'clusterrolebindings', 'mesh-binding', {
    kind: 'ClusterRoleBinding',
    apiVersion: 'rbac.authorization.k8s.io/v1',
    metadata: { name: 'mesh-binding' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'mesh-0' },
    subjects: [{ kind: 'User', name: 'mallory' }],
  });
}

function write(id: string, resource: string, name: string, object: object) {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: `hostile-${id}`,
    stage: 'ResponseComplete',
    requestURI: `/apis/rbac.authorization.k8s.io/v1/${resource}`,
    verb: 'create',
    user: { username: 'mallory', groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.9'],
    objectRef: { resource, name, apiGroup: 'rbac.authorization.k8s.io', apiVersion: 'v1' },
    responseStatus: { code: 201 },
    requestObject: object,
    responseObject: object,
    requestReceivedTimestamp: '2025-11-10T12:50:59.402118Z',
    stageTimestamp: '2025-11-10T12:50:59.431907Z',
  };
}

function exec(auditID: string) {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID,
    stage: 'ResponseStarted',
    requestURI: '/api/v1/namespaces/shop/pods/web-1/exec?command=sh&container=web&stdin=true&tty=true',
    verb: 'get',
    user: { username: 'mallory', groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.9'],
    objectRef: { resource: 'pods', subresource: 'exec', namespace: 'shop', name: 'web-1', apiVersion: 'v1' },
    responseStatus: { code: 101 },
    requestReceivedTimestamp: '2025-11-10T12:51:00.402118Z',
    stageTimestamp: '2025-11-10T12:51:00.431907Z',
  };
}
