/**
 * The slice of each Kubernetes object that enrichment reads. Objects are kept as plain JSON of these
 * shapes (see slim.ts); everything else the apiserver sends is dropped on the way in.
 */

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface Meta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { kind: string; name: string }[];
  deletionTimestamp?: string;
}

export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface RoleRef {
  apiGroup?: string;
  kind: string;
  name: string;
}

export interface RbacSubject {
  kind: string;
  name: string;
  namespace?: string;
  apiGroup?: string;
}

export interface Pod {
  kind: 'Pod';
  metadata: Meta;
  /** The pod spec minus env, commands, mounts and resources (what pod security and alerts need). */
  spec: Record<string, unknown>;
  status?: { phase?: string };
}

export interface Namespace {
  kind: 'Namespace';
  metadata: Meta;
}

export interface ServiceAccount {
  kind: 'ServiceAccount';
  metadata: Meta;
  automountServiceAccountToken?: boolean;
}

export interface Role {
  kind: 'Role';
  metadata: Meta;
  rules: PolicyRule[];
}

export interface ClusterRole {
  kind: 'ClusterRole';
  metadata: Meta;
  rules: PolicyRule[];
  aggregationRule?: { clusterRoleSelectors: LabelSelector[] };
}

export interface RoleBinding {
  kind: 'RoleBinding';
  metadata: Meta;
  roleRef: RoleRef;
  subjects: RbacSubject[];
}

export interface ClusterRoleBinding {
  kind: 'ClusterRoleBinding';
  metadata: Meta;
  roleRef: RoleRef;
  subjects: RbacSubject[];
}

export interface NetworkPolicyPeerRule {
  /** `from` (ingress) or `to` (egress) peers; absent or empty means every peer. */
  peers?: unknown[];
  ports?: unknown[];
}

export interface NetworkPolicy {
  kind: 'NetworkPolicy';
  metadata: Meta;
  spec: {
    podSelector: LabelSelector;
    /** As sent: may be absent for objects that were never defaulted (audit requestObjects). */
    policyTypes?: string[];
    ingress?: { from?: unknown[]; ports?: unknown[] }[];
    egress?: { to?: unknown[]; ports?: unknown[] }[];
  };
}

export type Binding = RoleBinding | ClusterRoleBinding;

export type StateObject =
  Pod | Namespace | ServiceAccount | Role | ClusterRole | RoleBinding | ClusterRoleBinding | NetworkPolicy;

export type StateKind = StateObject['kind'];

export const STATE_KINDS: readonly StateKind[] = [
  'Pod',
  'Namespace',
  'ServiceAccount',
  'Role',
  'ClusterRole',
  'RoleBinding',
  'ClusterRoleBinding',
  'NetworkPolicy',
];

export const CLUSTER_SCOPED_KINDS: ReadonlySet<StateKind> = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);

export function isStateKind(kind: unknown): kind is StateKind {
  return typeof kind === 'string' && (STATE_KINDS as readonly string[]).includes(kind);
}
