import { resolve } from 'node:path';
import type { Detection, Enrichment } from '../../src/core/alert';
import { VirtualClock } from '../../src/core/clock';
import type { Json, JsonObject, SecurityEvent } from '../../src/core/event';
import { ClusterStates, loadSnapshot } from '../../src/enrich/cluster-state';
import { createEnricher } from '../../src/enrich/enricher';
import type { Enricher } from '../../src/enrich/port';
import { normaliseAudit } from '../../src/ingest/audit';
import { normaliseFalco } from '../../src/ingest/falco';
import { sample } from '../support/events';

const CLUSTER = 'prod';
const SNAPSHOT = resolve(__dirname, '..', 'fixtures', 'cluster', 'snapshot.json');
const ctx = { cluster: CLUSTER, receivedAt: 0, maxFieldLength: 4096 };
const auditItems = sample<{ items: JsonObject[] }>('audit-eventlist.json').items;

const [execAudit, crbAudit, podCreateAudit] = auditItems.map((e) => normaliseAudit(e, ctx)) as [
  SecurityEvent,
  SecurityEvent,
  SecurityEvent,
];
const shellInWeb = normaliseFalco(sample('falco-terminal-shell.json'), ctx);
const falcoAuditExec = normaliseFalco(sample('falco-k8saudit-exec.json'), ctx);

function detection(event: SecurityEvent): Detection {
  return { rule: 'r', ruleId: 'r', priority: 'notice', source: event.source, tags: [], summary: 's', event };
}

function withSnapshot(): ClusterStates {
  const states = new ClusterStates();
  states.replace(loadSnapshot(SNAPSHOT, CLUSTER).state);
  return states;
}

function auditEvent(over: JsonObject): SecurityEvent {
  const base = auditItems[2] as JsonObject;
  return normaliseAudit({ ...base, auditID: `id-${Math.random()}`, ...over } as Json, ctx);
}

function podCreate(name: string, namespace: string, extra: JsonObject = {}): SecurityEvent {
  return auditEvent({
    objectRef: { resource: 'pods', namespace, name, apiVersion: 'v1' },
    requestObject: {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: { name, namespace, ...extra },
      spec: { containers: [{ name: 'c', image: 'i' }] },
    },
  });
}

describe('createEnricher: the exec story against the snapshot fixture', () => {
  const enricher = createEnricher({ states: withSnapshot(), clock: new VirtualClock() });

  it('names the audit actor, their bindings and top risky findings', async () => {
    const { subject } = await enricher.enrich(detection(execAudit));
    expect(subject).toMatchObject({ known: true, user: 'alice@example.com', kind: 'user', origin: 'audit-user' });
    if (!subject?.known) throw new Error('subject unknown');
    expect(subject.groups).toEqual(expect.arrayContaining(['devs', 'system:authenticated']));
    expect(subject.findings.map((f) => f.id)).toEqual(expect.arrayContaining(['pods-exec', 'pods-attach']));
    expect(subject.findings.find((f) => f.id === 'pods-exec')).toMatchObject({
      scope: 'shop',
      grantedBy: expect.stringContaining('shop-debuggers'),
    });
    expect(subject.bindings).toEqual(
      expect.arrayContaining([expect.stringContaining('rbac-admins'), expect.stringContaining('shop-debuggers')]),
    );
    expect(subject.bindingCount).toBe(2);
    expect(subject.findingCount).toBe(subject.findings.length);
  });

  it("describes the pod: root, hostPath, host port, PSS level and the namespace's enforce level", async () => {
    const { pod } = await enricher.enrich(detection(execAudit));
    expect(pod).toMatchObject({
      known: true,
      namespace: 'shop',
      name: 'web-7c9f8d-abcde',
      origin: 'state',
      serviceAccount: 'default',
      node: 'node-1',
      privileged: false,
      hostNetwork: false,
      runAsRoot: 'yes',
      hostPathVolumes: ['/var/log'],
      pss: { level: 'privileged', version: 'latest' },
      namespacePolicy: {
        known: true,
        enforce: 'baseline:latest',
        audit: 'privileged:latest',
        // No warn label: warn follows the stricter enforce level (upstream PolicyToEvaluate).
        warn: 'baseline:latest',
        meetsEnforce: false,
      },
    });
    if (!pod?.known) throw new Error('pod unknown');
    expect(pod.pss.violations.map((v) => v.check)).toEqual(
      expect.arrayContaining(['hostPathVolumes', 'hostPorts', 'appArmorProfile']),
    );
  });

  it('says how NetworkPolicy isolates the pod', async () => {
    const { network } = await enricher.enrich(detection(execAudit));
    expect(network).toEqual({
      known: true,
      namespace: 'shop',
      ingress: { isolated: true, policies: ['default-deny-ingress', 'web-from-lb'], defaultDeny: true, anyPeerAllowed: false },
      egress: { isolated: false, policies: [], defaultDeny: false, anyPeerAllowed: false },
    });
  });

  it("takes a runtime event's subject from the pod's service account", async () => {
    const { subject, pod } = await enricher.enrich(detection(shellInWeb));
    expect(subject).toMatchObject({
      known: true,
      user: 'system:serviceaccount:shop:default',
      kind: 'serviceaccount',
      origin: 'pod-service-account',
      findings: [],
    });
    expect(pod).toMatchObject({ known: true, name: 'web-7c9f8d-abcde' });
  });

  it("takes a Falco k8saudit event's subject from ka.user.name", async () => {
    const { subject, pod } = await enricher.enrich(detection(falcoAuditExec));
    expect(subject).toMatchObject({
      known: true,
      user: 'alice@example.com',
      origin: 'falco-audit-user',
      groups: ['system:authenticated'],
    });
    expect(pod).toMatchObject({ known: true, name: 'web-7c9f8d-abcde' });
  });

  it('evaluates the pod an audit create carries, and its creator', async () => {
    const { subject, pod } = await enricher.enrich(detection(podCreateAudit));
    expect(pod).toMatchObject({
      known: true,
      name: 'debug-tools',
      origin: 'audit-object',
      privileged: true,
      privilegedContainers: ['tools'],
      hostPID: true,
      runAsRoot: 'possible',
      hostPathVolumes: ['/'],
      pss: { level: 'privileged' },
      namespacePolicy: { known: true, meetsEnforce: false },
    });
    expect(subject).toMatchObject({ known: true, user: 'system:serviceaccount:ci:deployer', kind: 'serviceaccount' });
    if (!subject?.known) throw new Error('subject unknown');
    // ClusterRole "edit" is aggregated from edit-workloads, which can create pods and deployments.
    expect(subject.findings.map((f) => f.id)).toContain('workload-create');
  });

  it('uses the impersonated identity, naming who impersonated', async () => {
    const event = auditEvent({ impersonatedUser: { username: 'system:serviceaccount:ci:deployer', groups: [] } });
    const { subject } = await enricher.enrich(detection(event));
    expect(subject).toMatchObject({
      known: true,
      user: 'system:serviceaccount:ci:deployer',
      origin: 'impersonated-user',
      impersonatedBy: 'system:serviceaccount:ci:deployer',
    });
    const byAlice = auditEvent({
      user: { username: 'alice@example.com', groups: ['devs'] },
      impersonatedUser: { username: 'bob', groups: ['ops'] },
    });
    expect((await enricher.enrich(detection(byAlice))).subject).toMatchObject({
      user: 'bob',
      groups: ['ops', 'system:authenticated'],
      impersonatedBy: 'alice@example.com',
    });
  });

  it('adds nothing for a host event that names neither pod nor subject', async () => {
    const host = normaliseFalco({ ...sample('falco-terminal-shell.json'), output_fields: { 'proc.name': 'bash' } }, ctx);
    expect(await enricher.enrich(detection(host))).toEqual({});
  });
});

describe('createEnricher: unknown state is said, not guessed', () => {
  it('with no state for the cluster', async () => {
    const enricher = createEnricher({ states: new ClusterStates(), clock: new VirtualClock(), waitForStateMs: 5000 });
    const e = await enricher.enrich(detection(execAudit));
    expect(e.subject).toEqual({
      known: false,
      user: 'alice@example.com',
      reason: expect.stringMatching(/no cluster state for cluster "prod"/),
    });
    expect(e.pod).toEqual({
      known: false,
      namespace: 'shop',
      name: 'web-7c9f8d-abcde',
      reason: expect.stringMatching(/no cluster state/),
    });
    expect(e.network).toMatchObject({ known: false });
  });

  it('for a pod the state has not seen: the runtime subject is unknown too', async () => {
    const enricher = createEnricher({ states: withSnapshot(), clock: new VirtualClock() });
    const other = normaliseFalco(
      { ...sample('falco-terminal-shell.json'), output_fields: { 'k8s.ns.name': 'shop', 'k8s.pod.name': 'nope' } },
      ctx,
    );
    const e = await enricher.enrich(detection(other));
    expect(e.pod).toMatchObject({ known: false, reason: 'pod shop/nope not in cluster state' });
    expect(e.network).toMatchObject({ known: false, reason: 'pod labels unknown' });
    expect(e.subject).toMatchObject({ known: false, reason: expect.stringContaining('service account is unknown') });
  });

  it('for a namespace the state has not seen', async () => {
    const enricher = createEnricher({ states: withSnapshot(), clock: new VirtualClock() });
    const { pod } = await enricher.enrich(detection(podCreate('p', 'elsewhere')));
    expect(pod).toMatchObject({
      known: true,
      namespacePolicy: { known: false, reason: 'namespace elsewhere not in cluster state' },
    });
  });
});

describe('createEnricher: state from the audit stream', () => {
  it('builds state from audit events alone and enriches from it', async () => {
    const states = new ClusterStates();
    const enricher = createEnricher({ states, clock: new VirtualClock() });
    for (const e of [execAudit, crbAudit, podCreateAudit]) enricher.observe(e);
    const other = normaliseAudit(
      { ...auditItems[0], objectRef: { resource: 'pods', namespace: 'shop', name: 'debug-tools', subresource: 'exec' } } as Json,
      ctx,
    );
    const e = await enricher.enrich(detection(other));
    expect(e.pod).toMatchObject({ known: true, name: 'debug-tools', origin: 'state', privileged: true });
    expect(states.peek(CLUSTER)?.size()).toMatchObject({ pods: 1, clusterRoleBindings: 1 });
  });

  it('keeps clusters apart', async () => {
    const states = new ClusterStates();
    const enricher = createEnricher({ states, clock: new VirtualClock() });
    enricher.observe(normaliseAudit(auditItems[2] as Json, { ...ctx, cluster: 'staging' }));
    expect((await enricher.enrich(detection(shellInWeb))).pod).toMatchObject({
      known: false,
      reason: expect.stringMatching(/no cluster state/),
    });
    expect(states.peek('staging')?.size().pods).toBe(1);
  });

  it('never throws on an audit event it cannot use', () => {
    const enricher = createEnricher({ states: new ClusterStates(), clock: new VirtualClock() });
    expect(() =>
      enricher.observe({ ...execAudit, raw: { objectRef: { resource: 'pods' }, responseStatus: { code: 200 }, verb: 'create' } }),
    ).not.toThrow();
  });
});

describe('createEnricher: bounded wait for a pod about to arrive', () => {
  function setup(waitForStateMs: number): { clock: VirtualClock; enricher: Enricher; shell: SecurityEvent } {
    const clock = new VirtualClock();
    const enricher = createEnricher({ states: withSnapshot(), clock, waitForStateMs });
    const shell = normaliseFalco(
      { ...sample('falco-terminal-shell.json'), output_fields: { 'k8s.ns.name': 'shop', 'k8s.pod.name': 'late' } },
      ctx,
    );
    return { clock, enricher, shell };
  }

  async function settled<T>(p: Promise<T>): Promise<{ done: boolean; value?: T }> {
    let result: { done: boolean; value?: T } = { done: false };
    void p.then((value) => (result = { done: true, value }));
    for (let i = 0; i < 10; i++) await Promise.resolve();
    return result;
  }

  it('resolves as soon as the pod arrives through the audit stream', async () => {
    const { clock, enricher, shell } = setup(2000);
    const pending = enricher.enrich(detection(shell));
    expect((await settled(pending)).done).toBe(false);
    clock.advance(500);
    expect((await settled(pending)).done).toBe(false);
    enricher.observe(podCreate('late', 'shop'));
    const result = await settled(pending);
    expect(result.done).toBe(true);
    expect(result.value?.pod).toMatchObject({ known: true, name: 'late' });
    expect(clock.pendingTimers()).toBe(0);
  });

  it('gives up after waitForStateMs, and does not wait again for the same missing pod', async () => {
    const { clock, enricher, shell } = setup(2000);
    const pending = enricher.enrich(detection(shell));
    clock.advance(1999);
    expect((await settled(pending)).done).toBe(false);
    expect(enricher.waiting?.()).toBe(1); // what the embedded bus asks before letting the next batch by
    clock.advance(1);
    const result = await settled(pending);
    expect(result.done).toBe(true);
    expect(enricher.waiting?.()).toBe(0);
    expect(result.value?.pod).toMatchObject({ known: false, reason: 'pod shop/late not in cluster state' });
    const again = await settled(enricher.enrich(detection(shell)));
    expect(again.done).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
    clock.advance(60_000);
    expect((await settled(enricher.enrich(detection(shell)))).done).toBe(false); // remembered for a minute only
  });

  it.each([
    ['waitForStateMs is 0', 0, 'shop', 'late'],
    ['the pod is known', 2000, 'shop', 'web-7c9f8d-abcde'],
  ])('does not wait when %s', async (_name, wait, namespace, pod) => {
    const { enricher } = setup(wait);
    const shell = normaliseFalco(
      { ...sample('falco-terminal-shell.json'), output_fields: { 'k8s.ns.name': namespace, 'k8s.pod.name': pod } },
      ctx,
    );
    expect((await settled(enricher.enrich(detection(shell)))).done).toBe(true);
  });

  it('does not wait when nothing is known about the cluster (no state source)', async () => {
    const clock = new VirtualClock();
    const enricher = createEnricher({ states: new ClusterStates(), clock, waitForStateMs: 2000 });
    expect((await settled(enricher.enrich(detection(shellInWeb)))).done).toBe(true);
  });
});

describe('createEnricher: per-pod results are cached until the pod or its namespace changes', () => {
  it('reuses the PSS result for an unchanged pod and recomputes after a new resourceVersion', async () => {
    const states = withSnapshot();
    const enricher = createEnricher({ states, clock: new VirtualClock() });
    const pss = async (): Promise<unknown> => {
      const e: Enrichment = await enricher.enrich(detection(shellInWeb));
      return e.pod?.known ? e.pod.pss : undefined;
    };
    const first = await pss();
    expect(await pss()).toBe(first);
    const state = states.get(CLUSTER);
    state.upsert({
      kind: 'Pod',
      metadata: { name: 'web-7c9f8d-abcde', namespace: 'shop', resourceVersion: '121', labels: { app: 'web' } },
      spec: { containers: [{ name: 'nginx', securityContext: { privileged: true } }] },
    });
    const second = await pss();
    expect(second).not.toBe(first);
    expect(second).toMatchObject({ level: 'privileged', violations: [expect.objectContaining({ check: 'privileged' })] });
  });

  it('hands the alerts of one pod state the same pod and subject parts, and new ones after a change', async () => {
    const states = withSnapshot();
    const enricher = createEnricher({ states, clock: new VirtualClock() });
    const first = await enricher.enrich(detection(shellInWeb));
    const again = await enricher.enrich(detection(shellInWeb));
    expect(first.pod?.known).toBe(true);
    expect(again.pod).toBe(first.pod);
    expect(again.subject).toBe(first.subject);
    expect(again.network).toBe(first.network);
    const exec = await enricher.enrich(detection(execAudit));
    expect((await enricher.enrich(detection(execAudit))).subject).toBe(exec.subject);
    expect(exec.subject).not.toBe(first.subject);
    states.get(CLUSTER).upsert({
      kind: 'Pod',
      metadata: { name: 'web-7c9f8d-abcde', namespace: 'shop', resourceVersion: '122', labels: { app: 'web' } },
      spec: { containers: [{ name: 'nginx' }] },
    });
    const changed = await enricher.enrich(detection(shellInWeb));
    expect(changed.pod).not.toBe(first.pod);
    expect(changed.pod).toMatchObject({ known: true, privileged: false, origin: 'state' });
    expect((await enricher.enrich(detection(shellInWeb))).network).toBe(changed.network);
    states.get(CLUSTER).upsert({
      kind: 'NetworkPolicy',
      metadata: { name: 'web-egress', namespace: 'shop', resourceVersion: '7' },
      spec: { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'] },
    });
    const isolated = await enricher.enrich(detection(shellInWeb));
    expect(isolated.network).not.toBe(changed.network);
    expect(isolated.network).toMatchObject({ known: true, egress: { isolated: true, policies: ['web-egress'] } });
    expect((await enricher.enrich(detection(shellInWeb))).network).toBe(isolated.network);
  });

  it('recomputes whether the pod meets enforce when the namespace labels change', async () => {
    const states = withSnapshot();
    const enricher = createEnricher({ states, clock: new VirtualClock() });
    const meets = async () => {
      const { pod } = await enricher.enrich(detection(shellInWeb));
      return pod?.known && pod.namespacePolicy.known
        ? [pod.namespacePolicy.enforce, pod.namespacePolicy.meetsEnforce]
        : undefined;
    };
    expect(await meets()).toEqual(['baseline:latest', false]);
    states.get(CLUSTER).upsert({
      kind: 'Namespace',
      metadata: { name: 'shop', resourceVersion: '11', labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } },
    });
    expect(await meets()).toEqual(['privileged:latest', true]);
  });
});

describe("createEnricher: a subject's RBAC answer is reused only while its bindings and roles are unchanged", () => {
  const findingIds = async (enricher: Enricher) => {
    const { subject } = await enricher.enrich(detection(execAudit));
    return subject?.known ? subject.findings.map((f) => f.id).sort() : undefined;
  };
  const findingsOf = async (enricher: Enricher) => {
    const { subject } = await enricher.enrich(detection(execAudit));
    return subject?.known ? subject.findings : undefined;
  };

  it('reuses the answer for the same subject', async () => {
    const enricher = createEnricher({ states: withSnapshot(), clock: new VirtualClock() });
    expect(await findingsOf(enricher)).toBe(await findingsOf(enricher));
  });

  it.each<[string, (s: ReturnType<ClusterStates['get']>) => void, (ids: string[]) => void]>([
    [
      'a new binding through one of its groups',
      (s) =>
        s.upsert({
          kind: 'ClusterRoleBinding',
          metadata: { name: 'devs-secrets' },
          roleRef: { kind: 'ClusterRole', name: 'secret-reader' },
          subjects: [{ kind: 'Group', name: 'devs' }],
        }),
      (ids) => expect(ids).toContain('secrets-read'),
    ],
    [
      'the role of a binding changed',
      (s) =>
        s.upsert({
          kind: 'ClusterRole',
          metadata: { name: 'pod-exec', resourceVersion: '2' },
          rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }],
        }),
      (ids) => expect(ids).not.toContain('pods-exec'),
    ],
    [
      'a binding removed',
      (s) => s.delete('RoleBinding', 'shop', 'shop-debuggers'),
      (ids) => expect(ids).not.toContain('pods-attach'),
    ],
  ])('recomputes within a second after %s by another writer of the state', async (_name, change, expectation) => {
    const states = withSnapshot();
    const state = states.get(CLUSTER);
    state.upsert({
      kind: 'ClusterRole',
      metadata: { name: 'secret-reader' },
      rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }],
    });
    const clock = new VirtualClock();
    const enricher = createEnricher({ states, clock });
    const before = (await findingIds(enricher)) as string[];
    expect(before).toEqual(expect.arrayContaining(['pods-attach', 'pods-exec']));
    expect(before).not.toContain('secrets-read');
    change(state);
    clock.advance(999);
    expect(await findingIds(enricher)).toEqual(before);
    clock.advance(1);
    expectation((await findingIds(enricher)) as string[]);
  });

  it('sees an RBAC change that arrives through the audit stream at once', async () => {
    const states = withSnapshot();
    states.get(CLUSTER).upsert({
      kind: 'ClusterRole',
      metadata: { name: 'secret-reader' },
      rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }],
    });
    const enricher = createEnricher({ states, clock: new VirtualClock() });
    expect(await findingIds(enricher)).not.toContain('secrets-read');
    const crb = {
      kind: 'ClusterRoleBinding',
      metadata: { name: 'devs-secrets' },
      roleRef: { kind: 'ClusterRole', name: 'secret-reader' },
      subjects: [{ kind: 'Group', name: 'devs' }],
    };
    enricher.observe(
      auditEvent({
        objectRef: { resource: 'clusterrolebindings', apiGroup: 'rbac.authorization.k8s.io', name: 'devs-secrets' },
        requestObject: crb,
      }),
    );
    expect(await findingIds(enricher)).toContain('secrets-read');
  });
});

describe('createEnricher: never throws', () => {
  it('turns a failure into unknown parts naming the error', async () => {
    const states = withSnapshot();
    states.peek = () => {
      throw new Error('boom');
    };
    const enricher = createEnricher({ states, clock: new VirtualClock() });
    expect(await enricher.enrich(detection(execAudit))).toEqual({
      subject: { known: false, reason: 'enrichment failed: boom' },
      pod: { known: false, reason: 'enrichment failed: boom', namespace: 'shop', name: 'web-7c9f8d-abcde' },
      network: { known: false, reason: 'enrichment failed: boom' },
    });
  });
});
