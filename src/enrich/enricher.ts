import {
  noClusterState,
  type Enrichment,
  type NetworkEnrichment,
  type PodEnrichment,
  type PodFacts,
  type RiskySummary,
  type SubjectEnrichment,
  type SubjectOrigin,
} from '../core/alert';
import type { Clock } from '../core/clock';
import type { SecurityEvent } from '../core/event';
import { TimeSlice } from '../core/time-slice';
import { applyAuditEvent } from './cluster-state/audit';
import type { ClusterStates } from './cluster-state/clusters';
import { isRecord, slimObject } from './cluster-state/slim';
import type { ClusterState, SubjectKey } from './cluster-state/state';
import type { Binding, Namespace, NetworkPolicy, Pod, PolicyRule } from './cluster-state/types';
import { podFindingFacts } from '../findings/enrichment';
import { networkExposure, type DirectionExposure } from './network';
import {
  evaluatePodSpec,
  formatLevelVersion,
  highestLevelOfSpec,
  namespaceLevels,
  type ObjectMeta,
  type PodSpec,
} from './pod-security';
import { resolveSubject } from './rbac/resolve';
import { subjectFor } from './rbac/subject';
import type { Enricher } from './port';
import { OldestFirst } from '../core/oldest';

export interface EnricherOptions {
  states: ClusterStates;
  clock: Clock;
  /**
   * How long `enrich` may wait for a pod the cluster state has not seen yet (it may be about to
   * arrive). 0: never wait. Each missing pod is waited for once per `MISS_MEMORY_MS`.
   */
  waitForStateMs?: number;
  /**
   * Enrichment cost grows with the cluster state, which events themselves can shape (a thousand
   * ClusterRoles aggregating each other): with this set, `enrich` lets I/O in after this many ms of
   * work, so a long run of costly enrichments cannot keep HTTP requests and signals out.
   */
  yieldEveryMs?: number;
}

/** Structured lists are capped so one over-privileged subject cannot bloat every alert. */
const MAX_LISTED = 20;
/** After a pod did not arrive in time, later alerts on it do not wait again for this long. */
const MISS_MEMORY_MS = 60_000;
const MAX_MISSES = 10_000;
/** Subjects whose RBAC answer is kept per cluster. */
const MAX_CACHED_SUBJECTS = 10_000;
/**
 * How long a subject's RBAC answer is trusted before its bindings and roles are compared again. RBAC
 * changes that arrive through `observe` invalidate at once; this bounds the lag for changes made to the
 * state by other writers (snapshot reloads, watches).
 */
const SUBJECT_RECHECK_MS = 1000;
const RBAC_KINDS = new Set(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']);

/**
 * The enrich stage over in-memory cluster state. `observe` feeds audit events into the state of
 * their cluster; `enrich` answers from that state only: index lookups plus per-pod results cached
 * on the pod object itself, so the cost of an alert does not grow with the cluster.
 */
export function createEnricher(options: EnricherOptions): Enricher {
  const { states, clock } = options;
  const waits = new PodWaits(clock, options.waitForStateMs ?? 0);
  const subjects = new SubjectCache(clock);
  const slice = options.yieldEveryMs === undefined ? undefined : new TimeSlice(options.yieldEveryMs);

  return {
    observe(event) {
      if (event.source !== 'k8s_audit') return;
      try {
        const state = states.get(event.k8s.cluster);
        const result = applyAuditEvent(state, event.raw);
        if (result.applied && RBAC_KINDS.has(result.kind)) subjects.rbacChanged(state);
        if (result.applied === 'upsert' && result.kind === 'Pod' && result.namespace) {
          waits.arrived(podKey(event.k8s.cluster, result.namespace, result.name));
        }
      } catch {
        // A malformed object must not stop the pipeline; the state just does not learn from it.
      }
    },

    async enrich(detection) {
      const event = detection.event;
      if (slice) await slice.yield();
      try {
        const target = podTarget(event);
        let state = states.peek(event.k8s.cluster);
        if (target && !target.object && state && !state.isEmpty() && !state.pod(target.namespace, target.name)) {
          await waits.waitFor(podKey(event.k8s.cluster, target.namespace, target.name), () => {
            state = states.peek(event.k8s.cluster);
            return state?.pod(target.namespace, target.name) !== undefined;
          });
          state = states.peek(event.k8s.cluster);
        }
        return enrichFrom(state, event, target, subjects);
      } catch (err) {
        return failed(event, `enrichment failed: ${(err as Error).message}`);
      }
    },

    waiting: () => waits.waiting,

    async subject(cluster, user, groups) {
      const state = states.peek(cluster);
      if (!state || state.isEmpty()) {
        return {
          known: false,
          user,
          reason: `no cluster state for cluster "${cluster}" (no snapshot loaded, no audit objects seen)`,
        };
      }
      return subjectFacts(state, { user, groups, origin: 'attributed-user' }, subjects);
    },
  };
}

/** The pod an event is about: named by the event, or (for an audit pod create) the object itself. */
interface PodTarget {
  namespace: string;
  name: string;
  object?: Pod;
}

function podTarget(event: SecurityEvent): PodTarget | undefined {
  const object = auditPodObject(event);
  if (object) return { namespace: object.metadata.namespace as string, name: object.metadata.name, object };
  const { namespace, pod } = event.k8s;
  return namespace && pod ? { namespace, name: pod } : undefined;
}

/** A pod create/update in an audit event carries the pod: evaluate that, not an older state copy. */
function auditPodObject(event: SecurityEvent): Pod | undefined {
  const ref = event.audit?.objectRef;
  if (event.source !== 'k8s_audit' || !ref || ref.resource !== 'pods' || ref.subresource || ref.apiGroup) return undefined;
  if (event.audit?.verb !== 'create' && event.audit?.verb !== 'update') return undefined;
  for (const field of ['responseObject', 'requestObject'] as const) {
    const candidate = event.raw[field];
    if (!isRecord(candidate)) continue;
    const meta = isRecord(candidate.metadata) ? candidate.metadata : {};
    // The request's metadata may omit the namespace and (with generateName) the name; the response has both.
    const withIdentity = {
      ...candidate,
      metadata: { ...meta, namespace: meta.namespace ?? ref.namespace, name: meta.name ?? ref.name ?? meta.generateName },
    };
    const pod = slimObject(withIdentity, 'Pod');
    if (pod?.kind === 'Pod') return pod;
  }
  return undefined;
}

function enrichFrom(
  state: ClusterState | undefined,
  event: SecurityEvent,
  target: PodTarget | undefined,
  subjects: SubjectCache,
): Enrichment {
  const cluster = event.k8s.cluster;
  const noState = !state || state.isEmpty();
  // No snapshot loaded, no live API, no audit objects seen for this cluster.
  const unknownState = noClusterState(cluster);
  const pod = target?.object ?? (target && state ? state.pod(target.namespace, target.name) : undefined);
  const enrichment: Enrichment = {};

  if (target) {
    if (pod) {
      enrichment.pod = podFacts(pod, target.object ? 'audit-object' : 'state', state);
    } else {
      const reason = noState ? unknownState : `pod ${target.namespace}/${target.name} not in cluster state`;
      enrichment.pod = { known: false, reason, namespace: target.namespace, name: target.name };
    }
    enrichment.network =
      pod && state && !noState
        ? networkFacts(state, target.namespace, pod)
        : { known: false, reason: noState ? unknownState : 'pod labels unknown' };
  }

  if (target && state) Object.assign(enrichment, findingFacts(state, target.namespace, target.name, pod));

  const actor = subjectOf(event, pod);
  if (actor === 'pod-unknown') {
    enrichment.subject = {
      known: false,
      reason: noState ? unknownState : `the pod's service account is unknown: ${(enrichment.pod as { reason: string }).reason}`,
    };
  } else if (actor) {
    enrichment.subject =
      state && !noState ? subjectFacts(state, actor, subjects) : { known: false, reason: unknownState, user: actor.user };
  }
  return enrichment;
}

/** What trivy-operator and the policy engines say about the pod and its workload (index lookups only). */
function findingFacts(state: ClusterState, namespace: string, name: string, pod: Pod | undefined): Partial<Enrichment> {
  if (state.findings.size().reports === 0) return {};
  return podFindingFacts(state.findings.forPod(namespace, name, pod?.metadata.ownerReferences ?? []));
}

interface ActorRef {
  user: string;
  groups: string[];
  origin: SubjectOrigin;
  impersonatedBy?: string;
  /** The subject cache's key (`subjectId`), when made ahead: a pod's service account keeps its own. */
  id?: string;
}

/**
 * Whose permissions matter: for audit events the identity the request ran as (the impersonated one
 * when impersonation was used), for Falco's k8saudit events the user it names, for runtime events in
 * a pod the pod's service account (what a shell in the pod can use).
 */
function subjectOf(event: SecurityEvent, pod: Pod | undefined): ActorRef | 'pod-unknown' | undefined {
  const actor = event.actor;
  if (event.source === 'k8s_audit' && actor) {
    if (actor.impersonatedUser) {
      return {
        user: actor.impersonatedUser,
        groups: actor.impersonatedGroups ?? [],
        origin: 'impersonated-user',
        impersonatedBy: actor.user,
      };
    }
    return { user: actor.user, groups: actor.groups, origin: 'audit-user' };
  }
  if (event.falco?.source === 'k8s_audit') {
    return actor ? { user: actor.user, groups: actor.groups, origin: 'falco-audit-user' } : undefined;
  }
  if (!event.k8s.pod) return undefined;
  if (!pod) return 'pod-unknown';
  const cached = podCache.get(pod);
  if (cached?.actor) return cached.actor;
  const sa =
    typeof pod.spec.serviceAccountName === 'string' && pod.spec.serviceAccountName !== ''
      ? pod.spec.serviceAccountName
      : 'default';
  const user = `system:serviceaccount:${pod.metadata.namespace}:${sa}`;
  const account: ActorRef = { user, groups: [], origin: 'pod-service-account', id: subjectId(user, []) };
  // Kept with the pod's posture: every runtime alert in the pod asks again (the pod object is its state).
  if (cached) cached.actor = account;
  return account;
}

function subjectId(user: string, groups: readonly string[]): string {
  return `${user}\n${groups.join('\n')}`;
}

function subjectFacts(state: ClusterState, actor: ActorRef, cache: SubjectCache): SubjectEnrichment {
  const rbac = cache.get(state, actor, () => rbacFacts(state, actor));
  if (actor.impersonatedBy) return { ...rbac, origin: actor.origin, impersonatedBy: actor.impersonatedBy };
  let parts = subjectParts.get(rbac);
  if (!parts) subjectParts.set(rbac, (parts = {}));
  return (parts[actor.origin] ??= { ...rbac, origin: actor.origin });
}

/**
 * The subject part per RBAC answer and origin: the alerts of one subject share one object (parts are
 * never changed once made), so the console serialises it once (alertViewJson) and alerts keep less.
 */
const subjectParts = new WeakMap<RbacFacts, Partial<Record<SubjectOrigin, SubjectEnrichment>>>();

type RbacFacts = Omit<Extract<SubjectEnrichment, { known: true }>, 'origin' | 'impersonatedBy'>;

function rbacFacts(state: ClusterState, actor: ActorRef): RbacFacts {
  const resolved = resolveSubject(state, actor);
  const findings: RiskySummary[] = resolved.findings.map((f) => ({
    id: f.id,
    severity: f.severity,
    title: f.title,
    scope: f.scope,
    grantedBy: f.grantedBy,
    ...(f.resourceNames ? { resourceNames: f.resourceNames } : {}),
  }));
  return {
    known: true,
    user: resolved.user,
    kind: resolved.kind,
    groups: resolved.groups,
    bindings: resolved.bindings.slice(0, MAX_LISTED).map((b) => b.grantedBy),
    bindingCount: resolved.bindings.length,
    findings: findings.slice(0, MAX_LISTED),
    findingCount: findings.length,
  };
}

/** What a subject's RBAC answer was computed from: its bindings per subject key, and their roles' rules. */
interface SubjectDeps {
  bindings: Binding[][];
  rules: (PolicyRule[] | undefined)[];
}

interface SubjectEntry {
  deps: SubjectDeps;
  facts: RbacFacts;
  /** The state's RBAC generation and the time when `deps` were last found current. */
  generation: number;
  checkedAt: number;
}

/**
 * Remembers each subject's RBAC answer with what it was computed from. ClusterState replaces an object
 * on every change and rebuilds aggregated rules when any ClusterRole changes, so comparing identities
 * of the subject's bindings and their rules tells exactly whether the answer still holds. That check
 * costs a lookup per binding, so it runs only when an RBAC change was observed or once a
 * `SUBJECT_RECHECK_MS` has passed; in between, the answer is returned as is.
 */
class SubjectCache {
  private readonly byState = new WeakMap<
    ClusterState,
    { generation: number; entries: Map<string, SubjectEntry>; oldest: OldestFirst<string, SubjectEntry> }
  >();

  constructor(private readonly clock: Clock) {}

  rbacChanged(state: ClusterState): void {
    const cache = this.byState.get(state);
    if (cache) cache.generation++;
  }

  get(state: ClusterState, actor: ActorRef, compute: () => RbacFacts): RbacFacts {
    let cache = this.byState.get(state);
    if (!cache) {
      const entries = new Map<string, SubjectEntry>();
      this.byState.set(state, (cache = { generation: 0, entries, oldest: new OldestFirst(entries) }));
    }
    const now = this.clock.now();
    const id = actor.id ?? subjectId(actor.user, actor.groups);
    const cached = cache.entries.get(id);
    if (cached && cached.generation === cache.generation && now - cached.checkedAt < SUBJECT_RECHECK_MS) return cached.facts;

    const subject = subjectFor(actor.user, actor.groups);
    const deps = dependencies(state, [`user:${subject.user}`, ...subject.groups.map((g): SubjectKey => `group:${g}`)]);
    if (cached && sameDeps(cached.deps, deps)) {
      cached.generation = cache.generation;
      cached.checkedAt = now;
      return cached.facts;
    }
    const facts = compute();
    cache.entries.delete(id);
    cache.entries.set(id, { deps, facts, generation: cache.generation, checkedAt: now });
    if (cache.entries.size > MAX_CACHED_SUBJECTS) cache.oldest.evict();
    return facts;
  }
}

function dependencies(state: ClusterState, keys: SubjectKey[]): SubjectDeps {
  const bindings = keys.map((k) => state.bindingsFor(k));
  const rules: (PolicyRule[] | undefined)[] = [];
  for (const list of bindings) for (const b of list) rules.push(state.rulesOf(b));
  return { bindings, rules };
}

function sameDeps(a: SubjectDeps, b: SubjectDeps): boolean {
  if (a.rules.length !== b.rules.length || a.bindings.length !== b.bindings.length) return false;
  for (let i = 0; i < a.rules.length; i++) if (a.rules[i] !== b.rules[i]) return false;
  for (let i = 0; i < a.bindings.length; i++) {
    const x = a.bindings[i] as Binding[];
    const y = b.bindings[i] as Binding[];
    if (x.length !== y.length) return false;
    for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) return false;
  }
  return true;
}

type PodPosture = Omit<PodFacts, 'origin' | 'namespacePolicy'>;

interface CachedPod {
  posture: PodPosture;
  /** The namespace object the policy verdict was computed against; a changed namespace is a new object. */
  namespace?: Namespace;
  policy?: PodFacts['namespacePolicy'];
  /** The pod part last handed out, shared by the alerts on this pod state (parts are never changed once made). */
  part?: Extract<PodEnrichment, { known: true }>;
  /** The network part last handed out and the namespace's policies it was computed from. */
  network?: { policies: NetworkPolicy[]; part: NetworkEnrichment };
  /** The pod's service account as the subject of its runtime alerts (`subjectOf`). */
  actor?: ActorRef;
}

/**
 * Per-pod results, keyed by the state's pod object: ClusterState replaces the object on every change
 * (new resourceVersion), so an entry can never be stale, and it goes away with the object.
 */
const podCache = new WeakMap<Pod, CachedPod>();

function podFacts(
  pod: Pod,
  origin: PodFacts['origin'],
  state: ClusterState | undefined,
): Extract<PodEnrichment, { known: true }> {
  let cached = podCache.get(pod);
  if (!cached) podCache.set(pod, (cached = { posture: podPosture(pod) }));
  const namespace = state?.namespace(pod.metadata.namespace as string);
  if (!cached.policy || cached.namespace !== namespace) {
    cached.policy = namespacePolicy(pod, namespace);
    cached.namespace = namespace;
  }
  const part = cached.part;
  if (part && part.origin === origin && part.namespacePolicy === cached.policy) return part;
  return (cached.part = { known: true, ...cached.posture, origin, namespacePolicy: cached.policy });
}

function podPosture(pod: Pod): PodPosture {
  const spec = pod.spec as PodSpec & { serviceAccountName?: unknown; nodeName?: unknown };
  const containers = [...list(spec.containers), ...list(spec.initContainers), ...list(spec.ephemeralContainers)];
  const podContext = isRecord(spec.securityContext) ? spec.securityContext : {};
  const privilegedContainers: string[] = [];
  const capabilities = new Set<string>();
  const rootness: PodFacts['runAsRoot'][] = [];
  for (const c of containers) {
    const sc = isRecord(c.securityContext) ? c.securityContext : {};
    if (sc.privileged === true) privilegedContainers.push(typeof c.name === 'string' ? c.name : '?');
    const add = isRecord(sc.capabilities) && Array.isArray(sc.capabilities.add) ? sc.capabilities.add : [];
    for (const cap of add) if (typeof cap === 'string') capabilities.add(cap);
    rootness.push(runsAsRoot(sc.runAsUser ?? podContext.runAsUser, sc.runAsNonRoot ?? podContext.runAsNonRoot));
  }
  const highest = highestLevelOfSpec(podMeta(pod), spec, 'latest');
  return {
    namespace: pod.metadata.namespace as string,
    name: pod.metadata.name,
    ...(typeof spec.serviceAccountName === 'string' ? { serviceAccount: spec.serviceAccountName } : {}),
    ...(typeof spec.nodeName === 'string' ? { node: spec.nodeName } : {}),
    privileged: privilegedContainers.length > 0,
    privilegedContainers,
    hostNetwork: spec.hostNetwork === true,
    hostPID: spec.hostPID === true,
    hostIPC: spec.hostIPC === true,
    capabilitiesAdded: [...capabilities].sort(),
    runAsRoot: rootness.includes('yes') ? 'yes' : rootness.every((r) => r === 'no') && rootness.length > 0 ? 'no' : 'possible',
    hostPathVolumes: list(spec.volumes)
      .map((v) => (isRecord(v.hostPath) && typeof v.hostPath.path === 'string' ? v.hostPath.path : undefined))
      .filter((p): p is string => p !== undefined),
    pss: { level: highest.level, version: highest.version, violations: highest.violations },
  };
}

/** UID 0 set explicitly: root. A non-zero UID, or runAsNonRoot (the kubelet refuses root): not root. */
function runsAsRoot(runAsUser: unknown, runAsNonRoot: unknown): PodFacts['runAsRoot'] {
  if (runAsUser === 0) return 'yes';
  if (typeof runAsUser === 'number' || runAsNonRoot === true) return 'no';
  return 'possible';
}

function namespacePolicy(pod: Pod, namespace: Namespace | undefined): PodFacts['namespacePolicy'] {
  if (!namespace) return { known: false, reason: `namespace ${pod.metadata.namespace} not in cluster state` };
  const policy = namespaceLevels(namespace.metadata.labels);
  const enforce = evaluatePodSpec(podMeta(pod), pod.spec as PodSpec, policy.enforce.level, policy.enforce.version);
  return {
    known: true,
    enforce: formatLevelVersion(policy.enforce),
    audit: formatLevelVersion(policy.audit),
    warn: formatLevelVersion(policy.warn),
    meetsEnforce: enforce.allowed,
    errors: policy.errors,
  };
}

function podMeta(pod: Pod): ObjectMeta {
  return {
    name: pod.metadata.name,
    namespace: pod.metadata.namespace,
    labels: pod.metadata.labels,
    annotations: pod.metadata.annotations,
  };
}

/**
 * The network part, shared by the alerts on one pod state while its namespace's NetworkPolicies are
 * the same objects (ClusterState replaces a policy on every change): comparing them costs a walk of the
 * namespace's policies, not the selector matching.
 */
function networkFacts(state: ClusterState, namespace: string, pod: Pod): NetworkEnrichment {
  const cached = namespace === pod.metadata.namespace ? podCache.get(pod) : undefined;
  if (!cached) return networkPart(state, namespace, pod);
  const policies = [...state.networkPolicies(namespace)];
  const last = cached.network;
  if (last && last.policies.length === policies.length && last.policies.every((p, i) => p === policies[i])) return last.part;
  const part = networkPart(state, namespace, pod);
  cached.network = { policies, part };
  return part;
}

function networkPart(state: ClusterState, namespace: string, pod: Pod): NetworkEnrichment {
  const exposure = networkExposure(state, namespace, pod.metadata.labels);
  const direction = (d: DirectionExposure) => ({
    isolated: d.isolated,
    policies: d.policies.slice(0, MAX_LISTED),
    defaultDeny: d.defaultDeny,
    anyPeerAllowed: d.anyPeerAllowed,
  });
  return { known: true, namespace, ingress: direction(exposure.ingress), egress: direction(exposure.egress) };
}

function failed(event: SecurityEvent, reason: string): Enrichment {
  const out: Enrichment = {};
  const { namespace, pod } = event.k8s;
  if (namespace && pod) {
    out.pod = { known: false, reason, namespace, name: pod };
    out.network = { known: false, reason };
  }
  if (event.actor || pod) out.subject = { known: false, reason };
  return out;
}

function list(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function podKey(cluster: string, namespace: string, name: string): string {
  return `${cluster}/${namespace}/${name}`;
}

/**
 * Bounded waits for pods about to arrive. A wait ends when the pod arrives through `observe`, or
 * after `maxWaitMs` on the injected clock. A pod that did not arrive is remembered for a while, so a
 * burst of alerts about a pod that never shows up costs one wait, not one per alert.
 */
class PodWaits {
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly missed = new Map<string, number>();
  private readonly oldestMissed = new OldestFirst(this.missed);
  /** Calls of `waitFor` waiting now. */
  waiting = 0;

  constructor(
    private readonly clock: Clock,
    private readonly maxWaitMs: number,
  ) {}

  async waitFor(key: string, present: () => boolean): Promise<void> {
    if (this.maxWaitMs <= 0) return;
    const missedUntil = this.missed.get(key);
    if (missedUntil !== undefined && missedUntil > this.clock.now()) return;
    this.waiting++;
    await new Promise<void>((resolve) => {
      let waiters = this.waiters.get(key);
      if (!waiters) this.waiters.set(key, (waiters = new Set()));
      const set = waiters;
      const done = () => {
        this.clock.clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
        resolve();
      };
      set.add(done);
      const timer = this.clock.setTimeout(done, this.maxWaitMs);
    });
    this.waiting--;
    if (present()) {
      this.missed.delete(key);
      return;
    }
    this.missed.delete(key); // re-insert at the end: the map's order is its age
    this.missed.set(key, this.clock.now() + MISS_MEMORY_MS);
    if (this.missed.size > MAX_MISSES) this.oldestMissed.evict();
  }

  arrived(key: string): void {
    this.missed.delete(key);
    const waiters = this.waiters.get(key);
    if (waiters) for (const done of [...waiters]) done();
  }
}
