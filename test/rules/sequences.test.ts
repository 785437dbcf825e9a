import { BASE_AUDIT_EVENT, overlay } from '../../src/detect/fixtures';
import { loadRuleSet, RuleEngine } from '../../src/detect/engine';
import { Replay } from '../../src/detect/replay';
import type { JsonObject } from '../../src/core/event';

// Sequences of audit events as a real kube-apiserver writes them (issue 16), through the built-in pack
// and the fingerprint, as the alert stage deduplicates them.
const engine = new RuleEngine(loadRuleSet({ builtin: true }));
let n = 0;
// An operator on the allowed-users list, so Disallowed K8s User stays out of the picture.
const ADMIN = { username: 'kubernetes-admin', groups: ['kubeadm:cluster-admins', 'system:authenticated'] };
const event = (patch: Record<string, unknown>): JsonObject =>
  overlay({ ...BASE_AUDIT_EVENT, user: ADMIN, auditID: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}` }, patch);

function replay(...events: JsonObject[]) {
  const r = new Replay(engine, { cluster: 'c', receivedAt: 0, maxFieldLength: 16 * 1024 });
  for (const e of events) r.add(e);
  return r.results().map((a) => ({ rule: a.rule, count: a.count, summary: a.summary, priority: a.priority }));
}

const exec = (verb: string, code: number, stage = 'ResponseStarted') =>
  event({
    stage,
    verb,
    requestURI: '/api/v1/namespaces/shop/pods/web/exec?command=sh&container=x&stdin=true&stdout=true&tty=true',
    objectRef: { resource: 'pods', namespace: 'shop', name: 'web', subresource: 'exec', apiVersion: 'v1' },
    responseStatus: { code },
  });

test('one kubectl exec that falls back from WebSocket to SPDY is one activity', () => {
  expect(replay(exec('get', 101), exec('create', 101))).toEqual([
    { rule: 'Attach/Exec Pod', count: 2, summary: expect.stringContaining('resp=101'), priority: 'notice' },
  ]);
});

test('a failed exec (no node: 400) is a lower-priority attempt with the code, once per kubectl exec', () => {
  const alerts = replay(
    exec('get', 400),
    exec('get', 400, 'ResponseComplete'),
    exec('create', 400),
    exec('create', 400, 'ResponseComplete'),
  );
  expect(alerts).toEqual([
    { rule: 'Attach/Exec Pod Attempt', count: 2, summary: expect.stringContaining('resp=400'), priority: 'informational' },
  ]);
});

test('a failed and a successful exec are different alerts', () => {
  expect(replay(exec('get', 403), exec('get', 101)).map((a) => a.rule)).toEqual(['Attach/Exec Pod Attempt', 'Attach/Exec Pod']);
});

const privilegedPod = (code: number, message?: string) =>
  event({
    verb: 'create',
    requestURI: '/api/v1/namespaces/shop/pods',
    objectRef: { resource: 'pods', namespace: 'shop', name: 'priv', apiVersion: 'v1' },
    requestObject: {
      kind: 'Pod',
      metadata: { name: 'priv' },
      spec: { containers: [{ name: 'x', image: 'busybox', securityContext: { privileged: true } }] },
    },
    responseStatus: message ? { code, message } : { code },
  });

test('a PodSecurity 403 and a later 201 for the same pod are two alerts, not one with count 2', () => {
  const denied = privilegedPod(
    403,
    'pods "priv" is forbidden: violates PodSecurity "baseline:latest": privileged (container "x" must not set securityContext.privileged=true)',
  );
  expect(replay(denied, privilegedPod(201))).toEqual([
    { rule: 'Pod Rejected by PodSecurity', count: 1, summary: expect.stringContaining('resp=403'), priority: 'notice' },
    { rule: 'Create Privileged Pod', count: 1, summary: expect.stringContaining('resp=201'), priority: 'warning' },
  ]);
});

test('a privileged pod refused as invalid (422) raises only the refusal', () => {
  expect(
    replay(
      privilegedPod(
        422,
        'Pod "priv" is invalid: spec.containers[0].securityContext.privileged: Forbidden: disallowed by cluster policy',
      ),
    ).map((a) => a.rule),
  ).toEqual(['Risky Pod Creation Refused']);
});

test('the apiserver bootstrapping its own roles raises nothing; the same write by a person does', () => {
  const role = (username: string) =>
    event({
      verb: 'create',
      requestURI: '/apis/rbac.authorization.k8s.io/v1/clusterroles',
      user: { username, groups: ['system:masters', 'system:authenticated'] },
      sourceIPs: ['127.0.0.1'],
      objectRef: {
        resource: 'clusterroles',
        name: 'system:aggregate-to-edit',
        apiGroup: 'rbac.authorization.k8s.io',
        apiVersion: 'v1',
      },
      requestObject: {
        kind: 'ClusterRole',
        metadata: { name: 'system:aggregate-to-edit' },
        rules: [{ verbs: ['create', 'delete'], resources: ['pods/exec'], apiGroups: [''] }],
      },
      responseStatus: { code: 201 },
    });
  expect(replay(role('system:apiserver'))).toEqual([]);
  expect(replay(role('mallory')).map((a) => a.rule)).toEqual(
    expect.arrayContaining([
      'System ClusterRole Modified/Deleted',
      'ClusterRole With Pod Exec Created',
      'K8s ClusterRole Created',
    ]),
  );
});
