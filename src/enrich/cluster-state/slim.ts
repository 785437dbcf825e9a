import type { LabelSelector, LabelSelectorRequirement, Meta, PolicyRule, RbacSubject, StateKind, StateObject } from './types';
import { CLUSTER_SCOPED_KINDS, isStateKind } from './types';

/**
 * Turns an object as the apiserver sent it (snapshot item, audit request/response object) into the slim
 * shape ClusterState keeps, or undefined when it is not one of our kinds or lacks a name. Untrusted input:
 * every field is type-checked and copied, never referenced, so the big original can be collected.
 */
export function slimObject(raw: unknown, kindHint?: StateKind): StateObject | undefined {
  if (!isRecord(raw)) return undefined;
  const kind = raw.kind === undefined ? kindHint : raw.kind;
  if (!isStateKind(kind)) return undefined;
  const metadata = slimMeta(raw.metadata, kind);
  if (!metadata) return undefined;
  switch (kind) {
    case 'Pod':
      return { kind, metadata, spec: slimPodSpec(raw.spec), ...podStatus(raw.status) };
    case 'Namespace':
      return { kind, metadata };
    case 'ServiceAccount':
      return typeof raw.automountServiceAccountToken === 'boolean'
        ? { kind, metadata, automountServiceAccountToken: raw.automountServiceAccountToken }
        : { kind, metadata };
    case 'Role':
      return { kind, metadata, rules: slimRules(raw.rules) };
    case 'ClusterRole': {
      const selectors = isRecord(raw.aggregationRule) ? raw.aggregationRule.clusterRoleSelectors : undefined;
      return Array.isArray(selectors)
        ? {
            kind,
            metadata,
            rules: slimRules(raw.rules),
            aggregationRule: { clusterRoleSelectors: selectors.map(slimSelector).filter(isDefined) },
          }
        : { kind, metadata, rules: slimRules(raw.rules) };
    }
    case 'RoleBinding':
    case 'ClusterRoleBinding': {
      if (!isRecord(raw.roleRef) || !isString(raw.roleRef.kind) || !isString(raw.roleRef.name)) return undefined;
      const roleRef = { kind: raw.roleRef.kind, name: raw.roleRef.name };
      return { kind, metadata, roleRef, subjects: slimSubjects(raw.subjects) };
    }
    case 'NetworkPolicy': {
      if (!isRecord(raw.spec)) return undefined;
      const spec = raw.spec;
      const podSelector = slimSelector(spec.podSelector) ?? {};
      return {
        kind,
        metadata,
        spec: {
          podSelector,
          ...(Array.isArray(spec.policyTypes) ? { policyTypes: spec.policyTypes.filter(isString) } : {}),
          ...(Array.isArray(spec.ingress) ? { ingress: spec.ingress.filter(isRecord).map((r) => peerRule(r, 'from')) } : {}),
          ...(Array.isArray(spec.egress) ? { egress: spec.egress.filter(isRecord).map((r) => peerRule(r, 'to')) } : {}),
        },
      } as StateObject;
    }
  }
}

function slimMeta(raw: unknown, kind: StateKind): Meta | undefined {
  if (!isRecord(raw) || !isString(raw.name) || raw.name === '') return undefined;
  const meta: Meta = { name: raw.name };
  if (!CLUSTER_SCOPED_KINDS.has(kind)) {
    if (!isString(raw.namespace) || raw.namespace === '') return undefined;
    meta.namespace = raw.namespace;
  }
  if (isString(raw.uid)) meta.uid = raw.uid;
  if (isString(raw.resourceVersion)) meta.resourceVersion = raw.resourceVersion;
  const labels = stringMap(raw.labels);
  if (labels) meta.labels = labels;
  const annotations = keptAnnotations(raw.annotations);
  if (annotations) meta.annotations = annotations;
  if (Array.isArray(raw.ownerReferences)) {
    const owners = raw.ownerReferences
      .filter(isRecord)
      .filter((o) => isString(o.kind) && isString(o.name))
      .map((o) => ({ kind: o.kind as string, name: o.name as string }));
    if (owners.length > 0) meta.ownerReferences = owners;
  }
  if (isString(raw.deletionTimestamp)) meta.deletionTimestamp = raw.deletionTimestamp;
  return meta;
}

/** Annotations that change a pod's security posture (seccomp/AppArmor before they were fields). */
const KEPT_ANNOTATION_PREFIXES = ['seccomp.security.alpha.kubernetes.io/', 'container.apparmor.security.beta.kubernetes.io/'];

function keptAnnotations(raw: unknown): Record<string, string> | undefined {
  const all = stringMap(raw);
  if (!all) return undefined;
  const kept = Object.entries(all).filter(([k]) => KEPT_ANNOTATION_PREFIXES.some((p) => k.startsWith(p)));
  return kept.length > 0 ? Object.fromEntries(kept) : undefined;
}

/** Pod spec fields pod security and alerts read; env, commands, mounts, resources etc. are dropped. */
const POD_SPEC_FIELDS = [
  'serviceAccountName',
  'nodeName',
  'hostNetwork',
  'hostPID',
  'hostIPC',
  'hostUsers',
  'securityContext',
  'os',
  'automountServiceAccountToken',
];
const CONTAINER_FIELDS = ['name', 'image', 'securityContext', 'livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle'];
const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'];

function slimPodSpec(raw: unknown): Record<string, unknown> {
  if (!isRecord(raw)) return {};
  const spec: Record<string, unknown> = pick(raw, POD_SPEC_FIELDS);
  for (const list of CONTAINER_LISTS) {
    const containers = raw[list];
    if (!Array.isArray(containers)) continue;
    spec[list] = containers.filter(isRecord).map((c) => {
      const slim = pick(c, CONTAINER_FIELDS);
      if (Array.isArray(c.ports)) {
        const hostPorts = c.ports.filter((p) => isRecord(p) && p.hostPort !== undefined);
        if (hostPorts.length > 0) slim.ports = hostPorts;
      }
      return slim;
    });
  }
  if (Array.isArray(raw.volumes)) {
    // The volume source type is what matters; only hostPath keeps its contents (the path).
    spec.volumes = raw.volumes.filter(isRecord).map((v) => {
      const slim: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(v)) slim[key] = key === 'name' || key === 'hostPath' ? value : {};
      return slim;
    });
  }
  return spec;
}

function podStatus(raw: unknown): { status?: { phase: string } } {
  return isRecord(raw) && isString(raw.phase) ? { status: { phase: raw.phase } } : {};
}

function slimRules(raw: unknown): PolicyRule[] {
  if (!Array.isArray(raw)) return [];
  return raw.filter(isRecord).map((r) => {
    const rule: PolicyRule = { verbs: strings(r.verbs) };
    for (const field of ['apiGroups', 'resources', 'resourceNames', 'nonResourceURLs'] as const) {
      const values = strings(r[field]);
      if (values.length > 0) rule[field] = values;
    }
    return rule;
  });
}

function slimSubjects(raw: unknown): RbacSubject[] {
  if (!Array.isArray(raw)) return [];
  return raw
    .filter(isRecord)
    .filter((s) => isString(s.kind) && isString(s.name))
    .map((s) => {
      const subject: RbacSubject = { kind: s.kind as string, name: s.name as string };
      if (isString(s.namespace) && s.namespace !== '') subject.namespace = s.namespace;
      return subject;
    });
}

export function slimSelector(raw: unknown): LabelSelector | undefined {
  if (!isRecord(raw)) return undefined;
  const selector: LabelSelector = {};
  const matchLabels = stringMap(raw.matchLabels);
  if (matchLabels) selector.matchLabels = matchLabels;
  if (Array.isArray(raw.matchExpressions)) {
    selector.matchExpressions = raw.matchExpressions.filter(isRecord).map((e): LabelSelectorRequirement => {
      const req: LabelSelectorRequirement = { key: String(e.key ?? ''), operator: String(e.operator ?? '') };
      if (Array.isArray(e.values)) req.values = strings(e.values);
      return req;
    });
  }
  return selector;
}

function peerRule(raw: Record<string, unknown>, peerField: 'from' | 'to'): Record<string, unknown[]> {
  const rule: Record<string, unknown[]> = {};
  const peers = raw[peerField];
  if (Array.isArray(peers)) rule[peerField] = peers;
  if (Array.isArray(raw.ports)) rule.ports = raw.ports;
  return rule;
}

function pick(raw: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) if (raw[f] !== undefined) out[f] = raw[f];
  return out;
}

function stringMap(raw: unknown): Record<string, string> | undefined {
  if (!isRecord(raw)) return undefined;
  const entries = Object.entries(raw).filter((e): e is [string, string] => isString(e[1]));
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

function strings(raw: unknown): string[] {
  return Array.isArray(raw) ? raw.filter(isString) : [];
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isString(v: unknown): v is string {
  return typeof v === 'string';
}

function isDefined<T>(v: T | undefined): v is T {
  return v !== undefined;
}
