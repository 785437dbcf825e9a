import { ClusterState } from '../../../src/enrich/cluster-state/state';
import { networkExposure } from '../../../src/enrich/network/exposure';
import { effectivePolicyTypes } from '../../../src/enrich/network/policy-types';
import type { NetworkPolicy } from '../../../src/enrich/cluster-state/types';

const policy = (name: string, spec: Record<string, unknown>, namespace = 'shop') => ({
  kind: 'NetworkPolicy',
  metadata: { name, namespace },
  spec: { podSelector: {}, ...spec },
});

describe('effectivePolicyTypes', () => {
  const np = (spec: Record<string, unknown>) => policy('p', spec) as unknown as NetworkPolicy;
  it.each([
    ['omitted, no egress rules → Ingress', {}, ['Ingress']],
    ['omitted, empty egress list → Ingress', { egress: [] }, ['Ingress']],
    ['omitted, egress rules → Ingress and Egress', { egress: [{ to: [] }] }, ['Ingress', 'Egress']],
    ['empty list counts as omitted', { policyTypes: [], egress: [{}] }, ['Ingress', 'Egress']],
    ['explicit Egress only', { policyTypes: ['Egress'], ingress: [{}] }, ['Egress']],
  ])('%s', (_name, spec, expected) => {
    expect(effectivePolicyTypes(np(spec))).toEqual(expected);
  });
});

function stateWith(...policies: unknown[]): ClusterState {
  const state = new ClusterState('c');
  state.upsert({ kind: 'Namespace', metadata: { name: 'shop' } });
  for (const p of policies) expect(state.upsert(p)).toBe(true);
  return state;
}

const web = { app: 'web' };

describe('networkExposure', () => {
  it('a pod with no policies is not isolated', () => {
    const result = networkExposure(stateWith(), 'shop', web);
    expect(result.known).toBe(true);
    expect(result.ingress).toEqual({ isolated: false, policies: [], defaultDeny: false, anyPeerAllowed: false });
    expect(result.egress.isolated).toBe(false);
  });

  it('default deny ingress isolates every pod for ingress only', () => {
    const result = networkExposure(stateWith(policy('deny', { policyTypes: ['Ingress'] })), 'shop', web);
    expect(result.ingress).toEqual({ isolated: true, policies: ['deny'], defaultDeny: true, anyPeerAllowed: false });
    expect(result.egress).toEqual({ isolated: false, policies: [], defaultDeny: false, anyPeerAllowed: false });
  });

  it('an audit requestObject without policyTypes but with egress rules isolates both ways', () => {
    const result = networkExposure(
      stateWith(policy('p', { podSelector: { matchLabels: web }, egress: [{ to: [{ podSelector: {} }] }] })),
      'shop',
      web,
    );
    expect(result.ingress.isolated).toBe(true);
    expect(result.egress.isolated).toBe(true);
    expect(result.ingress.defaultDeny).toBe(false);
  });

  it('without policyTypes and without egress rules it is ingress only', () => {
    const result = networkExposure(stateWith(policy('p', {})), 'shop', web);
    expect([result.ingress.isolated, result.egress.isolated]).toEqual([true, false]);
    expect(result.ingress.defaultDeny).toBe(true);
  });

  it('an allow-all rule is not a default deny, and is flagged', () => {
    const result = networkExposure(stateWith(policy('allow-all', { policyTypes: ['Ingress'], ingress: [{}] })), 'shop', web);
    expect(result.ingress).toEqual({ isolated: true, policies: ['allow-all'], defaultDeny: false, anyPeerAllowed: true });
  });

  it('only policies whose selector matches the pod select it; default deny is reported for the namespace', () => {
    const state = stateWith(
      policy('z-deny-egress', { policyTypes: ['Egress'] }),
      policy('db-only', {
        podSelector: { matchLabels: { app: 'db' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: {} }] }],
      }),
      policy('web-in', {
        podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] },
        ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }],
      }),
    );
    const result = networkExposure(state, 'shop', web);
    expect(result.ingress).toEqual({ isolated: true, policies: ['web-in'], defaultDeny: false, anyPeerAllowed: false });
    expect(result.egress).toEqual({ isolated: true, policies: ['z-deny-egress'], defaultDeny: true, anyPeerAllowed: false });
  });

  it('policies in other namespaces never select the pod', () => {
    const result = networkExposure(stateWith(policy('deny', {}, 'other')), 'shop', web);
    expect(result.ingress.isolated).toBe(false);
  });

  it('follows policy deletion', () => {
    const state = stateWith(policy('deny', {}));
    state.delete('NetworkPolicy', 'shop', 'deny');
    expect(networkExposure(state, 'shop', web).ingress.isolated).toBe(false);
  });

  it('says unknown when the cluster has no state', () => {
    expect(networkExposure(new ClusterState('c'), 'shop', web).known).toBe(false);
  });
});
