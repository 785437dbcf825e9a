import type { RbacSubject } from '../enrich/cluster-state/types';
import { SEVERITIES, type Severity } from '../enrich/rbac/risky';

export { SEVERITIES, type Severity };

export type Area = 'rbac' | 'pss' | 'network';
export const AREAS: readonly Area[] = ['rbac', 'pss', 'network'];

/** The object a finding is about (a namespace, a role, a binding, a service account, a pod's workload). */
export interface ObjectRef {
  kind: string;
  name: string;
  namespace?: string;
}

/**
 * One thing to fix. `id` names the kind of finding (docs/posture.md lists them all); `key` names this
 * instance and stays the same between runs while the problem lasts, so runs can be compared.
 */
export interface Finding {
  id: string;
  area: Area;
  severity: Severity;
  key: string;
  object: ObjectRef;
  /** One line: what is wrong. */
  title: string;
  /** One line: what to do about it. */
  fix: string;
  subject?: RbacSubject;
  /** How it is granted, in the apiserver's words (RBAC findings). */
  grantedBy?: string;
  /** The affected pods' workloads (`Deployment/web`), a sample; `podCount` counts the pods. */
  workloads?: string[];
  podCount?: number;
  /** Granted by Kubernetes' own bootstrap RBAC (`kubernetes.io/bootstrapping: rbac-defaults`): listed, not scored. */
  builtin?: boolean;
}

export const MAX_LISTED_PODS = 10;

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** `--fail-on high` fails on high and critical. */
export function atLeastSeverity(s: Severity, threshold: Severity): boolean {
  return severityRank(s) <= severityRank(threshold);
}

export function isSeverity(value: string): value is Severity {
  return (SEVERITIES as readonly string[]).includes(value);
}

export function refString(ref: ObjectRef): string {
  return ref.namespace ? `${ref.kind} ${ref.namespace}/${ref.name}` : `${ref.kind} ${ref.name}`;
}

export function subjectString(s: RbacSubject): string {
  return s.kind === 'ServiceAccount' ? `ServiceAccount ${s.namespace ?? ''}/${s.name}` : `${s.kind} ${s.name}`;
}

/** Most severe first; then more pods first; then by id and key (a stable order for diffs). */
export function sortFindings<F extends Finding>(findings: F[]): F[] {
  return findings.sort(
    (a, b) =>
      severityRank(a.severity) - severityRank(b.severity) ||
      (b.podCount ?? 0) - (a.podCount ?? 0) ||
      cmp(a.id, b.id) ||
      cmp(a.key, b.key),
  );
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A pod's workload: its controller, with a Deployment's ReplicaSet folded into the Deployment. */
export function workloadOf(pod: {
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    ownerReferences?: { kind: string; name: string }[];
  };
}): ObjectRef {
  const ns = pod.metadata.namespace ?? '';
  const owner = pod.metadata.ownerReferences?.[0];
  if (!owner) return { kind: 'Pod', namespace: ns, name: pod.metadata.name };
  const hash = pod.metadata.labels?.['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`)) {
    return { kind: 'Deployment', namespace: ns, name: owner.name.slice(0, -hash.length - 1) };
  }
  return { kind: owner.kind, namespace: ns, name: owner.name };
}
