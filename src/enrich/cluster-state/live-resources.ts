import type { StateKind } from './types';

/** One collection the live source lists and watches across all namespaces. */
export interface LiveResource {
  /** A kind ClusterState keeps, or (with `finding`) the kind of a report read into its findings. */
  kind: StateKind | (string & {});
  /** The cluster-wide collection path, appended to the server URL. */
  path: string;
  /** Set for policy/vulnerability reports and Events: read into `state.findings`, not the object index. */
  finding?: { apiVersion: string };
  /** Restricts list and watch (`reason=PolicyViolation` for Events). */
  fieldSelector?: string;
}

/** The eight collections ClusterState keeps, in the order they are started. */
export const LIVE_RESOURCES: readonly LiveResource[] = [
  { kind: 'Namespace', path: '/api/v1/namespaces' },
  { kind: 'Pod', path: '/api/v1/pods' },
  { kind: 'ServiceAccount', path: '/api/v1/serviceaccounts' },
  { kind: 'Role', path: '/apis/rbac.authorization.k8s.io/v1/roles' },
  { kind: 'ClusterRole', path: '/apis/rbac.authorization.k8s.io/v1/clusterroles' },
  { kind: 'RoleBinding', path: '/apis/rbac.authorization.k8s.io/v1/rolebindings' },
  { kind: 'ClusterRoleBinding', path: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings' },
  { kind: 'NetworkPolicy', path: '/apis/networking.k8s.io/v1/networkpolicies' },
];
