import type { ClusterState } from '../enrich/cluster-state/state';
import { selectorMatches } from '../enrich/cluster-state/label-selector';
import type { Binding, ClusterRole, Pod, PolicyRule, RbacSubject, Role } from '../enrich/cluster-state/types';
import { describe, ref, type AppliedBinding, type BindingRef, type RoleRefSummary } from '../enrich/rbac/authorize';
import { riskyPermissions, type RiskFinding } from '../enrich/rbac/risky';
import { subjectFor, type RequestSubject } from '../enrich/rbac/subject';
import {
  cmp,
  MAX_LISTED_PODS,
  severityRank,
  sortFindings,
  subjectString,
  workloadOf,
  type Finding,
  type Severity,
} from './finding';

/** Kubernetes labels the objects of its bootstrap RBAC policy with this (plugin/pkg/auth/authorizer/rbac/bootstrappolicy). */
const BOOTSTRAP_LABEL = 'kubernetes.io/bootstrapping';

export interface ClusterAdminEntry {
  subject: RbacSubject;
  binding: BindingRef;
  role: RoleRefSummary;
  grantedBy: string;
  builtin: boolean;
}

export interface SubjectRisk {
  subject: RbacSubject;
  /** The subject's risky permissions through the bindings that name it, most severe first. */
  findings: RiskFinding[];
  worst: Severity;
}

export interface RbacReport {
  clusterAdmins: ClusterAdminEntry[];
  /** Subjects with at least one risky permission outside the bootstrap policy, most at risk first. */
  subjects: SubjectRisk[];
  findings: Finding[];
  counts: { subjects: number; bindings: number; roles: number; clusterRoles: number };
}

const EMPTY_SUBJECT: RequestSubject = { user: '', groups: [] };

/**
 * The RBAC audit: who is cluster-admin or equivalent and through which binding, wildcard roles, risky
 * permissions per subject (as rbac-tool analysis and KubiScan rank them), bindings to service accounts
 * that do not exist, roles nothing binds, default service accounts with permissions, and pods whose
 * service account can read secrets or create workloads.
 */
export function rbacReport(state: ClusterState): RbacReport {
  const findings: Finding[] = [];
  const clusterAdmins: ClusterAdminEntry[] = [];
  const bySubject = new Map<string, SubjectRisk>();
  const bindings = allBindings(state);
  const knowsServiceAccounts = state.size().serviceAccounts > 0;
  const used = new Set<string>();
  const defaultSaBindings = new Map<string, { subject: RbacSubject; via: string[] }>();

  for (const binding of bindings) {
    const bRef = ref(binding);
    const role = { kind: binding.roleRef.kind, name: binding.roleRef.name };
    used.add(roleKey(binding.roleRef.kind, binding.roleRef.kind === 'Role' ? binding.metadata.namespace : undefined, role.name));
    const rules = state.rulesOf(binding);
    const builtin = isBuiltin(binding.metadata);
    const scope = binding.kind === 'ClusterRoleBinding' ? 'cluster' : (binding.metadata.namespace as string);
    if (!rules) {
      findings.push({
        id: 'rbac.binding-missing-role',
        area: 'rbac',
        severity: 'low',
        key: `rbac.binding-missing-role/${bindingKey(bRef)}`,
        object: bindingObject(bRef),
        title: `${binding.kind} ${bindingName(bRef)} references ${role.kind} ${role.name}, which does not exist`,
        fix: `delete the binding, or it grants whatever a ${role.kind} named ${role.name} is later created with`,
      });
    }
    for (const raw of binding.subjects) {
      const subject = resolvedSubject(raw, binding);
      if (!subject) continue;
      const applied: AppliedBinding = { binding: bRef, role, via: subject, scope, rules };
      const risks = rules ? riskyPermissions(state, EMPTY_SUBJECT, [applied]) : [];
      if (
        subject.kind === 'ServiceAccount' &&
        knowsServiceAccounts &&
        !state.serviceAccount(subject.namespace as string, subject.name)
      ) {
        findings.push({
          id: 'rbac.binding-to-missing-serviceaccount',
          area: 'rbac',
          severity: risks.some((r) => severityRank(r.severity) <= 1) ? 'high' : 'medium',
          key: `rbac.binding-to-missing-serviceaccount/${bindingKey(bRef)}/${subject.namespace}/${subject.name}`,
          object: bindingObject(bRef),
          subject,
          title: `${binding.kind} ${bindingName(bRef)} grants ${role.kind} ${role.name} to ${subjectString(subject)}, which does not exist`,
          fix: `remove the subject from the binding: the next service account created as ${subject.namespace}/${subject.name} inherits it`,
          grantedBy: describe(applied),
        });
      }
      if (subject.kind === 'ServiceAccount' && subject.name === 'default' && rules && !builtin) {
        const k = subject.namespace as string;
        const entry = defaultSaBindings.get(k) ?? { subject, via: [] };
        entry.via.push(describe(applied));
        defaultSaBindings.set(k, entry);
      }
      for (const risk of risks) {
        if (risk.id === 'cluster-admin' && risk.scope === 'cluster') {
          clusterAdmins.push({ subject, binding: bRef, role, grantedBy: risk.grantedBy, builtin });
        }
        if (builtin) continue;
        const key = subjectString(subject);
        let entry = bySubject.get(key);
        if (!entry) bySubject.set(key, (entry = { subject, findings: [], worst: 'low' }));
        entry.findings.push(risk);
      }
    }
  }

  for (const admin of clusterAdmins) {
    findings.push({
      id: 'rbac.cluster-admin',
      area: 'rbac',
      severity: 'critical',
      key: `rbac.cluster-admin/${subjectString(admin.subject)}/${bindingKey(admin.binding)}`,
      object: bindingObject(admin.binding),
      subject: admin.subject,
      title: `${subjectString(admin.subject)} has full control of the cluster`,
      fix: admin.builtin
        ? 'Kubernetes bootstrap policy: keep its members few (it is the break-glass identity)'
        : `bind a role with only the permissions ${subjectString(admin.subject)} needs instead of ${admin.role.kind} ${admin.role.name}`,
      grantedBy: admin.grantedBy,
      ...(admin.builtin ? { builtin: true } : {}),
    });
  }

  const subjects = [...bySubject.values()];
  for (const s of subjects) {
    s.findings.sort(
      (a, b) => severityRank(a.severity) - severityRank(b.severity) || cmp(a.id, b.id) || cmp(a.grantedBy, b.grantedBy),
    );
    s.worst = s.findings[0]?.severity ?? 'low';
    for (const risk of s.findings) {
      if (risk.id === 'cluster-admin' && risk.scope === 'cluster') continue; // reported above
      const id = risk.id === 'cluster-admin' ? 'rbac.namespace-admin' : `rbac.${risk.id}`;
      findings.push({
        id,
        area: 'rbac',
        severity: risk.severity,
        key: `${id}/${subjectString(s.subject)}/${risk.binding ? bindingKey(risk.binding) : ''}`,
        object: risk.binding ? bindingObject(risk.binding) : { kind: s.subject.kind, name: s.subject.name },
        subject: s.subject,
        title: `${subjectString(s.subject)} can ${risk.title}${risk.scope === 'cluster' ? '' : ` in namespace ${risk.scope}`}${
          risk.resourceNames ? ` (only ${risk.resourceNames.join(', ')})` : ''
        }`,
        fix: `remove ${risk.title} from ${risk.role?.kind ?? 'the role'} ${risk.role?.name ?? ''}, or bind ${subjectString(s.subject)} to a narrower role`,
        grantedBy: risk.grantedBy,
      });
    }
  }
  subjects.sort(
    (a, b) =>
      severityRank(a.worst) - severityRank(b.worst) ||
      b.findings.length - a.findings.length ||
      cmp(subjectString(a.subject), subjectString(b.subject)),
  );

  for (const [namespace, entry] of defaultSaBindings) {
    findings.push({
      id: 'rbac.default-serviceaccount-bound',
      area: 'rbac',
      severity: 'medium',
      key: `rbac.default-serviceaccount-bound/${namespace}`,
      object: { kind: 'ServiceAccount', namespace, name: 'default' },
      subject: entry.subject,
      title: `the default service account of namespace ${namespace} is granted permissions (${entry.via.length} binding${entry.via.length === 1 ? '' : 's'}); every pod that names no service account gets them`,
      fix: 'create a dedicated service account for the workload that needs them and bind that instead',
      grantedBy: entry.via.join('; '),
    });
  }

  const roles = [...state.all('Role')] as Role[];
  const clusterRoles = [...state.all('ClusterRole')] as ClusterRole[];
  findings.push(...wildcardRoles(roles, clusterRoles));
  findings.push(...unusedRoles(roles, clusterRoles, used));
  findings.push(...podServiceAccounts(state));

  clusterAdmins.sort(
    (a, b) => cmp(subjectString(a.subject), subjectString(b.subject)) || cmp(bindingKey(a.binding), bindingKey(b.binding)),
  );
  return {
    clusterAdmins,
    subjects,
    findings: sortFindings(findings),
    counts: {
      subjects: countSubjects(bindings),
      bindings: bindings.length,
      roles: roles.length,
      clusterRoles: clusterRoles.length,
    },
  };
}

function allBindings(state: ClusterState): Binding[] {
  const out: Binding[] = [...state.clusterRoleBindings()];
  out.sort((a, b) => cmp(a.metadata.name, b.metadata.name));
  const rbs = [...state.all('RoleBinding')] as Binding[];
  rbs.sort((a, b) => cmp(a.metadata.namespace ?? '', b.metadata.namespace ?? '') || cmp(a.metadata.name, b.metadata.name));
  return out.concat(rbs);
}

function countSubjects(bindings: Binding[]): number {
  const seen = new Set<string>();
  for (const b of bindings)
    for (const s of b.subjects) {
      const r = resolvedSubject(s, b);
      if (r) seen.add(subjectString(r));
    }
  return seen.size;
}

/** A binding subject with a RoleBinding's namespace filled in; undefined for subjects that apply to nobody. */
function resolvedSubject(subject: RbacSubject, binding: Binding): RbacSubject | undefined {
  if (subject.kind === 'User' || subject.kind === 'Group') return { kind: subject.kind, name: subject.name };
  if (subject.kind !== 'ServiceAccount') return undefined;
  const namespace = subject.namespace ?? binding.metadata.namespace;
  return namespace ? { kind: 'ServiceAccount', name: subject.name, namespace } : undefined;
}

function isBuiltin(meta: { name: string; labels?: Record<string, string> }): boolean {
  return meta.labels?.[BOOTSTRAP_LABEL] === 'rbac-defaults';
}

function roleKey(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}

export function bindingKey(b: BindingRef): string {
  return b.kind === 'RoleBinding' ? `RoleBinding/${b.namespace}/${b.name}` : `ClusterRoleBinding/${b.name}`;
}

function bindingName(b: BindingRef): string {
  return b.namespace ? `${b.namespace}/${b.name}` : b.name;
}

function bindingObject(b: BindingRef) {
  return b.namespace ? { kind: b.kind, namespace: b.namespace, name: b.name } : { kind: b.kind, name: b.name };
}

function hasWildcard(rule: PolicyRule): 'full' | 'partial' | undefined {
  const verbs = rule.verbs.includes('*');
  const resources = (rule.resources ?? []).includes('*');
  const groups = (rule.apiGroups ?? []).includes('*');
  if (verbs && resources && groups && !(rule.resourceNames ?? []).length) return 'full';
  return verbs || resources || groups ? 'partial' : undefined;
}

function wildcardRoles(roles: Role[], clusterRoles: ClusterRole[]): Finding[] {
  const out: Finding[] = [];
  for (const role of [...clusterRoles, ...roles]) {
    if (isBuiltin(role.metadata)) continue;
    let worst: 'full' | 'partial' | undefined;
    for (const rule of role.rules) {
      const w = hasWildcard(rule);
      if (w === 'full') worst = 'full';
      else if (w && !worst) worst = w;
    }
    if (!worst) continue;
    const object =
      role.kind === 'Role'
        ? { kind: 'Role', namespace: role.metadata.namespace as string, name: role.metadata.name }
        : { kind: 'ClusterRole', name: role.metadata.name };
    const name = role.kind === 'Role' ? `${role.metadata.namespace}/${role.metadata.name}` : role.metadata.name;
    out.push({
      id: 'rbac.wildcard-role',
      area: 'rbac',
      severity: worst === 'full' ? 'high' : 'medium',
      key: `rbac.wildcard-role/${roleKey(role.kind, role.metadata.namespace, role.metadata.name)}`,
      object,
      title:
        worst === 'full'
          ? `${role.kind} ${name} grants * verbs on * resources in * API groups`
          : `${role.kind} ${name} uses * in verbs, resources or API groups`,
      fix: 'list the verbs, resources and API groups it needs instead of * (a wildcard also covers resources added later)',
    });
  }
  return out;
}

function unusedRoles(roles: Role[], clusterRoles: ClusterRole[], used: Set<string>): Finding[] {
  const aggregating = clusterRoles.filter((r) => r.aggregationRule);
  const out: Finding[] = [];
  for (const role of [...clusterRoles, ...roles]) {
    if (isBuiltin(role.metadata) || role.metadata.name.startsWith('system:')) continue;
    const ns = role.kind === 'Role' ? role.metadata.namespace : undefined;
    if (used.has(roleKey(role.kind, ns, role.metadata.name))) continue;
    if (role.kind === 'ClusterRole') {
      // A ClusterRole's rules may be in use through an aggregated role that selects it.
      const labels = role.metadata.labels;
      if (aggregating.some((a) => a !== role && a.aggregationRule?.clusterRoleSelectors.some((s) => selectorMatches(s, labels))))
        continue;
    }
    const name = ns ? `${ns}/${role.metadata.name}` : role.metadata.name;
    out.push({
      id: 'rbac.unused-role',
      area: 'rbac',
      severity: 'low',
      key: `rbac.unused-role/${roleKey(role.kind, ns, role.metadata.name)}`,
      object: ns ? { kind: role.kind, namespace: ns, name: role.metadata.name } : { kind: role.kind, name: role.metadata.name },
      title: `${role.kind} ${name} is not referenced by any binding`,
      fix: 'delete it if nothing will bind it (unused roles are granted by whoever binds them next)',
    });
  }
  return out;
}

const POD_RISKS: Record<string, { id: string; what: string }> = {
  'secrets-read': { id: 'rbac.pod-can-read-secrets', what: 'read secrets' },
  'workload-create': { id: 'rbac.pod-can-create-workloads', what: 'create pods and workloads' },
};

/** Per service account that pods run as: can it (with every group it is in) read secrets or create workloads? */
function podServiceAccounts(state: ClusterState): Finding[] {
  const bySa = new Map<string, { namespace: string; name: string; pods: Pod[] }>();
  for (const obj of state.all('Pod')) {
    const pod = obj as Pod;
    const ns = pod.metadata.namespace as string;
    const sa =
      typeof pod.spec.serviceAccountName === 'string' && pod.spec.serviceAccountName ? pod.spec.serviceAccountName : 'default';
    const k = `${ns}/${sa}`;
    let entry = bySa.get(k);
    if (!entry) bySa.set(k, (entry = { namespace: ns, name: sa, pods: [] }));
    entry.pods.push(pod);
  }
  const out: Finding[] = [];
  for (const [k, { namespace, name, pods }] of [...bySa].sort((a, b) => cmp(a[0], b[0]))) {
    const subject = subjectFor(`system:serviceaccount:${namespace}:${name}`);
    const risks = riskyPermissions(state, subject);
    const full = risks.find((r) => r.id === 'cluster-admin');
    const sa = state.serviceAccount(namespace, name);
    const mounted = pods.filter(
      (p) => (p.spec.automountServiceAccountToken ?? sa?.automountServiceAccountToken ?? true) !== false,
    );
    for (const [probe, meta] of Object.entries(POD_RISKS)) {
      const hit = risks.find((r) => r.id === probe && !r.resourceNames) ?? (full && !full.resourceNames ? full : undefined);
      if (!hit) continue;
      const workloads = [...new Set(pods.map((p) => workloadName(p)))].sort(cmp);
      out.push({
        id: meta.id,
        area: 'rbac',
        severity: mounted.length === 0 ? 'low' : hit.severity === 'critical' ? 'critical' : 'high',
        key: `${meta.id}/${k}`,
        object: { kind: 'ServiceAccount', namespace, name },
        subject: { kind: 'ServiceAccount', namespace, name },
        title: `${pods.length} pod${pods.length === 1 ? '' : 's'} run as ServiceAccount ${k}, which can ${meta.what}${
          hit.scope === 'cluster' ? ' cluster-wide' : ` in namespace ${hit.scope}`
        }${mounted.length === 0 ? ' (token not mounted)' : ''}`,
        fix: `remove that permission from ${hit.role ? `${hit.role.kind} ${hit.role.name}` : 'its role'}, or set automountServiceAccountToken: false where the pods do not call the API`,
        grantedBy: hit.grantedBy,
        workloads: workloads.slice(0, MAX_LISTED_PODS),
        podCount: pods.length,
      });
    }
  }
  return out;
}

function workloadName(pod: Pod): string {
  const w = workloadOf(pod);
  return `${w.kind}/${w.name}`;
}
