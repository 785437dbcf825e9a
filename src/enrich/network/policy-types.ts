import type { NetworkPolicy } from '../cluster-state/types';

export type PolicyType = 'Ingress' | 'Egress';

/**
 * The policyTypes the apiserver would store. When none are given it defaults to Ingress, plus Egress
 * only when the policy has egress rules; audit requestObjects reach us before that defaulting.
 */
export function effectivePolicyTypes(policy: NetworkPolicy): PolicyType[] {
  const given = policy.spec.policyTypes ?? [];
  if (given.length > 0) return given.filter((t): t is PolicyType => t === 'Ingress' || t === 'Egress');
  return (policy.spec.egress ?? []).length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
}
