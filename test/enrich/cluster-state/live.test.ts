import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterState, watchCluster, type ClusterWatch, type WatchClusterOptions } from '../../../src/enrich/cluster-state';
import { KubeCredentialsError, loadKubeConfig } from '../../../src/enrich/cluster-state/kube-credentials';
import { KubeApiServer, type GoneStyle, type KubeObject } from '../../support/kube-api-server';

// The client library runs on real timers and sockets, so these tests poll real time with a deadline.
async function eventually(assertion: () => void, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      assertion();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
  }
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const pod = (namespace: string, name: string, labels: Record<string, string> = {}): KubeObject => ({
  kind: 'Pod',
  apiVersion: 'v1',
  metadata: { name, namespace, uid: `uid-${namespace}-${name}`, labels },
  spec: { serviceAccountName: 'default', containers: [{ name: 'app', image: 'nginx', env: [{ name: 'SECRET', value: 'x' }] }] },
  status: { phase: 'Running' },
});

const FIXTURES: KubeObject[] = [
  { kind: 'Namespace', metadata: { name: 'shop', labels: { 'pod-security.kubernetes.io/enforce': 'baseline' } } },
  pod('shop', 'web-1', { app: 'web' }),
  pod('shop', 'web-2', { app: 'web' }),
  pod('shop', 'db-0', { app: 'db' }),
  { kind: 'ServiceAccount', metadata: { name: 'deployer', namespace: 'shop' }, automountServiceAccountToken: false },
  {
    kind: 'Role',
    metadata: { name: 'secret-reader', namespace: 'shop' },
    rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }],
  },
  {
    kind: 'ClusterRole',
    metadata: { name: 'pod-exec' },
    rules: [{ apiGroups: [''], resources: ['pods/exec'], verbs: ['create'] }],
  },
  {
    kind: 'RoleBinding',
    metadata: { name: 'deployer-secrets', namespace: 'shop' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'secret-reader' },
    subjects: [{ kind: 'ServiceAccount', name: 'deployer', namespace: 'shop' }],
  },
  {
    kind: 'ClusterRoleBinding',
    metadata: { name: 'oncall-exec' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'pod-exec' },
    subjects: [{ kind: 'Group', name: 'oncall', apiGroup: 'rbac.authorization.k8s.io' }],
  },
  {
    kind: 'NetworkPolicy',
    metadata: { name: 'default-deny', namespace: 'shop' },
    spec: { podSelector: {}, policyTypes: ['Ingress'] },
  },
];

const FAST_RETRY: WatchClusterOptions['retry'] = { initialMs: 20, maxMs: 100 };

describe('watchCluster against a list/watch API server', () => {
  let server: KubeApiServer;
  let state: ClusterState;
  let watch: ClusterWatch | undefined;
  let errors: { kind: string; error: unknown }[];

  beforeEach(async () => {
    server = await new KubeApiServer().start();
    for (const object of FIXTURES) server.apply(object);
    state = new ClusterState('test');
    errors = [];
  });

  afterEach(async () => {
    await watch?.stop();
    watch = undefined;
    await server.close();
  });

  async function start(options: WatchClusterOptions = {}): Promise<ClusterWatch> {
    watch = await watchCluster(state, {
      credentials: { from: 'kubeconfig', kubeConfig: server.kubeConfig() },
      retry: FAST_RETRY,
      onError: (kind, error) => errors.push({ kind, error }),
      ...options,
    });
    return watch;
  }

  /** Synced, and every kind's watch is open (so changes from here on arrive as events). */
  async function startWatching(options: WatchClusterOptions = {}): Promise<ClusterWatch> {
    const w = await start(options);
    await within(w.synced(), 3_000, 'initial sync');
    await eventually(() => expect(server.openWatches()).toBe(8));
    return w;
  }

  test('the initial list fills every kind, paged, and synced() resolves after it is applied', async () => {
    const w = await start({ pageSize: 2 });
    expect(w.isSynced()).toBe(false);
    await within(w.synced(), 3_000, 'initial sync');

    expect(w.isSynced()).toBe(true);
    expect(state.size()).toEqual({
      pods: 3,
      namespaces: 1,
      serviceAccounts: 1,
      roles: 1,
      clusterRoles: 1,
      roleBindings: 1,
      clusterRoleBindings: 1,
      networkPolicies: 1,
    });
    // Slimmed on the way in: the env var is gone, the rest of the spec kept.
    const web = state.pod('shop', 'web-1');
    expect(web?.metadata.labels).toEqual({ app: 'web' });
    expect(JSON.stringify(web)).not.toContain('SECRET');
    expect(state.namespace('shop')?.metadata.labels).toEqual({ 'pod-security.kubernetes.io/enforce': 'baseline' });
    expect(state.bindingsFor('group:oncall').map((b) => b.metadata.name)).toEqual(['oncall-exec']);
    expect(state.bindingsFor('user:system:serviceaccount:shop:deployer').map((b) => b.metadata.name)).toEqual([
      'deployer-secrets',
    ]);
    // 3 pods at 2 a page: two pages, the second fetched with the first one's continue token.
    const podLists = server.requestsFor('Pod', 'list');
    expect(podLists).toHaveLength(2);
    expect(podLists[0]).toMatchObject({ limit: 2 });
    expect(podLists[1]?.continue).toMatch(/^snap-/);
    expect(w.status().every((s) => s.synced && s.lists === 1 && s.errors === 0)).toBe(true);
  });

  test('watch events add, modify and delete objects', async () => {
    await startWatching();

    server.apply(pod('shop', 'web-3', { app: 'web' }));
    await eventually(() => expect(state.pod('shop', 'web-3')).toBeDefined());

    server.apply(pod('shop', 'web-3', { app: 'web', tier: 'frontend' }));
    await eventually(() => expect(state.pod('shop', 'web-3')?.metadata.labels).toEqual({ app: 'web', tier: 'frontend' }));

    server.remove('Pod', 'shop', 'web-3');
    await eventually(() => expect(state.pod('shop', 'web-3')).toBeUndefined());

    // Cluster-scoped kinds too, and the indexes follow.
    server.remove('ClusterRoleBinding', undefined, 'oncall-exec');
    await eventually(() => expect(state.bindingsFor('group:oncall')).toEqual([]));
    expect(server.requestsFor('Pod', 'list')).toHaveLength(1);
  });

  test.each<['abrupt' | 'end']>([['abrupt'], ['end']])(
    'a watch dropped (%s) resumes from the last resourceVersion without losing events or re-listing',
    async (how) => {
      await startWatching();
      const seenBefore = server.apply(pod('shop', 'seen-live'));
      await eventually(() => expect(state.pod('shop', 'seen-live')).toBeDefined());

      // Changes the open watches never deliver: the client can only learn them by resuming correctly.
      server.muteOpenWatches();
      server.apply(pod('shop', 'missed-add'));
      server.apply(pod('shop', 'web-1', { app: 'web', version: '2' }));
      server.remove('Pod', 'shop', 'db-0');
      server.dropWatches(how);

      await eventually(() => {
        expect(state.pod('shop', 'missed-add')).toBeDefined();
        expect(state.pod('shop', 'web-1')?.metadata.labels).toEqual({ app: 'web', version: '2' });
        expect(state.pod('shop', 'db-0')).toBeUndefined();
      });
      const podWatches = server.requestsFor('Pod', 'watch');
      expect(podWatches.at(-1)?.resourceVersion).toBe(seenBefore);
      expect(server.requestsFor('Pod', 'list')).toHaveLength(1);
    },
  );

  test.each<[GoneStyle]>([['error-event'], ['http-410']])(
    'a watch refused with 410 Gone (%s) re-lists and the state converges, deletions included',
    async (goneStyle) => {
      server.goneStyle = goneStyle;
      const w = await startWatching();

      server.muteOpenWatches();
      server.remove('Pod', 'shop', 'web-2');
      server.remove('Role', 'shop', 'secret-reader');
      server.remove('ClusterRoleBinding', undefined, 'oncall-exec');
      server.apply(pod('shop', 'after-gap'));
      server.compact();
      server.dropWatches('end');

      await eventually(() => {
        expect(state.pod('shop', 'web-2')).toBeUndefined();
        expect(state.role('shop', 'secret-reader')).toBeUndefined();
        expect(state.bindingsFor('group:oncall')).toEqual([]);
        expect(state.pod('shop', 'after-gap')).toBeDefined();
      });
      expect(state.pod('shop', 'web-1')).toBeDefined();
      const pods = w.status().find((s) => s.kind === 'Pod');
      expect(pods?.lists).toBe(2);
      expect(server.requestsFor('Pod', 'list')).toHaveLength(2);
      // And it watches again from the new list.
      await eventually(() => expect(server.openWatches('Pod')).toBe(1));
      server.apply(pod('shop', 'after-relist'));
      await eventually(() => expect(state.pod('shop', 'after-relist')).toBeDefined());
    },
  );

  test('a failing list is retried with backoff and reported', async () => {
    server.failLists = 3;
    const w = await start({ kinds: ['Pod'] });
    await within(w.synced(), 3_000, 'sync after list failures');
    expect(state.size().pods).toBe(3);
    expect(errors.map((e) => e.kind)).toEqual(['Pod', 'Pod', 'Pod']);
    expect(w.status()).toEqual([
      expect.objectContaining({ kind: 'Pod', synced: true, lists: 1, errors: 3, lastError: expect.stringContaining('500') }),
    ]);
  });

  test('wrong credentials never sync and say why', async () => {
    const w = await start({ credentials: { from: 'kubeconfig', kubeConfig: server.kubeConfig('wrong') }, kinds: ['Namespace'] });
    await eventually(() => expect(errors.length).toBeGreaterThanOrEqual(2));
    expect(w.isSynced()).toBe(false);
    expect(String(errors[0]?.error)).toContain('401');
    expect(state.isEmpty()).toBe(true);
  });

  test('a watch that closes as soon as it opens is cut into backoff, not a busy loop', async () => {
    const w = await start({ kinds: ['Namespace'], retry: { initialMs: 1_000, maxMs: 2_000 } });
    await within(w.synced(), 3_000, 'initial sync');
    const watchRequests = () => server.requestsFor('Namespace', 'watch').length;
    const before = watchRequests();
    server.closeWatchesAtOnce = true;
    server.dropWatches('end');

    // The guard trips on the 11th connect within a second...
    await eventually(() => expect(errors.map((e) => String(e.error))).toContainEqual(expect.stringContaining('keeps closing')));
    const atTrip = watchRequests();
    expect(atTrip - before).toBeGreaterThanOrEqual(9);
    // ...and then backs off (at least 500 ms): only the connection already on its way goes out.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(watchRequests() - atTrip).toBeLessThanOrEqual(1);

    // Once the server behaves, the watch resumes from where it was, without a re-list.
    server.closeWatchesAtOnce = false;
    server.apply({ kind: 'Namespace', metadata: { name: 'late' } });
    await eventually(() => expect(state.namespace('late')).toBeDefined());
    expect(server.requestsFor('Namespace', 'list')).toHaveLength(1);
  });

  test('credentials failing when a watch reconnects are reported and retried, not thrown', async () => {
    const kubeConfig = server.kubeConfig();
    const apply = kubeConfig.applyToFetchOptions.bind(kubeConfig);
    let broken = false;
    kubeConfig.applyToFetchOptions = async (opts) => {
      if (broken) throw new Error('exec plugin failed');
      return apply(opts);
    };
    const w = await start({ credentials: { from: 'kubeconfig', kubeConfig }, kinds: ['Namespace'] });
    await within(w.synced(), 3_000, 'initial sync');
    await eventually(() => expect(server.openWatches()).toBe(1));

    broken = true;
    server.muteOpenWatches();
    server.apply({ kind: 'Namespace', metadata: { name: 'during-outage' } });
    server.dropWatches('end');
    await eventually(() => expect(errors.map((e) => String(e.error))).toContain('Error: exec plugin failed'));

    broken = false;
    await eventually(() => expect(state.namespace('during-outage')).toBeDefined());
    expect(server.requestsFor('Namespace', 'list')).toHaveLength(1);
  });

  test('stop() closes every watch and later changes are not applied', async () => {
    const w = await startWatching();
    await w.stop();
    await eventually(() => expect(server.openWatches()).toBe(0));
    server.apply(pod('shop', 'after-stop'));
    server.remove('Pod', 'shop', 'web-1');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(state.pod('shop', 'after-stop')).toBeUndefined();
    expect(state.pod('shop', 'web-1')).toBeDefined();
    expect(errors).toEqual([]);
  });

  test('credentials from a kubeconfig file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'falconer-kubeconfig-'));
    const path = join(dir, 'config');
    writeFileSync(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: fake, cluster: {server: "' + server.url + '", insecure-skip-tls-verify: true}}]',
        'users: [{name: falconer, user: {token: ' + server.token + '}}]',
        'contexts: [{name: other, context: {cluster: fake, user: nobody}}, {name: fake, context: {cluster: fake, user: falconer}}]',
        'current-context: other',
      ].join('\n'),
    );
    const w = await start({ credentials: { from: 'file', path, context: 'fake' }, kinds: ['Namespace'] });
    await within(w.synced(), 3_000, 'sync from kubeconfig file');
    expect(state.namespace('shop')).toBeDefined();
  });
});

describe('loadKubeConfig', () => {
  test.each([
    ['a missing file', { from: 'file' as const, path: '/nonexistent/kubeconfig' }, /cannot load/],
    ['in-cluster outside a pod', { from: 'in-cluster' as const }, /KUBERNETES_SERVICE_HOST/],
  ])('%s is a KubeCredentialsError', async (_name, source, message) => {
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    delete process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_PORT;
    try {
      await expect(loadKubeConfig(source)).rejects.toThrow(KubeCredentialsError);
      await expect(loadKubeConfig(source)).rejects.toThrow(message);
    } finally {
      if (saved.host !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.host;
      if (saved.port !== undefined) process.env.KUBERNETES_SERVICE_PORT = saved.port;
    }
  });
});
