import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { ClusterState } from '../../../src/enrich/cluster-state/state';
import { loadSnapshot, parseDocuments, SnapshotError } from '../../../src/enrich/cluster-state/snapshot';
import { ClusterStates } from '../../../src/enrich/cluster-state/clusters';

const SNAPSHOT = join(__dirname, '../../fixtures/cluster/snapshot.json');

describe('loadSnapshot', () => {
  it('loads a kubectl List from a file, skipping kinds enrichment does not read', () => {
    const { state, loaded, skipped } = loadSnapshot(SNAPSHOT, 'prod');
    expect(state.cluster).toBe('prod');
    expect([loaded, skipped]).toEqual([15, 1]);
    expect(state.size()).toEqual({
      pods: 1,
      namespaces: 2,
      serviceAccounts: 1,
      roles: 0,
      clusterRoles: 5,
      roleBindings: 2,
      clusterRoleBindings: 2,
      networkPolicies: 2,
    });
  });

  it('keeps only what enrichment needs', () => {
    const { state } = loadSnapshot(SNAPSHOT);
    const pod = state.pod('shop', 'web-7c9f8d-abcde');
    expect(pod).toEqual({
      kind: 'Pod',
      metadata: {
        name: 'web-7c9f8d-abcde',
        namespace: 'shop',
        uid: 'p-1',
        resourceVersion: '120',
        labels: { app: 'web', tier: 'frontend' },
        annotations: { 'container.apparmor.security.beta.kubernetes.io/nginx': 'unconfined' },
        ownerReferences: [{ kind: 'ReplicaSet', name: 'web-7c9f8d' }],
      },
      spec: {
        serviceAccountName: 'default',
        nodeName: 'node-1',
        containers: [
          {
            name: 'nginx',
            image: 'nginx:1.27',
            securityContext: { runAsUser: 0 },
            ports: [{ containerPort: 8443, hostPort: 8443 }],
          },
        ],
        volumes: [
          { name: 'cfg', configMap: {} },
          { name: 'logs', hostPath: { path: '/var/log', type: 'Directory' } },
        ],
      },
      status: { phase: 'Running' },
    });
    expect(JSON.stringify(state.namespace('shop'))).not.toContain('managedFields');
    expect(state.namespace('shop')?.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('baseline');
  });

  it('accepts the text itself, typed lists, several JSON documents and multi-document YAML', () => {
    const pod = (name: string) => ({ metadata: { name, namespace: 'a' }, spec: {} });
    const typedList = JSON.stringify({ kind: 'PodList', items: [pod('p1'), pod('p2')] });
    expect(loadSnapshot(typedList).loaded).toBe(2);
    const stream = `${JSON.stringify({ kind: 'Pod', ...pod('p1') })}\n${JSON.stringify({ kind: 'Namespace', metadata: { name: 'a' } })}`;
    expect(loadSnapshot(stream).state.size().namespaces).toBe(1);
    const yaml = 'kind: Namespace\nmetadata:\n  name: a\n---\nkind: ServiceAccount\nmetadata:\n  name: s\n  namespace: a\n';
    expect(loadSnapshot(yaml).state.serviceAccount('a', 's')).toBeDefined();
    expect(parseDocuments('[{"kind":"Namespace"}]')).toEqual([[{ kind: 'Namespace' }]]);
  });

  it('fails clearly on a missing file and on garbage', () => {
    expect(() => loadSnapshot('/nonexistent/snapshot.json')).toThrow(SnapshotError);
    expect(() => loadSnapshot('{"kind": \n: : [')).toThrow(SnapshotError);
  });

  it('reloads by loading into a new state and swapping it in', () => {
    const states = new ClusterStates();
    states.get('prod').upsert({ kind: 'Namespace', metadata: { name: 'old' } });
    states.replace(loadSnapshot(readFileSync(SNAPSHOT, 'utf8'), 'prod').state);
    expect(states.get('prod').namespace('old')).toBeUndefined();
    expect(states.get('prod').namespace('shop')).toBeDefined();
    expect(states.peek('staging')).toBeUndefined();
    expect(states.get('staging').isEmpty()).toBe(true);
    expect(states.clusters()).toEqual(['prod', 'staging']);
  });
});

describe('ClusterState', () => {
  it('rejects objects without a name, or namespaced objects without a namespace', () => {
    const state = new ClusterState('c');
    expect(state.upsert({ kind: 'Pod', metadata: { namespace: 'a' } })).toBe(false);
    expect(state.upsert({ kind: 'Pod', metadata: { name: 'p' } })).toBe(false);
    expect(state.upsert({ kind: 'Secret', metadata: { name: 's', namespace: 'a' } })).toBe(false);
    expect(state.upsert('nope')).toBe(false);
    expect(state.isEmpty()).toBe(true);
  });

  it('replaces an object and re-indexes its subjects', () => {
    const state = new ClusterState('c');
    const binding = (subject: string) => ({
      kind: 'ClusterRoleBinding',
      metadata: { name: 'b' },
      roleRef: { kind: 'ClusterRole', name: 'r' },
      subjects: [{ kind: 'User', name: subject }],
    });
    state.upsert(binding('alice'));
    expect(state.bindingsFor('user:alice')).toHaveLength(1);
    state.upsert(binding('bob'));
    expect(state.bindingsFor('user:alice')).toHaveLength(0);
    expect(state.bindingsFor('user:bob')).toHaveLength(1);
    expect(state.size().clusterRoleBindings).toBe(1);
    expect(state.delete('ClusterRoleBinding', undefined, 'b')).toBe(true);
    expect(state.bindingsFor('user:bob')).toHaveLength(0);
    expect(state.delete('ClusterRoleBinding', undefined, 'b')).toBe(false);
  });

  it('ignores an older resourceVersion, also after a delete (audit batches arrive out of order)', () => {
    const state = new ClusterState('c');
    const ns = (rv: string, team: string) => ({
      kind: 'Namespace',
      metadata: { name: 'a', resourceVersion: rv, labels: { team } },
    });
    expect(state.upsert(ns('20', 'new'))).toBe(true);
    expect(state.upsert(ns('10', 'old'))).toBe(false);
    expect(state.namespace('a')?.metadata.labels).toEqual({ team: 'new' });
    state.delete('Namespace', undefined, 'a', '30');
    expect(state.upsert(ns('25', 'stale'))).toBe(false);
    expect(state.upsert(ns('31', 'recreated'))).toBe(true);
  });

  it('aggregates transitively and survives selector cycles', () => {
    const state = new ClusterState('c');
    const rule = (resource: string) => ({ verbs: ['get'], apiGroups: [''], resources: [resource] });
    state.upsert({
      kind: 'ClusterRole',
      metadata: { name: 'top', labels: { to: 'mid' } },
      aggregationRule: { clusterRoleSelectors: [{ matchLabels: { to: 'top' } }] },
      rules: [rule('a')],
    });
    state.upsert({
      kind: 'ClusterRole',
      metadata: { name: 'mid', labels: { to: 'top' } },
      aggregationRule: { clusterRoleSelectors: [{ matchExpressions: [{ key: 'to', operator: 'In', values: ['mid', 'top'] }] }] },
      rules: [],
    });
    state.upsert({ kind: 'ClusterRole', metadata: { name: 'leaf', labels: { to: 'mid' } }, rules: [rule('b'), rule('a')] });
    expect(state.clusterRoleRules('top')?.map((r) => r.resources?.[0])).toEqual(['a', 'b']);
    // mid selects leaf and top (a cycle back to itself): leaf's rules, then top's own.
    expect(state.clusterRoleRules('mid')?.map((r) => r.resources?.[0])).toEqual(['b', 'a']);
    expect(state.clusterRoleRules('leaf')?.map((r) => r.resources?.[0])).toEqual(['b', 'a']);
    expect(state.clusterRoleRules('missing')).toBeUndefined();
  });
});
