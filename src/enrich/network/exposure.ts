import { selectorMatches, selectsEverything } from '../cluster-state/label-selector';
import type { ClusterState } from '../cluster-state/state';
import type { NetworkPolicy } from '../cluster-state/types';
import { effectivePolicyTypes, type PolicyType } from './policy-types';

export interface DirectionExposure {
  /** A policy selects the pod for this direction: only what the policies allow gets through. */
  isolated: boolean;
  /** Names of the policies that select the pod for this direction, sorted. */
  policies: string[];
  /** The namespace has a `podSelector: {}` policy of this type with no rules. */
  defaultDeny: boolean;
  /** Isolated, yet some selecting policy has a rule with no peers (so any peer, on its ports). */
  anyPeerAllowed: boolean;
}

export interface NetworkExposure {
  /** False when the state holds nothing about this cluster: "not isolated" would be a guess. */
  known: boolean;
  namespace: string;
  ingress: DirectionExposure;
  egress: DirectionExposure;
  /** NetworkPolicy is a lower bound: CNI-specific and admin policies may restrict more. */
  note: string;
}

const NOTE = 'Kubernetes NetworkPolicy only; Cilium, Calico or AdminNetworkPolicy rules may restrict further';

/**
 * How exposed a pod with these labels in this namespace is, by NetworkPolicy: isolated per direction
 * when a policy in its own namespace selects it and has that type; allowed traffic is the union of
 * those policies' rules.
 */
export function networkExposure(
  state: ClusterState,
  namespace: string,
  podLabels: Record<string, string> | undefined,
): NetworkExposure {
  const policies = [...state.networkPolicies(namespace)].sort((a, b) =>
    a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0,
  );
  return {
    known: !state.isEmpty(),
    namespace,
    ingress: direction(policies, podLabels, 'Ingress'),
    egress: direction(policies, podLabels, 'Egress'),
    note: NOTE,
  };
}

function direction(
  policies: NetworkPolicy[],
  podLabels: Record<string, string> | undefined,
  type: PolicyType,
): DirectionExposure {
  const selecting: string[] = [];
  let defaultDeny = false;
  let anyPeerAllowed = false;
  for (const policy of policies) {
    if (!effectivePolicyTypes(policy).includes(type)) continue;
    const rules = rulesFor(policy, type);
    if (selectsEverything(policy.spec.podSelector) && rules.length === 0) defaultDeny = true;
    if (!selectorMatches(policy.spec.podSelector, podLabels)) continue;
    selecting.push(policy.metadata.name);
    if (rules.some((r) => (r.peers ?? []).length === 0)) anyPeerAllowed = true;
  }
  return { isolated: selecting.length > 0, policies: selecting, defaultDeny, anyPeerAllowed };
}

function rulesFor(policy: NetworkPolicy, type: PolicyType): { peers?: unknown[] }[] {
  return type === 'Ingress'
    ? (policy.spec.ingress ?? []).map((r) => (r.from ? { peers: r.from } : {}))
    : (policy.spec.egress ?? []).map((r) => (r.to ? { peers: r.to } : {}));
}
