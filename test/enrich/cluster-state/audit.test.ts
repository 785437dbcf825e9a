import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyAuditEvent } from '../../../src/enrich/cluster-state/audit';
import { ClusterState } from '../../../src/enrich/cluster-state/state';
import { can } from '../../../src/enrich/rbac/authorize';
import { subjectFor } from '../../../src/enrich/rbac/subject';

const sample = JSON.parse(readFileSync(join(__dirname, '../../../examples/events/audit-eventlist.json'), 'utf8')) as {
  items: unknown[];
};

function event(over: Record<string, unknown>): Record<string, unknown> {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: 'x',
    stage: 'ResponseComplete',
    verb: 'create',
    responseStatus: { code: 201 },
    ...over,
  };
}

const npRef = { resource: 'networkpolicies', apiGroup: 'networking.k8s.io', namespace: 'shop', name: 'deny' };
const np = { kind: 'NetworkPolicy', metadata: { name: 'deny', namespace: 'shop' }, spec: { podSelector: {} } };

describe('applyAuditEvent', () => {
  it('builds state from the sample EventList: the ClusterRoleBinding and the created pod', () => {
    const state = new ClusterState('c');
    const results = sample.items.map((e) => applyAuditEvent(state, e));
    expect(results.map((r) => r.applied)).toEqual([false, 'upsert', 'upsert']);
    expect(state.get('ClusterRoleBinding', undefined, 'pwn')).toMatchObject({
      roleRef: { kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'dev' }],
    });
    expect(state.pod('shop', 'debug-tools')?.spec).toMatchObject({ hostPID: true });
    state.upsert({
      kind: 'ClusterRole',
      metadata: { name: 'cluster-admin' },
      rules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
    });
    expect(can(state, subjectFor('system:serviceaccount:dev:default'), { verb: 'get', resource: 'secrets' }).allowed).toBe(true);
  });

  it.each([
    ['a failed request', { responseStatus: { code: 403 }, requestObject: np }, 'not successful'],
    ['a ResponseStarted stage', { stage: 'ResponseStarted', requestObject: np }, 'not ResponseComplete'],
    ['a kind not kept', { objectRef: { resource: 'secrets', namespace: 'a', name: 's' }, requestObject: {} }, 'kind not kept'],
    [
      'the right resource in the wrong group',
      { objectRef: { ...npRef, apiGroup: 'extensions' }, requestObject: np },
      'kind not kept',
    ],
    [
      'a partial patch body',
      { verb: 'patch', requestObject: { spec: { podSelector: { matchLabels: { a: 'b' } } } } },
      'no usable object',
    ],
    ['a get', { verb: 'get', responseObject: np }, 'verb get not applied'],
  ])('skips %s', (_name, over, reason) => {
    const state = new ClusterState('c');
    const result = applyAuditEvent(state, event({ objectRef: npRef, ...over }));
    expect(result).toEqual({ applied: false, reason });
    expect(state.isEmpty()).toBe(true);
  });

  it('prefers the responseObject of a patch, and takes the namespace from objectRef for request objects', () => {
    const state = new ClusterState('c');
    const requestOnly = { kind: 'NetworkPolicy', metadata: { name: 'deny' }, spec: { podSelector: {} } };
    expect(applyAuditEvent(state, event({ objectRef: npRef, requestObject: requestOnly })).applied).toBe('upsert');
    const patched = {
      ...np,
      metadata: { ...np.metadata, resourceVersion: '7' },
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    };
    applyAuditEvent(state, event({ verb: 'patch', objectRef: npRef, requestObject: { spec: {} }, responseObject: patched }));
    expect(state.get('NetworkPolicy', 'shop', 'deny')).toMatchObject({ spec: { policyTypes: ['Ingress', 'Egress'] } });
  });

  it('uses a subresource write only through the full responseObject (pods/status keeps the phase)', () => {
    const state = new ClusterState('c');
    const podRef = { resource: 'pods', namespace: 'shop', name: 'p', subresource: 'status' };
    const pod = { kind: 'Pod', metadata: { name: 'p', namespace: 'shop' }, spec: {}, status: { phase: 'Running' } };
    expect(applyAuditEvent(state, event({ verb: 'update', objectRef: podRef, requestObject: pod })).applied).toBe(false);
    expect(applyAuditEvent(state, event({ verb: 'update', objectRef: podRef, responseObject: pod })).applied).toBe('upsert');
    expect(state.pod('shop', 'p')?.status).toEqual({ phase: 'Running' });
  });

  it('deletes on a successful delete, even at Metadata level', () => {
    const state = new ClusterState('c');
    state.upsert(np);
    const del = event({ level: 'Metadata', verb: 'delete', objectRef: npRef, responseStatus: { code: 200 } });
    expect(applyAuditEvent(state, del)).toEqual({ applied: 'delete', kind: 'NetworkPolicy', namespace: 'shop', name: 'deny' });
    expect(state.get('NetworkPolicy', 'shop', 'deny')).toBeUndefined();
  });

  it('handles namespaces, whose objectRef carries their own name as namespace', () => {
    const state = new ClusterState('c');
    const ref = { resource: 'namespaces', namespace: 'team-a', name: 'team-a' };
    const ns = {
      kind: 'Namespace',
      metadata: { name: 'team-a', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    };
    expect(applyAuditEvent(state, event({ objectRef: ref, requestObject: ns }))).toEqual({
      applied: 'upsert',
      kind: 'Namespace',
      name: 'team-a',
    });
    expect(state.namespace('team-a')?.metadata.labels).toEqual({ 'pod-security.kubernetes.io/enforce': 'restricted' });
    applyAuditEvent(state, event({ level: 'Metadata', verb: 'delete', objectRef: ref, responseStatus: { code: 200 } }));
    expect(state.namespace('team-a')).toBeUndefined();
  });

  it('does not delete on a failed delete or a delete of a subresource', () => {
    const state = new ClusterState('c');
    state.upsert(np);
    applyAuditEvent(state, event({ verb: 'delete', objectRef: npRef, responseStatus: { code: 404 } }));
    applyAuditEvent(
      state,
      event({ verb: 'delete', objectRef: { ...npRef, subresource: 'status' }, responseStatus: { code: 200 } }),
    );
    expect(state.get('NetworkPolicy', 'shop', 'deny')).toBeDefined();
  });

  it('ignores malformed events without throwing', () => {
    const state = new ClusterState('c');
    for (const bad of [null, 42, 'x', [], { objectRef: 'x' }, event({ objectRef: npRef, responseStatus: 'ok' })]) {
      expect(applyAuditEvent(state, bad).applied).toBe(false);
    }
  });
});
