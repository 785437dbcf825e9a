import type { ClusterState } from '../cluster-state/state';
import type { PolicyRule } from '../cluster-state/types';
import {
  bindingsFor,
  compare,
  describe,
  SUPERUSER_GROUP,
  type AppliedBinding,
  type BindingRef,
  type RoleRefSummary,
} from './authorize';
import { ruleAllows, type ResourceRequest } from './rules';
import type { RequestSubject } from './subject';

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface RiskFinding {
  /** Stable id, e.g. `secrets-read`. */
  id: string;
  severity: Severity;
  title: string;
  /** `cluster`, or the namespace a RoleBinding limits it to. */
  scope: string;
  binding?: BindingRef;
  role?: RoleRefSummary;
  /** How it is granted, in the apiserver's words. */
  grantedBy: string;
  /** Set when the granting rule lists resourceNames: only those objects (severity lowered one step). */
  resourceNames?: string[];
}

type ProbeRequest = Omit<ResourceRequest, 'namespace' | 'name'> & { clusterScoped?: boolean };

interface Probe {
  id: string;
  severity: Severity;
  title: string;
  requests: ProbeRequest[];
  /** `all`: the role must grant every request (e.g. CSR approval needs two permissions). Default `any`. */
  needs?: 'all';
  /** Only this object counts (and the rule may name it); limits the scope too. */
  object?: { namespace: string; name: string };
}

const RBAC = 'rbac.authorization.k8s.io';
const each = (verbs: string[], apiGroup: string, resources: string[], more: Partial<ProbeRequest> = {}): ProbeRequest[] =>
  verbs.flatMap((verb) =>
    resources.map((r) => {
      const [resource, subresource] = r.split('/') as [string, string | undefined];
      return { verb, apiGroup, resource, ...(subresource ? { subresource } : {}), ...more };
    }),
  );

/** The risky permissions Falconer reports, as KubiScan, krane, rbac-tool and rbac-police rank them. */
export const PROBES: readonly Probe[] = [
  { id: 'secrets-read', severity: 'high', title: 'read secrets', requests: each(['get', 'list', 'watch'], '', ['secrets']) },
  {
    id: 'workload-create',
    severity: 'high',
    title: 'create or change pods and workloads',
    requests: [
      ...each(['create'], '', ['pods']),
      ...each(['create', 'update', 'patch'], '', ['replicationcontrollers']),
      ...each(['create', 'update', 'patch'], 'apps', ['deployments', 'daemonsets', 'statefulsets', 'replicasets']),
      ...each(['create', 'update', 'patch'], 'batch', ['jobs', 'cronjobs']),
    ],
  },
  { id: 'pods-exec', severity: 'high', title: 'exec into pods', requests: each(['create', 'get'], '', ['pods/exec']) },
  { id: 'pods-attach', severity: 'high', title: 'attach to pods', requests: each(['create', 'get'], '', ['pods/attach']) },
  {
    id: 'ephemeral-containers',
    severity: 'high',
    title: 'add ephemeral containers to pods',
    requests: each(['update', 'patch'], '', ['pods/ephemeralcontainers']),
  },
  {
    id: 'nodes-proxy',
    severity: 'critical',
    title: 'reach the kubelet API through nodes/proxy',
    requests: each(['get', 'create'], '', ['nodes/proxy'], { clusterScoped: true }),
  },
  {
    id: 'escalate',
    severity: 'critical',
    title: 'escalate: grant permissions it does not hold',
    requests: [...each(['escalate'], RBAC, ['roles']), ...each(['escalate'], RBAC, ['clusterroles'], { clusterScoped: true })],
  },
  {
    id: 'bind',
    severity: 'critical',
    title: 'bind roles it does not hold',
    requests: [...each(['bind'], RBAC, ['roles']), ...each(['bind'], RBAC, ['clusterroles'], { clusterScoped: true })],
  },
  {
    id: 'impersonate',
    severity: 'critical',
    title: 'impersonate users, groups or service accounts',
    requests: [
      ...each(['impersonate'], '', ['users', 'groups'], { clusterScoped: true }),
      ...each(['impersonate'], '', ['serviceaccounts']),
      ...each(['impersonate'], 'authentication.k8s.io', ['uids', 'userextras/*'], { clusterScoped: true }),
    ],
  },
  {
    id: 'token-create',
    severity: 'high',
    title: 'mint service account tokens',
    requests: each(['create'], '', ['serviceaccounts/token']),
  },
  {
    id: 'csr-approve',
    severity: 'high',
    title: 'approve certificate signing requests',
    needs: 'all',
    requests: [
      ...each(['update'], 'certificates.k8s.io', ['certificatesigningrequests/approval'], { clusterScoped: true }),
      ...each(['approve'], 'certificates.k8s.io', ['signers'], { clusterScoped: true }),
    ],
  },
  {
    id: 'webhook-config-write',
    severity: 'critical',
    title: 'write admission webhook configurations',
    requests: each(
      ['create', 'update', 'patch', 'delete'],
      'admissionregistration.k8s.io',
      ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'],
      { clusterScoped: true },
    ),
  },
  {
    id: 'rolebinding-create',
    severity: 'high',
    title: 'create role bindings',
    requests: [
      ...each(['create'], RBAC, ['rolebindings']),
      ...each(['create'], RBAC, ['clusterrolebindings'], { clusterScoped: true }),
    ],
  },
  {
    id: 'aws-auth-modify',
    severity: 'critical',
    title: 'modify the EKS aws-auth ConfigMap',
    requests: each(['update', 'patch'], '', ['configmaps']),
    object: { namespace: 'kube-system', name: 'aws-auth' },
  },
];

const FULL_CONTROL_ID = 'cluster-admin';

interface RoleHit {
  probe: Probe | 'full-control';
  resourceNames?: string[];
}

// Per-role results, keyed by the (immutable, replaced-on-change) rules array; bindings share roles.
const hitsCache = new WeakMap<PolicyRule[], { cluster?: RoleHit[]; namespaced?: RoleHit[] }>();

/**
 * The risky permissions the subject holds, each naming the binding, role and scope that grant it,
 * most severe first. A binding that grants full control (`*` verbs on `*` resources in `*` groups)
 * is reported once as `cluster-admin`; the narrower findings it implies are left out.
 */
export function riskyPermissions(
  state: ClusterState,
  subject: RequestSubject,
  /** The subject's bindings, when the caller already has them from bindingsFor. */
  bindings?: readonly AppliedBinding[],
): RiskFinding[] {
  const findings: RiskFinding[] = [];
  if (subject.groups.includes(SUPERUSER_GROUP)) {
    findings.push({
      id: FULL_CONTROL_ID,
      severity: 'critical',
      title: `full control: member of ${SUPERUSER_GROUP}, which bypasses RBAC`,
      scope: 'cluster',
      grantedBy: `Group "${SUPERUSER_GROUP}"`,
    });
  }
  for (const applied of bindings ?? bindingsFor(state, subject)) findings.push(...findingsOf(applied));
  return sortFindings(findings);
}

export function sortFindings(findings: RiskFinding[]): RiskFinding[] {
  const rank = (f: RiskFinding) => SEVERITIES.indexOf(f.severity);
  return findings.sort(
    (a, b) =>
      rank(a) - rank(b) ||
      Number(a.scope !== 'cluster') - Number(b.scope !== 'cluster') ||
      compare(a.id, b.id) ||
      compare(a.grantedBy, b.grantedBy),
  );
}

function findingsOf(applied: AppliedBinding): RiskFinding[] {
  if (!applied.rules) return [];
  const clusterWide = applied.binding.kind === 'ClusterRoleBinding';
  const hits = roleHits(applied.rules, clusterWide);
  const full = hits.find((h) => h.probe === 'full-control');
  const kept = full ? [full] : hits;
  const out: RiskFinding[] = [];
  for (const hit of kept) {
    const probe = hit.probe;
    if (probe !== 'full-control' && probe.object && !clusterWide && applied.scope !== probe.object.namespace) continue;
    const base: Omit<RiskFinding, 'id' | 'severity' | 'title'> = {
      scope: applied.scope,
      binding: applied.binding,
      role: applied.role,
      grantedBy: describe(applied),
    };
    if (probe === 'full-control') {
      out.push({
        id: FULL_CONTROL_ID,
        // Full control inside one namespace (admin of it) is serious, but not the whole cluster.
        severity: clusterWide ? 'critical' : 'high',
        title: clusterWide ? 'full control of the cluster (* on *)' : `full control of namespace ${applied.scope} (* on *)`,
        ...base,
      });
      continue;
    }
    const named = hit.resourceNames && !probe.object;
    out.push({
      id: probe.id,
      severity: named ? lower(probe.severity) : probe.severity,
      title: probe.title,
      ...base,
      ...(hit.resourceNames ? { resourceNames: hit.resourceNames } : {}),
    });
  }
  return out;
}

function roleHits(rules: PolicyRule[], clusterWide: boolean): RoleHit[] {
  let entry = hitsCache.get(rules);
  if (!entry) hitsCache.set(rules, (entry = {}));
  const field = clusterWide ? 'cluster' : 'namespaced';
  return (entry[field] ??= computeHits(rules, clusterWide));
}

function computeHits(rules: PolicyRule[], clusterWide: boolean): RoleHit[] {
  const hits: RoleHit[] = [];
  if (rules.some(isFullControl)) hits.push({ probe: 'full-control' });
  const first = firstGranting(rules);
  for (const probe of PROBES) {
    // Through a RoleBinding, permissions on cluster-scoped resources never take effect.
    const requests = probe.requests.filter((r) => clusterWide || !r.clusterScoped);
    if (requests.length === 0 || (probe.needs === 'all' && requests.length < probe.requests.length)) continue;
    const grants = requests.map((r) => first[REQUEST_INDEX.get(r)!]);
    const granted = probe.needs === 'all' ? grants.every(Boolean) : grants.some(Boolean);
    if (!granted) continue;
    const names = [...new Set(grants.flatMap((g) => g?.resourceNames ?? []))];
    const unrestricted = grants.some((g) => g && !g.resourceNames);
    hits.push(unrestricted || names.length === 0 ? { probe } : { probe, resourceNames: names });
  }
  return hits;
}

/** Every probe request, numbered, with the object its probe is limited to. */
const PROBE_REQUESTS = PROBES.flatMap((probe) => probe.requests.map((request) => ({ request, name: probe.object?.name })));
const REQUEST_INDEX = new Map(PROBE_REQUESTS.map((e, i) => [e.request, i]));

/**
 * Per probe request, the first of `rules` that grants it. What one rule grants is worked out once per
 * rule object and kept: an aggregated role's rules array is rebuilt whenever a ClusterRole changes, but
 * its rules are the same objects, so a rebuilt array of a thousand rules costs lookups, not evaluations.
 */
function firstGranting(rules: PolicyRule[]): (PolicyRule | undefined)[] {
  const first: (PolicyRule | undefined)[] = new Array(PROBE_REQUESTS.length);
  let missing = PROBE_REQUESTS.length;
  for (const rule of rules) {
    const granted = grantsOf(rule);
    for (let i = 0; i < granted.length; i++) {
      if (granted[i] && !first[i]) {
        first[i] = rule;
        missing--;
      }
    }
    if (missing === 0) break;
  }
  return first;
}

const grantsCache = new WeakMap<PolicyRule, Uint8Array>();

function grantsOf(rule: PolicyRule): Uint8Array {
  let granted = grantsCache.get(rule);
  if (!granted) {
    granted = new Uint8Array(PROBE_REQUESTS.length);
    PROBE_REQUESTS.forEach(({ request, name }, i) => {
      if (grants(rule, request, name)) granted![i] = 1;
    });
    grantsCache.set(rule, granted);
  }
  return granted;
}

/**
 * Whether a rule grants a probe request. Without a fixed object, rules limited to resourceNames count
 * too (reported with those names): a grant on one named secret is still worth knowing.
 */
function grants(rule: PolicyRule, request: ProbeRequest, name: string | undefined): boolean {
  if (name !== undefined) return ruleAllows(rule, { ...request, name });
  return ruleAllows(rule.resourceNames ? { ...rule, resourceNames: [] } : rule, request);
}

function isFullControl(rule: PolicyRule): boolean {
  return (
    rule.verbs.includes('*') &&
    (rule.apiGroups ?? []).includes('*') &&
    (rule.resources ?? []).includes('*') &&
    (rule.resourceNames ?? []).length === 0
  );
}

function lower(s: Severity): Severity {
  return SEVERITIES[Math.min(SEVERITIES.indexOf(s) + 1, SEVERITIES.length - 1)] as Severity;
}
