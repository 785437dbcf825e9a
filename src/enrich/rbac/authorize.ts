import type { ClusterState, SubjectKey } from '../cluster-state/state';
import { subjectKey } from '../cluster-state/state';
import type { Binding, PolicyRule, RbacSubject } from '../cluster-state/types';
import { firstAllowingRule, requestNamespace, type AccessRequest } from './rules';
import type { RequestSubject } from './subject';

/** The group whose members the apiserver allows everything before RBAC is asked. */
export const SUPERUSER_GROUP = 'system:masters';

export interface BindingRef {
  kind: 'RoleBinding' | 'ClusterRoleBinding';
  name: string;
  /** Set for RoleBindings: the only namespace its permissions apply in. */
  namespace?: string;
}

export interface RoleRefSummary {
  kind: string;
  name: string;
}

/** A binding that applies to a subject, and through which of its subjects. */
export interface AppliedBinding {
  binding: BindingRef;
  role: RoleRefSummary;
  /** The first subject of the binding that matches (as the apiserver reports it). */
  via: RbacSubject;
  /** `cluster` for ClusterRoleBindings, else the RoleBinding's namespace. */
  scope: string;
  /** The role's rules (aggregation applied), or undefined when the role is not in state. */
  rules: PolicyRule[] | undefined;
}

export interface Decision {
  allowed: boolean;
  /** Worded like the apiserver's `authorization.k8s.io/reason` annotation. */
  reason: string;
  /** What allowed it; absent when denied or when `system:masters` bypassed RBAC. */
  allowedBy?: { binding: BindingRef; role: RoleRefSummary; via: RbacSubject; rule: PolicyRule };
  /** Bindings that apply but whose role is not in state: a "no" may be incomplete. */
  unresolved: BindingRef[];
}

/** Every binding that applies to the subject, anywhere: ClusterRoleBindings first, then by namespace and name. */
export function bindingsFor(state: ClusterState, subject: RequestSubject): AppliedBinding[] {
  const found = new Map<Binding, RbacSubject>();
  for (const key of subjectKeys(subject)) {
    for (const binding of state.bindingsFor(key)) {
      if (!found.has(binding)) found.set(binding, firstMatchingSubject(binding, subject) as RbacSubject);
    }
  }
  return [...found]
    .map(([binding, via]) => ({ key: order(ref(binding)), applied: applied(state, binding, via) }))
    .sort((a, b) => compare(a.key, b.key))
    .map((e) => e.applied);
}

/**
 * kube-apiserver's decision for the request: `system:masters` first, then every ClusterRoleBinding and,
 * for a namespaced request, the RoleBindings of that namespace (whether they reference a Role or a
 * ClusterRole). Permissions only add up, so the first rule that allows decides.
 */
export function can(state: ClusterState, subject: RequestSubject, request: AccessRequest): Decision {
  if (subject.groups.includes(SUPERUSER_GROUP)) {
    return { allowed: true, reason: `allowed: member of ${SUPERUSER_GROUP} (RBAC not consulted)`, unresolved: [] };
  }
  const namespace = requestNamespace(request);
  const unresolved: BindingRef[] = [];
  for (const candidate of bindingsFor(state, subject)) {
    if (candidate.binding.kind === 'RoleBinding' && candidate.binding.namespace !== namespace) continue;
    if (!candidate.rules) {
      unresolved.push(candidate.binding);
      continue;
    }
    const rule = firstAllowingRule(candidate.rules, request);
    if (rule) {
      return {
        allowed: true,
        reason: `RBAC: allowed by ${describe(candidate)}`,
        allowedBy: { binding: candidate.binding, role: candidate.role, via: candidate.via, rule },
        unresolved,
      };
    }
  }
  const missing = unresolved.map((b) => `${b.kind} "${b.name}" references a role not in state`);
  return { allowed: false, reason: missing.length > 0 ? `RBAC: ${missing.join('; ')}` : '', unresolved };
}

export interface WhoCanEntry {
  subject: RbacSubject;
  binding?: BindingRef;
  role?: RoleRefSummary;
}

/**
 * Every binding subject the request is allowed for, plus the `system:masters` group. A subject listed is
 * allowed; a user may also be allowed through a group not listed here under its own name.
 */
export function whoCan(state: ClusterState, request: AccessRequest): WhoCanEntry[] {
  const out: WhoCanEntry[] = [{ subject: { kind: 'Group', name: SUPERUSER_GROUP } }];
  const namespace = requestNamespace(request);
  const bindings: Binding[] = [...state.clusterRoleBindings()];
  if (namespace) bindings.push(...state.roleBindings(namespace));
  bindings.sort((a, b) => compare(order(ref(a)), order(ref(b))));
  for (const binding of bindings) {
    const rules = state.rulesOf(binding);
    if (!rules || !firstAllowingRule(rules, request)) continue;
    for (const subject of binding.subjects) {
      if (!subjectKey(subject, binding.metadata.namespace)) continue;
      const resolved: RbacSubject =
        subject.kind === 'ServiceAccount' && !subject.namespace
          ? { ...subject, namespace: binding.metadata.namespace as string }
          : subject;
      out.push({ subject: resolved, binding: ref(binding), role: { kind: binding.roleRef.kind, name: binding.roleRef.name } });
    }
  }
  return out;
}

/** The index keys a subject is found under: its user name and each of its groups. */
function subjectKeys(subject: RequestSubject): SubjectKey[] {
  return [`user:${subject.user}`, ...subject.groups.map((g): SubjectKey => `group:${g}`)];
}

function firstMatchingSubject(binding: Binding, subject: RequestSubject): RbacSubject | undefined {
  return binding.subjects.find((s) => {
    const key = subjectKey(s, binding.metadata.namespace);
    return key === `user:${subject.user}` || (key?.startsWith('group:') && subject.groups.includes(key.slice(6)));
  });
}

function applied(state: ClusterState, binding: Binding, via: RbacSubject): AppliedBinding {
  return {
    binding: ref(binding),
    role: { kind: binding.roleRef.kind, name: binding.roleRef.name },
    via,
    scope: binding.kind === 'ClusterRoleBinding' ? 'cluster' : (binding.metadata.namespace as string),
    rules: state.rulesOf(binding),
  };
}

export function ref(binding: Binding): BindingRef {
  return binding.kind === 'ClusterRoleBinding'
    ? { kind: binding.kind, name: binding.metadata.name }
    : { kind: binding.kind, name: binding.metadata.name, namespace: binding.metadata.namespace as string };
}

/** Plain code-unit order: stable across locales, and much cheaper than localeCompare. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function order(b: BindingRef): string {
  return `${b.kind === 'ClusterRoleBinding' ? 0 : 1}\u0000${b.namespace ?? ''}\u0000${b.name}`;
}

/** `ClusterRoleBinding "x" of ClusterRole "y" to Group "z"`, as the apiserver words it. */
export function describe(applied: Pick<AppliedBinding, 'binding' | 'role' | 'via'>): string {
  const { binding, role, via } = applied;
  const name = binding.kind === 'RoleBinding' ? `${binding.name}/${binding.namespace}` : binding.name;
  const subject = via.kind === 'ServiceAccount' ? `${via.name}/${via.namespace ?? binding.namespace ?? ''}` : via.name;
  return `${binding.kind} "${name}" of ${role.kind} "${role.name}" to ${via.kind} "${subject}"`;
}
