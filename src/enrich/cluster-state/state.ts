import type { Normalised } from '../../findings/normalise';
import { FindingStore, type ArrivalMode, type FindingChange } from '../../findings/store';
import { RoleAggregation } from './aggregation';
import { slimObject } from './slim';
import type {
  Binding,
  ClusterRole,
  ClusterRoleBinding,
  Namespace,
  NetworkPolicy,
  Pod,
  PolicyRule,
  RbacSubject,
  Role,
  RoleBinding,
  ServiceAccount,
  StateKind,
  StateObject,
} from './types';
import { CLUSTER_SCOPED_KINDS } from './types';

/** Index key of a binding subject: what a request's user name or group must equal for it to apply. */
export type SubjectKey = `user:${string}` | `group:${string}`;

const SA_PREFIX = 'system:serviceaccount:';

/**
 * The keys a binding subject is found under. A ServiceAccount subject applies to the user name
 * `system:serviceaccount:<ns>:<name>`, its namespace defaulting to a RoleBinding's own; a ServiceAccount
 * subject with no namespace in a ClusterRoleBinding applies to nobody. Unknown kinds apply to nobody.
 */
export function subjectKey(subject: RbacSubject, bindingNamespace: string | undefined): SubjectKey | undefined {
  switch (subject.kind) {
    case 'User':
      return `user:${subject.name}`;
    case 'Group':
      return `group:${subject.name}`;
    case 'ServiceAccount': {
      const ns = subject.namespace ?? bindingNamespace;
      return ns ? `user:${SA_PREFIX}${ns}:${subject.name}` : undefined;
    }
    default:
      return undefined;
  }
}

type Key = string;
// Cluster-scoped kinds ignore any namespace given (audit objectRefs of namespaces carry their own name there).
const keyOf = (kind: StateKind, namespace: string | undefined, name: string): Key =>
  `${kind}/${CLUSTER_SCOPED_KINDS.has(kind) ? '' : (namespace ?? '')}/${name}`;

/** Tombstones remembered to ignore stale creates/updates that arrive after a delete (audit batches reorder). */
const MAX_TOMBSTONES = 10_000;

export interface StateCounts {
  pods: number;
  namespaces: number;
  serviceAccounts: number;
  roles: number;
  clusterRoles: number;
  roleBindings: number;
  clusterRoleBindings: number;
  networkPolicies: number;
}

/**
 * One cluster's objects, in memory, indexed for the lookups enrichment makes per alert:
 * pods by namespace/name, bindings by subject, policies by namespace, roles by name. ClusterRole
 * aggregation is computed lazily and cached until a ClusterRole changes.
 */
export class ClusterState {
  private readonly objects = new Map<Key, StateObject>();
  private readonly bindingsBySubject = new Map<SubjectKey, Set<Key>>();
  private readonly policiesByNamespace = new Map<string, Map<string, NetworkPolicy>>();
  private readonly roleBindingsByNamespace = new Map<string, Map<string, RoleBinding>>();
  private readonly clusterRoleBindingsByName = new Map<string, ClusterRoleBinding>();
  private readonly clusterRolesByName = new Map<string, ClusterRole>();
  private readonly tombstones = new Map<Key, number>();
  private readonly aggregation = new RoleAggregation(this.clusterRolesByName);
  private readonly counts = new Map<StateKind, number>();
  private changes = 0;
  /** Policy and vulnerability report summaries (Kyverno, Gatekeeper, trivy-operator); see src/findings. */
  readonly findings = new FindingStore();
  private findingListener: ((change: FindingChange, state: ClusterState) => void) | undefined;

  constructor(readonly cluster: string) {}

  /** Told about every finding change with news or resolutions (the findings alert source listens here). */
  onFindingChange(listener: ((change: FindingChange, state: ClusterState) => void) | undefined): void {
    this.findingListener = listener;
  }

  /** Reads a policy/vulnerability report or Event; false when it is not one of those kinds. */
  upsertFinding(raw: unknown | Normalised, mode: ArrivalMode): boolean {
    const change = this.findings.upsert(raw, mode);
    if (!change) return false;
    this.tellFindings(change);
    return true;
  }

  deleteFinding(kind: string, namespace: string | undefined, name: string, mode: ArrivalMode): void {
    this.tellFindings(this.findings.delete(kind, namespace, name, mode));
  }

  private tellFindings(change: FindingChange): void {
    if (change.news.length === 0 && change.resolved.length === 0 && change.newsDropped === 0 && !change.released?.length) return;
    this.findingListener?.(change, this);
  }

  /** Counts the changes applied: equal revisions mean nothing changed (what cached reports compare). */
  revision(): number {
    return this.changes;
  }

  /** Adds or replaces an object as the apiserver sent it. Returns false when it was not kept. */
  upsert(raw: unknown, kindHint?: StateKind): boolean {
    const obj = slimObject(raw, kindHint);
    if (!obj) return false;
    const key = keyOf(obj.kind, obj.metadata.namespace, obj.metadata.name);
    const incoming = revision(obj.metadata.resourceVersion);
    const existing = this.objects.get(key);
    // resourceVersions are opaque, but they are etcd revisions in practice; use them only when both parse.
    const known = existing ? revision(existing.metadata.resourceVersion) : this.tombstones.get(key);
    if (incoming !== undefined && known !== undefined && incoming < known) return false;
    this.tombstones.delete(key);
    if (existing) this.unindex(key, existing);
    this.objects.set(key, obj);
    this.index(key, obj);
    this.changes++;
    return true;
  }

  /** Removes an object. `resourceVersion` (of the deletion) guards against a late, older upsert. */
  delete(kind: StateKind, namespace: string | undefined, name: string, resourceVersion?: string): boolean {
    const key = keyOf(kind, namespace, name);
    const rv = revision(resourceVersion);
    if (rv !== undefined) {
      this.tombstones.set(key, rv);
      if (this.tombstones.size > MAX_TOMBSTONES) {
        const oldest = this.tombstones.keys().next();
        if (!oldest.done) this.tombstones.delete(oldest.value);
      }
    }
    const existing = this.objects.get(key);
    if (!existing) return false;
    this.unindex(key, existing);
    this.objects.delete(key);
    this.changes++;
    return true;
  }

  get(kind: StateKind, namespace: string | undefined, name: string): StateObject | undefined {
    return this.objects.get(keyOf(kind, namespace, name));
  }

  pod(namespace: string, name: string): Pod | undefined {
    return this.objects.get(keyOf('Pod', namespace, name)) as Pod | undefined;
  }

  namespace(name: string): Namespace | undefined {
    return this.objects.get(keyOf('Namespace', undefined, name)) as Namespace | undefined;
  }

  serviceAccount(namespace: string, name: string): ServiceAccount | undefined {
    return this.objects.get(keyOf('ServiceAccount', namespace, name)) as ServiceAccount | undefined;
  }

  role(namespace: string, name: string): Role | undefined {
    return this.objects.get(keyOf('Role', namespace, name)) as Role | undefined;
  }

  clusterRole(name: string): ClusterRole | undefined {
    return this.clusterRolesByName.get(name);
  }

  /**
   * A ClusterRole's rules with aggregation applied: its own rules plus the rules of every ClusterRole its
   * selectors reach, directly or through other aggregated roles (see aggregation.ts). Computed on first
   * use and kept until any ClusterRole changes.
   */
  clusterRoleRules(name: string): PolicyRule[] | undefined {
    return this.aggregation.rules(name);
  }

  /** The rules a binding's roleRef resolves to, or undefined when the role is not (yet) known. */
  rulesOf(binding: Binding): PolicyRule[] | undefined {
    if (binding.roleRef.kind === 'ClusterRole') return this.clusterRoleRules(binding.roleRef.name);
    if (binding.roleRef.kind === 'Role' && binding.kind === 'RoleBinding') {
      return this.role(binding.metadata.namespace as string, binding.roleRef.name)?.rules;
    }
    return undefined;
  }

  /** Bindings with a subject under this key (a user name or a group). */
  bindingsFor(key: SubjectKey): Binding[] {
    const keys = this.bindingsBySubject.get(key);
    if (!keys) return [];
    const out: Binding[] = [];
    for (const k of keys) out.push(this.objects.get(k) as Binding);
    return out;
  }

  clusterRoleBindings(): Iterable<ClusterRoleBinding> {
    return this.clusterRoleBindingsByName.values();
  }

  roleBindings(namespace: string): Iterable<RoleBinding> {
    return this.roleBindingsByNamespace.get(namespace)?.values() ?? [];
  }

  networkPolicies(namespace: string): Iterable<NetworkPolicy> {
    return this.policiesByNamespace.get(namespace)?.values() ?? [];
  }

  /** Every object of one kind (for listing and tests; not for per-alert paths). */
  *all(kind: StateKind): Iterable<StateObject> {
    for (const obj of this.objects.values()) if (obj.kind === kind) yield obj;
  }

  size(): StateCounts {
    const n = (k: StateKind) => this.counts.get(k) ?? 0;
    return {
      pods: n('Pod'),
      namespaces: n('Namespace'),
      serviceAccounts: n('ServiceAccount'),
      roles: n('Role'),
      clusterRoles: n('ClusterRole'),
      roleBindings: n('RoleBinding'),
      clusterRoleBindings: n('ClusterRoleBinding'),
      networkPolicies: n('NetworkPolicy'),
    };
  }

  /** True until something about this cluster has been seen. */
  isEmpty(): boolean {
    return this.objects.size === 0;
  }

  private index(key: Key, obj: StateObject): void {
    this.counts.set(obj.kind, (this.counts.get(obj.kind) ?? 0) + 1);
    switch (obj.kind) {
      case 'RoleBinding':
        nested(this.roleBindingsByNamespace, obj.metadata.namespace as string).set(obj.metadata.name, obj);
        this.indexSubjects(key, obj);
        break;
      case 'ClusterRoleBinding':
        this.clusterRoleBindingsByName.set(obj.metadata.name, obj);
        this.indexSubjects(key, obj);
        break;
      case 'ClusterRole':
        this.clusterRolesByName.set(obj.metadata.name, obj);
        this.aggregation.added(obj);
        break;
      case 'NetworkPolicy':
        nested(this.policiesByNamespace, obj.metadata.namespace as string).set(obj.metadata.name, obj);
        break;
      default:
        break;
    }
  }

  private unindex(key: Key, obj: StateObject): void {
    this.counts.set(obj.kind, (this.counts.get(obj.kind) ?? 1) - 1);
    switch (obj.kind) {
      case 'RoleBinding':
        removeNested(this.roleBindingsByNamespace, obj.metadata.namespace as string, obj.metadata.name);
        this.unindexSubjects(key, obj);
        break;
      case 'ClusterRoleBinding':
        this.clusterRoleBindingsByName.delete(obj.metadata.name);
        this.unindexSubjects(key, obj);
        break;
      case 'ClusterRole':
        this.clusterRolesByName.delete(obj.metadata.name);
        this.aggregation.removed(obj);
        break;
      case 'NetworkPolicy':
        removeNested(this.policiesByNamespace, obj.metadata.namespace as string, obj.metadata.name);
        break;
      default:
        break;
    }
  }

  private indexSubjects(key: Key, binding: Binding): void {
    for (const subject of binding.subjects) {
      const sk = subjectKey(subject, binding.metadata.namespace);
      if (!sk) continue;
      let set = this.bindingsBySubject.get(sk);
      if (!set) this.bindingsBySubject.set(sk, (set = new Set()));
      set.add(key);
    }
  }

  private unindexSubjects(key: Key, binding: Binding): void {
    for (const subject of binding.subjects) {
      const sk = subjectKey(subject, binding.metadata.namespace);
      if (!sk) continue;
      const set = this.bindingsBySubject.get(sk);
      set?.delete(key);
      if (set?.size === 0) this.bindingsBySubject.delete(sk);
    }
  }
}

function revision(rv: string | undefined): number | undefined {
  if (rv === undefined || !/^\d{1,15}$/.test(rv)) return undefined;
  return Number(rv);
}

function nested<V>(map: Map<string, Map<string, V>>, outer: string): Map<string, V> {
  let inner = map.get(outer);
  if (!inner) map.set(outer, (inner = new Map()));
  return inner;
}

function removeNested<V>(map: Map<string, Map<string, V>>, outer: string, inner: string): void {
  const m = map.get(outer);
  m?.delete(inner);
  if (m?.size === 0) map.delete(outer);
}
