import type { JsonObject } from '../../src/core/event';
import { BASE_AUDIT_EVENT, overlay } from '../../src/detect/fixtures';
import { auditTime, runtime, session, T0 } from './streams';
import type { Scenario } from './scenarios';

/** A complete audit event: the fixture base with `patch` over it, at `at` ms after T0. */
function auditAt(id: string, at: number, patch: Record<string, unknown>): { audit: JsonObject } {
  return {
    audit: overlay(BASE_AUDIT_EVENT, {
      auditID: id,
      requestReceivedTimestamp: auditTime(T0 + at),
      stageTimestamp: auditTime(T0 + at + 10),
      ...patch,
    }),
  };
}

const adminBinding = (subject: JsonObject) =>
  auditAt('crb-1', 0, {
    verb: 'create',
    user: { username: 'admin@example.com', groups: ['system:authenticated'] },
    requestURI: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
    objectRef: { resource: 'clusterrolebindings', name: 'pwn', apiGroup: 'rbac.authorization.k8s.io' },
    responseStatus: { code: 201 },
    requestObject: {
      kind: 'ClusterRoleBinding',
      metadata: { name: 'pwn' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [subject],
    },
  });

const execBy = (id: string, user: string, at: number, pod = 'web-1') =>
  session({ id, user, pod, container: 'app', start: at, end: at + 600_000 }).map((audit) => ({ audit }));

const privilegedPod = (ns: string, name: string, at: number) =>
  auditAt(`pod-${ns}-${name}`, at, {
    verb: 'create',
    user: { username: 'bob@example.com', groups: ['system:authenticated'] },
    requestURI: `/api/v1/namespaces/${ns}/pods`,
    objectRef: { resource: 'pods', namespace: ns, name, apiVersion: 'v1' },
    responseStatus: { code: 201 },
    requestObject: {
      kind: 'Pod',
      metadata: { name, namespace: ns },
      spec: { containers: [{ name: 'x', image: 'evil/tool:1', securityContext: { privileged: true } }] },
    },
  });

const tokenFor = (ip: string) =>
  auditAt('tok-1', 0, {
    verb: 'create',
    sourceIPs: [ip],
    requestURI: '/api/v1/namespaces/ci/serviceaccounts/deployer/token',
    objectRef: { resource: 'serviceaccounts', namespace: 'ci', name: 'deployer', subresource: 'token' },
    responseStatus: { code: 201 },
  });

const secretGet = (user: string, ip: string, at: number) =>
  auditAt(`sec-${at}`, at, {
    verb: 'get',
    user: { username: user, groups: ['system:serviceaccounts', 'system:authenticated'] },
    sourceIPs: [ip],
    requestURI: '/api/v1/namespaces/ci/secrets/registry',
    objectRef: { resource: 'secrets', namespace: 'ci', name: 'registry', apiVersion: 'v1' },
    responseStatus: { code: 200 },
  });

const enforceLowered = (ns: string) =>
  auditAt(`ns-${ns}`, 0, {
    verb: 'patch',
    user: { username: 'bob@example.com', groups: ['system:authenticated'] },
    requestURI: `/api/v1/namespaces/${ns}`,
    objectRef: { resource: 'namespaces', name: ns, apiVersion: 'v1' },
    responseStatus: { code: 200 },
    requestObject: { metadata: { labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } } },
  });

const credentialRead = (id: string, at: number, pod = 'web-1') => ({
  falco: runtime({
    id,
    at,
    pod,
    proc: 'cat',
    pname: 'bash',
    rule: 'Read sensitive file untrusted',
    priority: 'Warning',
    tags: ['maturity_stable', 'container', 'filesystem', 'mitre_credential_access', 'T1555'],
  }),
});

const SA = { kind: 'ServiceAccount', name: 'default', namespace: 'dev' };

/** Chains and their near misses, through the real rule pack and pipeline. */
export const CHAIN_SCENARIOS: Scenario[] = [
  {
    name: 'chain: cluster-admin bound to a service account, which then execs',
    stream: [adminBinding(SA), ...execBy('e1', 'system:serviceaccount:dev:default', 60_000)],
    expect: {},
    chain: 'admin-binding-then-exec',
  },
  {
    name: 'near miss: cluster-admin bound, but someone else execs',
    stream: [adminBinding(SA), ...execBy('e1', 'alice@example.com', 60_000)],
    expect: {},
    chain: null,
  },
  {
    name: 'chain: exec, then a credential read in that session',
    stream: [...execBy('e1', 'alice@example.com', 0), credentialRead('r1', 20_000)],
    expect: { r1: { user: 'alice@example.com' } },
    chain: 'exec-then-credential-access',
  },
  {
    name: 'chain: credential read first, its exec audit event 30 s late (attributed in place, then the chain)',
    stream: [credentialRead('r1', 20_000), ...execBy('e1', 'alice@example.com', 0)],
    expect: { r1: { user: 'alice@example.com' } },
    chain: 'exec-then-credential-access',
  },
  {
    name: 'near miss: exec into one pod, credential read in another',
    stream: [...execBy('e1', 'alice@example.com', 0), credentialRead('r1', 20_000, 'web-2')],
    expect: { r1: null },
    chain: null,
  },
  {
    name: 'chain: privileged pod created, then a shell in it',
    stream: [privilegedPod('ops', 'debug', 0), { falco: runtime({ id: 'r1', at: 120_000, ns: 'ops', pod: 'debug' }) }],
    expect: { r1: null },
    chain: 'privileged-pod-then-runtime',
  },
  {
    name: 'near miss: privileged pod created, shell in another pod',
    stream: [privilegedPod('ops', 'debug', 0), { falco: runtime({ id: 'r1', at: 120_000, ns: 'ops', pod: 'web' }) }],
    expect: { r1: null },
    chain: null,
  },
  {
    name: 'chain: token minted, then the service account reads a secret from a new IP',
    stream: [tokenFor('10.0.0.5'), secretGet('system:serviceaccount:ci:deployer', '198.51.100.9', 1_200_000)],
    expect: {},
    chain: 'token-minted-then-new-ip',
  },
  {
    name: 'near miss: token minted, then used from the same IP',
    stream: [tokenFor('10.0.0.5'), secretGet('system:serviceaccount:ci:deployer', '10.0.0.5', 1_200_000)],
    expect: {},
    chain: null,
  },
  {
    name: 'chain: PodSecurity enforce lowered, then a privileged pod in that namespace',
    stream: [enforceLowered('payments'), privilegedPod('payments', 'miner', 300_000)],
    expect: {},
    chain: 'podsecurity-lowered-then-violating-pod',
  },
  {
    name: 'near miss: enforce lowered in one namespace, privileged pod in another',
    stream: [enforceLowered('payments'), privilegedPod('shop', 'miner', 300_000)],
    expect: {},
    chain: null,
  },
];
