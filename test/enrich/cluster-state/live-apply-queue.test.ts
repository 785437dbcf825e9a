import { ApplyQueue, shrinkToIdentity } from '../../../src/enrich/cluster-state/apply-queue';
import { ClusterState } from '../../../src/enrich/cluster-state';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

const rawPod = (name: string, rv: string): Record<string, unknown> => ({
  metadata: { name, namespace: 'ns', resourceVersion: rv, uid: `u-${name}`, labels: { app: name }, managedFields: [{}] },
  spec: { containers: [{ name: 'c', image: 'busybox', env: [{ name: 'A', value: 'b' }] }] },
  status: { phase: 'Running', podIP: '10.0.0.1' },
});

describe('ApplyQueue', () => {
  test('applies a bounded number of changes per event-loop turn, in order', async () => {
    const state = new ClusterState('c');
    const queue = new ApplyQueue(state, 4);
    for (let i = 0; i < 10; i++) queue.upsert('Pod', rawPod(`p${i}`, String(10 + i)));
    expect(state.size().pods).toBe(0);

    const seen: number[] = [];
    while (queue.pending() > 0) {
      await turn();
      seen.push(state.size().pods);
    }
    expect(seen).toEqual([4, 8, 10]);
  });

  test('deletes, and upserts then deletes of the same object, land in order', async () => {
    const state = new ClusterState('c');
    const queue = new ApplyQueue(state, 2);
    queue.upsert('Pod', rawPod('a', '10'));
    queue.upsert('Pod', rawPod('b', '11'));
    queue.delete('Pod', { metadata: { name: 'a', namespace: 'ns', resourceVersion: '12' } });
    queue.upsert('ClusterRole', { metadata: { name: 'view', resourceVersion: '13' }, rules: [] });
    queue.delete('ClusterRole', { metadata: { name: 'view', resourceVersion: '14' } });
    queue.delete('Pod', { metadata: {} }); // no name: ignored
    await queue.idle();
    expect([...state.all('Pod')].map((p) => p.metadata.name)).toEqual(['b']);
    expect(state.clusterRole('view')).toBeUndefined();
  });

  test('afterQueued runs once everything queued before it is applied', async () => {
    const state = new ClusterState('c');
    const queue = new ApplyQueue(state, 1);
    queue.upsert('Pod', rawPod('a', '10'));
    queue.upsert('Pod', rawPod('b', '11'));
    const countsAtMarker: number[] = [];
    queue.afterQueued(() => countsAtMarker.push(state.size().pods));
    queue.upsert('Pod', rawPod('c', '12'));
    await queue.idle();
    expect(countsAtMarker).toEqual([2]);
    expect(state.size().pods).toBe(3);
  });

  test('after an upsert the informer copy is cut to its identity; the state keeps its own slim copy', async () => {
    const state = new ClusterState('c');
    const queue = new ApplyQueue(state, 10);
    const raw = rawPod('a', '10');
    queue.upsert('Pod', raw);
    await queue.idle();
    expect(raw).toEqual({ metadata: { name: 'a', namespace: 'ns', resourceVersion: '10' } });
    expect(state.pod('ns', 'a')?.metadata.labels).toEqual({ app: 'a' });
    expect(state.pod('ns', 'a')?.status).toEqual({ phase: 'Running' });
  });

  test('close drops what is queued and ignores later changes', async () => {
    const state = new ClusterState('c');
    const queue = new ApplyQueue(state, 10);
    queue.upsert('Pod', rawPod('a', '10'));
    queue.close();
    queue.upsert('Pod', rawPod('b', '11'));
    await queue.idle();
    await turn();
    expect(state.isEmpty()).toBe(true);
  });
});

test.each([
  ['a namespaced object', rawPod('a', '7'), { metadata: { name: 'a', namespace: 'ns', resourceVersion: '7' } }],
  [
    'a cluster-scoped object',
    { kind: 'ClusterRole', metadata: { name: 'x', labels: {} }, rules: [] },
    { metadata: { name: 'x' } },
  ],
  ['an object without metadata', { kind: 'Pod', spec: {} }, {}],
])('shrinkToIdentity: %s', (_name, object, expected) => {
  shrinkToIdentity(object as Record<string, unknown>);
  expect(object).toEqual(expected);
});
