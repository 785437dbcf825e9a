import { ClusterState } from '../../../src/enrich/cluster-state/state';
import { resolveSubject } from '../../../src/enrich/rbac/resolve';
import { riskyPermissions } from '../../../src/enrich/rbac/risky';
import { subjectFor } from '../../../src/enrich/rbac/subject';

function stateWith(rules: unknown[], binding: 'cluster' | 'shop' | 'kube-system'): ClusterState {
  const state = new ClusterState('test');
  state.upsert({ kind: 'ClusterRole', metadata: { name: 'r' }, rules });
  const subjects = [{ kind: 'User', name: 'u' }];
  const roleRef = { kind: 'ClusterRole', name: 'r' };
  state.upsert(
    binding === 'cluster'
      ? { kind: 'ClusterRoleBinding', metadata: { name: 'b' }, roleRef, subjects }
      : { kind: 'RoleBinding', metadata: { name: 'b', namespace: binding }, roleRef, subjects },
  );
  return state;
}

const ids = (state: ClusterState) => riskyPermissions(state, subjectFor('u')).map((f) => `${f.id}:${f.severity}`);
const core = (verbs: string[], resources: string[], extra: object = {}) => ({ verbs, apiGroups: [''], resources, ...extra });
const group = (g: string, verbs: string[], resources: string[]) => ({ verbs, apiGroups: [g], resources });

// [name, rules, binding scope, expected id:severity list]
const cases: [string, unknown[], 'cluster' | 'shop' | 'kube-system', string[]][] = [
  ['* on * cluster-wide', [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], 'cluster', ['cluster-admin:critical']],
  ['* on * in one namespace', [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], 'shop', ['cluster-admin:high']],
  ['secrets list', [core(['list'], ['secrets'])], 'cluster', ['secrets-read:high']],
  ['one named secret is lower', [core(['get'], ['secrets'], { resourceNames: ['tls'] })], 'shop', ['secrets-read:medium']],
  ['create pods', [core(['create'], ['pods'])], 'shop', ['workload-create:high']],
  ['patch deployments', [group('apps', ['patch'], ['deployments'])], 'shop', ['workload-create:high']],
  ['get pods is not risky', [core(['get', 'list', 'watch'], ['pods'])], 'cluster', []],
  ['exec over websocket (get)', [core(['get'], ['pods/exec'])], 'shop', ['pods-exec:high']],
  ['attach', [core(['create'], ['pods/attach'])], 'shop', ['pods-attach:high']],
  ['ephemeral containers', [core(['patch'], ['pods/ephemeralcontainers'])], 'shop', ['ephemeral-containers:high']],
  ['nodes/proxy cluster-wide', [core(['get'], ['nodes/proxy'])], 'cluster', ['nodes-proxy:critical']],
  ['nodes/proxy through a RoleBinding has no effect', [core(['get'], ['nodes/proxy'])], 'shop', []],
  ['escalate', [group('rbac.authorization.k8s.io', ['escalate'], ['clusterroles'])], 'cluster', ['escalate:critical']],
  ['bind roles in a namespace', [group('rbac.authorization.k8s.io', ['bind'], ['roles'])], 'shop', ['bind:critical']],
  ['impersonate users', [core(['impersonate'], ['users'])], 'cluster', ['impersonate:critical']],
  ['impersonate service accounts in a namespace', [core(['impersonate'], ['serviceaccounts'])], 'shop', ['impersonate:critical']],
  ['token create', [core(['create'], ['serviceaccounts/token'])], 'shop', ['token-create:high']],
  [
    'csr approve needs approval and signer',
    [
      group('certificates.k8s.io', ['update'], ['certificatesigningrequests/approval']),
      group('certificates.k8s.io', ['approve'], ['signers']),
    ],
    'cluster',
    ['csr-approve:high'],
  ],
  ['csr approval alone', [group('certificates.k8s.io', ['update'], ['certificatesigningrequests/approval'])], 'cluster', []],
  [
    'webhook config write',
    [group('admissionregistration.k8s.io', ['create'], ['mutatingwebhookconfigurations'])],
    'cluster',
    ['webhook-config-write:critical'],
  ],
  [
    'create rolebindings',
    [group('rbac.authorization.k8s.io', ['create'], ['rolebindings'])],
    'shop',
    ['rolebinding-create:high'],
  ],
  [
    'aws-auth by name in kube-system',
    [core(['patch'], ['configmaps'], { resourceNames: ['aws-auth'] })],
    'kube-system',
    ['aws-auth-modify:critical'],
  ],
  ['configmaps elsewhere are not aws-auth', [core(['patch'], ['configmaps'])], 'shop', []],
  ['other named configmap is not aws-auth', [core(['patch'], ['configmaps'], { resourceNames: ['x'] })], 'cluster', []],
  [
    '*/token via wildcard subresource',
    [core(['create'], ['*'])],
    'shop',
    ['pods-attach:high', 'pods-exec:high', 'token-create:high', 'workload-create:high'],
  ],
];

describe('riskyPermissions', () => {
  it.each(cases)('%s', (_name, rules, scope, expected) => {
    expect(ids(stateWith(rules, scope)).sort()).toEqual([...expected].sort());
  });

  it('names the binding, role and scope, most severe first', () => {
    const state = stateWith([core(['get'], ['secrets']), core(['get'], ['nodes/proxy'])], 'cluster');
    const findings = riskyPermissions(state, subjectFor('u'));
    expect(findings.map((f) => f.id)).toEqual(['nodes-proxy', 'secrets-read']);
    expect(findings[0]).toMatchObject({
      scope: 'cluster',
      binding: { kind: 'ClusterRoleBinding', name: 'b' },
      role: { kind: 'ClusterRole', name: 'r' },
      grantedBy: 'ClusterRoleBinding "b" of ClusterRole "r" to User "u"',
    });
  });

  it('reports system:masters as cluster-admin', () => {
    const findings = riskyPermissions(new ClusterState('x'), subjectFor('root', ['system:masters']));
    expect(findings.map((f) => [f.id, f.severity])).toEqual([['cluster-admin', 'critical']]);
  });
});

describe('resolveSubject', () => {
  it('says unknown rather than "no bindings" when the cluster has no state', () => {
    const result = resolveSubject(new ClusterState('x'), { user: 'system:serviceaccount:ci:deployer' });
    expect(result).toMatchObject({ known: false, kind: 'serviceaccount', bindings: [], findings: [] });
    expect(result.groups).toContain('system:serviceaccounts:ci');
  });

  it('resolves a service account through its implicit groups', () => {
    const state = new ClusterState('x');
    state.upsert({ kind: 'ClusterRole', metadata: { name: 'edit' }, rules: [core(['create'], ['pods'])] });
    state.upsert({
      kind: 'RoleBinding',
      metadata: { name: 'all-sa', namespace: 'shop' },
      roleRef: { kind: 'ClusterRole', name: 'edit' },
      subjects: [{ kind: 'Group', name: 'system:serviceaccounts:ci' }],
    });
    const result = resolveSubject(state, { user: 'system:serviceaccount:ci:deployer', groups: [] });
    expect(result.known).toBe(true);
    expect(result.serviceAccount).toEqual({ namespace: 'ci', name: 'deployer' });
    expect(result.bindings).toEqual([
      {
        binding: { kind: 'RoleBinding', name: 'all-sa', namespace: 'shop' },
        role: { kind: 'ClusterRole', name: 'edit' },
        scope: 'shop',
        roleKnown: true,
        grantedBy: 'RoleBinding "all-sa/shop" of ClusterRole "edit" to Group "system:serviceaccounts:ci"',
      },
    ]);
    expect(result.findings.map((f) => `${f.id}@${f.scope}`)).toEqual(['workload-create@shop']);
  });
});
