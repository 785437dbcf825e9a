import { PROBES } from '../enrich/rbac/risky';
import type { Area } from './finding';

export interface FindingKind {
  id: string;
  area: Area;
  /** What it means, one sentence. */
  summary: string;
}

/** Every finding id Falconer's posture reports can produce (docs/posture.md explains each). */
export const FINDING_KINDS: readonly FindingKind[] = [
  {
    id: 'rbac.cluster-admin',
    area: 'rbac',
    summary: 'A subject holds * on * cluster-wide (cluster-admin or an equivalent role) through a ClusterRoleBinding.',
  },
  { id: 'rbac.namespace-admin', area: 'rbac', summary: 'A subject holds * on * inside one namespace through a RoleBinding.' },
  ...PROBES.map((p) => ({ id: `rbac.${p.id}`, area: 'rbac' as const, summary: `A subject can ${p.title}.` })),
  { id: 'rbac.wildcard-role', area: 'rbac', summary: 'A Role or ClusterRole uses * in verbs, resources or API groups.' },
  {
    id: 'rbac.binding-to-missing-serviceaccount',
    area: 'rbac',
    summary: 'A binding names a service account that does not exist; whoever creates it inherits the role.',
  },
  { id: 'rbac.binding-missing-role', area: 'rbac', summary: 'A binding references a role that does not exist.' },
  {
    id: 'rbac.unused-role',
    area: 'rbac',
    summary: 'A Role or ClusterRole that no binding references and no aggregated role selects.',
  },
  { id: 'rbac.default-serviceaccount-bound', area: 'rbac', summary: "A namespace's default service account is bound to a role." },
  { id: 'rbac.pod-can-read-secrets', area: 'rbac', summary: 'Pods run as a service account that can read secrets.' },
  {
    id: 'rbac.pod-can-create-workloads',
    area: 'rbac',
    summary: 'Pods run as a service account that can create pods or workloads.',
  },
  {
    id: 'pss.no-enforce',
    area: 'pss',
    summary: 'A namespace has no pod-security.kubernetes.io/enforce label, so its pods are not checked.',
  },
  {
    id: 'pss.enforce-can-be-raised',
    area: 'pss',
    summary: 'Every pod in the namespace meets a stricter level than the one enforced.',
  },
  {
    id: 'pss.invalid-label',
    area: 'pss',
    summary: 'A pod-security.kubernetes.io label has a value the admission controller does not accept.',
  },
  {
    id: 'pss.pod-violates-enforce',
    area: 'pss',
    summary: "Running pods violate their namespace's enforce level (admitted before the label, or exempt).",
  },
  {
    id: 'pss.pod-violates-audit',
    area: 'pss',
    summary: "Pods violate their namespace's audit level (the apiserver annotates the audit event).",
  },
  {
    id: 'pss.pod-violates-warn',
    area: 'pss',
    summary: "Pods violate their namespace's warn level (users get a warning on create).",
  },
  { id: 'network.no-default-deny-ingress', area: 'network', summary: 'A namespace has no default-deny ingress NetworkPolicy.' },
  { id: 'network.no-default-deny-egress', area: 'network', summary: 'A namespace has no default-deny egress NetworkPolicy.' },
  { id: 'network.pod-not-isolated', area: 'network', summary: 'Pods no NetworkPolicy selects in either direction.' },
];
