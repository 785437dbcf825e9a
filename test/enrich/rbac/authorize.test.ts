import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSnapshot } from '../../../src/enrich/cluster-state/snapshot';
import { ClusterState } from '../../../src/enrich/cluster-state/state';
import { bindingsFor, can, whoCan } from '../../../src/enrich/rbac/authorize';
import type { AccessRequest } from '../../../src/enrich/rbac/rules';
import { subjectFor } from '../../../src/enrich/rbac/subject';

const rbac = 'rbac.authorization.k8s.io/v1';
const clusterRole = (name: string, rules: unknown[], extra: Record<string, unknown> = {}) => ({
  apiVersion: rbac,
  kind: 'ClusterRole',
  metadata: { name, ...((extra.labels ? { labels: extra.labels } : {}) as object) },
  rules,
  ...(extra.aggregationRule ? { aggregationRule: extra.aggregationRule } : {}),
});
const role = (namespace: string, name: string, rules: unknown[]) => ({ kind: 'Role', metadata: { name, namespace }, rules });
const crb = (name: string, roleName: string, subjects: unknown[]) => ({
  kind: 'ClusterRoleBinding',
  metadata: { name },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
  subjects,
});
const rb = (namespace: string, name: string, roleKind: string, roleName: string, subjects: unknown[]) => ({
  kind: 'RoleBinding',
  metadata: { name, namespace },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name: roleName },
  subjects,
});

function build(): ClusterState {
  const state = new ClusterState('test');
  for (const obj of [
    clusterRole('pod-reader', [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] }]),
    clusterRole('pod-exec', [{ verbs: ['create', 'get'], apiGroups: [''], resources: ['pods/exec'] }]),
    clusterRole('metrics', [{ verbs: ['get'], nonResourceURLs: ['/metrics', '/healthz/*'] }]),
    clusterRole('scaler', [{ verbs: ['update'], apiGroups: ['*'], resources: ['*/scale'] }]),
    clusterRole('one-secret', [{ verbs: ['get'], apiGroups: [''], resources: ['secrets'], resourceNames: ['db-pass'] }]),
    clusterRole('monitoring', [], {
      aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'rbac.example/aggregate-to-monitoring': 'true' } }] },
    }),
    clusterRole('node-reader', [{ verbs: ['get'], apiGroups: [''], resources: ['nodes'] }], {
      labels: { 'rbac.example/aggregate-to-monitoring': 'true' },
    }),
    role('shop', 'cm-editor', [{ verbs: ['update'], apiGroups: [''], resources: ['configmaps'] }]),
    crb('readers', 'pod-reader', [{ kind: 'Group', name: 'devs' }]),
    crb('metrics-all', 'metrics', [{ kind: 'Group', name: 'system:authenticated' }]),
    crb('sa-without-ns', 'pod-exec', [{ kind: 'ServiceAccount', name: 'nobody' }]),
    crb('scalers', 'scaler', [{ kind: 'User', name: 'scaler-bot' }]),
    crb('monitors', 'monitoring', [{ kind: 'User', name: 'prom' }]),
    crb('secret-one', 'one-secret', [{ kind: 'User', name: 'app' }]),
    rb('shop', 'shop-debuggers', 'ClusterRole', 'pod-exec', [{ kind: 'Group', name: 'devs' }]),
    rb('shop', 'cm', 'Role', 'cm-editor', [{ kind: 'ServiceAccount', name: 'deployer' }]),
    rb('shop', 'ci-deployer', 'Role', 'cm-editor', [{ kind: 'ServiceAccount', name: 'deployer', namespace: 'ci' }]),
    rb('shop', 'dangling', 'Role', 'not-there', [{ kind: 'User', name: 'ghost' }]),
    rb('shop', 'as-user', 'Role', 'cm-editor', [{ kind: 'User', name: 'system:serviceaccount:other:bot' }]),
  ]) {
    expect(state.upsert(obj)).toBe(true);
  }
  return state;
}

const state = build();
const alice = subjectFor('alice', ['devs']);
const bob = subjectFor('bob');

type Row = [string, ReturnType<typeof subjectFor>, AccessRequest, boolean, string | null];
const rows: Row[] = [
  [
    'ClusterRoleBinding applies in every namespace',
    alice,
    { verb: 'list', resource: 'pods', namespace: 'any' },
    true,
    'ClusterRoleBinding "readers" of ClusterRole "pod-reader" to Group "devs"',
  ],
  ['ClusterRoleBinding applies cluster-wide', alice, { verb: 'list', resource: 'pods' }, true, null],
  ['group membership is required', bob, { verb: 'list', resource: 'pods', namespace: 'shop' }, false, null],
  [
    'RoleBinding to a ClusterRole applies in its namespace',
    alice,
    { verb: 'create', resource: 'pods', subresource: 'exec', name: 'web', namespace: 'shop' },
    true,
    'RoleBinding "shop-debuggers/shop" of ClusterRole "pod-exec" to Group "devs"',
  ],
  [
    'RoleBinding to a ClusterRole does not apply elsewhere',
    alice,
    { verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'prod' },
    false,
    null,
  ],
  [
    'RoleBinding does not apply to cluster-scoped requests',
    alice,
    { verb: 'create', resource: 'pods', subresource: 'exec' },
    false,
    null,
  ],
  [
    'pods does not grant pods/exec',
    alice,
    { verb: 'get', resource: 'pods', subresource: 'exec', namespace: 'prod' },
    false,
    null,
  ],
  [
    'system:authenticated is implicit',
    bob,
    { verb: 'get', nonResourceURL: '/metrics' },
    true,
    'ClusterRoleBinding "metrics-all" of ClusterRole "metrics" to Group "system:authenticated"',
  ],
  ['non-resource prefix', bob, { verb: 'get', nonResourceURL: '/healthz/etcd' }, true, null],
  ['non-resource exact only', bob, { verb: 'get', nonResourceURL: '/metrics/x' }, false, null],
  ['anonymous is not authenticated', subjectFor('system:anonymous'), { verb: 'get', nonResourceURL: '/metrics' }, false, null],
  [
    '*/scale',
    subjectFor('scaler-bot'),
    { verb: 'update', apiGroup: 'apps', resource: 'deployments', subresource: 'scale', namespace: 'x' },
    true,
    null,
  ],
  [
    '*/scale not the parent',
    subjectFor('scaler-bot'),
    { verb: 'update', apiGroup: 'apps', resource: 'deployments', namespace: 'x' },
    false,
    null,
  ],
  [
    'aggregated ClusterRole gets the selected rules',
    subjectFor('prom'),
    { verb: 'get', resource: 'nodes', name: 'n1' },
    true,
    null,
  ],
  [
    'resourceNames: named request',
    subjectFor('app'),
    { verb: 'get', resource: 'secrets', name: 'db-pass', namespace: 'x' },
    true,
    null,
  ],
  [
    'resourceNames: other name',
    subjectFor('app'),
    { verb: 'get', resource: 'secrets', name: 'other', namespace: 'x' },
    false,
    null,
  ],
  ['resourceNames: unnamed request', subjectFor('app'), { verb: 'get', resource: 'secrets', namespace: 'x' }, false, null],
  [
    'SA subject without namespace defaults to the RoleBinding namespace',
    subjectFor('system:serviceaccount:shop:deployer'),
    { verb: 'update', resource: 'configmaps', namespace: 'shop' },
    true,
    'RoleBinding "cm/shop" of Role "cm-editor" to ServiceAccount "deployer/shop"',
  ],
  [
    'SA subject with namespace',
    subjectFor('system:serviceaccount:ci:deployer'),
    { verb: 'update', resource: 'configmaps', namespace: 'shop' },
    true,
    'RoleBinding "ci-deployer/shop" of Role "cm-editor" to ServiceAccount "deployer/ci"',
  ],
  [
    'SA subject without namespace in a ClusterRoleBinding applies to nobody',
    subjectFor('system:serviceaccount:default:nobody'),
    { verb: 'get', resource: 'pods', subresource: 'exec', namespace: 'default' },
    false,
    null,
  ],
  [
    'User subject spelled as SA user name matches the SA',
    subjectFor('system:serviceaccount:other:bot'),
    { verb: 'update', resource: 'configmaps', namespace: 'shop' },
    true,
    null,
  ],
  [
    'Role is looked up in the binding namespace only',
    subjectFor('system:serviceaccount:shop:deployer'),
    { verb: 'update', resource: 'configmaps', namespace: 'ci' },
    false,
    null,
  ],
  [
    'system:masters bypasses RBAC',
    subjectFor('root', ['system:masters']),
    { verb: 'delete', resource: 'nodes', name: 'n1' },
    true,
    null,
  ],
];

describe('can', () => {
  it.each(rows)('%s', (_name, subject, request, allowed, reason) => {
    const decision = can(state, subject, request);
    expect(decision.allowed).toBe(allowed);
    if (reason) expect(decision.reason).toBe(`RBAC: allowed by ${reason}`);
    if (!allowed) expect(decision.allowedBy).toBeUndefined();
  });

  it('names the binding, role and rule that allowed it', () => {
    const decision = can(state, alice, { verb: 'get', resource: 'pods', namespace: 'shop' });
    expect(decision.allowedBy).toEqual({
      binding: { kind: 'ClusterRoleBinding', name: 'readers' },
      role: { kind: 'ClusterRole', name: 'pod-reader' },
      via: { kind: 'Group', name: 'devs' },
      rule: { verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] },
    });
  });

  it('reports bindings whose role is missing instead of silently denying', () => {
    const decision = can(state, subjectFor('ghost'), { verb: 'get', resource: 'pods', namespace: 'shop' });
    expect(decision.allowed).toBe(false);
    expect(decision.unresolved).toEqual([{ kind: 'RoleBinding', name: 'dangling', namespace: 'shop' }]);
  });

  it('follows role changes (aggregation recomputed when a selected role changes)', () => {
    const s = build();
    const prom = subjectFor('prom');
    const req: AccessRequest = { verb: 'list', resource: 'services', namespace: 'x' };
    expect(can(s, prom, req).allowed).toBe(false);
    s.upsert(
      clusterRole('svc-reader', [{ verbs: ['list'], apiGroups: [''], resources: ['services'] }], {
        labels: { 'rbac.example/aggregate-to-monitoring': 'true' },
      }),
    );
    expect(can(s, prom, req).allowed).toBe(true);
    s.delete('ClusterRole', undefined, 'svc-reader');
    expect(can(s, prom, req).allowed).toBe(false);
  });

  it('follows binding deletion', () => {
    const s = build();
    expect(can(s, alice, { verb: 'list', resource: 'pods' }).allowed).toBe(true);
    s.delete('ClusterRoleBinding', undefined, 'readers');
    expect(can(s, alice, { verb: 'list', resource: 'pods' }).allowed).toBe(false);
  });
});

describe('bindingsFor', () => {
  it('lists every binding that applies, through the user and its groups, ClusterRoleBindings first', () => {
    const found = bindingsFor(state, alice).map(
      (b) => `${b.binding.kind}/${b.binding.namespace ?? ''}/${b.binding.name}:${b.scope}`,
    );
    expect(found).toEqual([
      'ClusterRoleBinding//metrics-all:cluster',
      'ClusterRoleBinding//readers:cluster',
      'RoleBinding/shop/shop-debuggers:shop',
    ]);
  });
});

describe('whoCan', () => {
  it('lists subjects allowed, with the binding and role, plus system:masters', () => {
    const entries = whoCan(state, { verb: 'get', resource: 'pods', subresource: 'exec', namespace: 'shop' });
    expect(
      entries.map((e) => `${e.subject.kind}:${e.subject.namespace ?? ''}:${e.subject.name}@${e.binding?.name ?? '-'}`),
    ).toEqual(['Group::system:masters@-', 'Group::devs@shop-debuggers']);
  });

  it('fills in the namespace of RoleBinding service accounts', () => {
    const entries = whoCan(state, { verb: 'update', resource: 'configmaps', namespace: 'shop' });
    expect(entries.map((e) => `${e.subject.kind}:${e.subject.namespace ?? ''}:${e.subject.name}`)).toEqual([
      'Group::system:masters',
      'User::system:serviceaccount:other:bot',
      'ServiceAccount:ci:deployer',
      'ServiceAccount:shop:deployer',
    ]);
  });
});

describe('agreement with the apiserver', () => {
  it("words the decision exactly as the sample audit event's authorization.k8s.io/reason", () => {
    const snapshot = loadSnapshot(join(__dirname, '../../fixtures/cluster/snapshot.json')).state;
    const sample = JSON.parse(readFileSync(join(__dirname, '../../../examples/events/audit-eventlist.json'), 'utf8')) as {
      items: {
        user: { username: string; groups: string[] };
        verb: string;
        objectRef: Record<string, string>;
        annotations: Record<string, string>;
      }[];
    };
    const checked = sample.items.filter((e) => e.objectRef.namespace === 'shop' && e.objectRef.resource === 'pods');
    expect(checked.length).toBeGreaterThan(0);
    for (const e of checked) {
      const decision = can(snapshot, subjectFor(e.user.username, e.user.groups), {
        verb: e.verb,
        apiGroup: e.objectRef.apiGroup ?? '',
        resource: e.objectRef.resource as string,
        ...(e.objectRef.subresource ? { subresource: e.objectRef.subresource } : {}),
        ...(e.objectRef.name && e.verb !== 'create' ? { name: e.objectRef.name } : {}),
        namespace: 'shop',
      });
      expect(decision.reason).toBe(e.annotations['authorization.k8s.io/reason']);
    }
  });
});
