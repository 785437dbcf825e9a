import { CHECKS, implementationAt, type CheckDefinition } from './checks';
import { extractPod } from './extract';
import type { CheckFn, Level, ObjectMeta, PodSpec, PolicyVersion, Violation } from './types';
import { effectiveMinor, formatVersion, parseLevel, parseVersion } from './version';

export interface PodSecurityResult {
  level: Level;
  /** `latest` or `v1.N`, as requested. */
  version: string;
  allowed: boolean;
  /** Failed checks in upstream order; empty when allowed. */
  violations: Violation[];
}

type BoundCheck = { id: string; check: CheckFn };

const plans = new Map<string, readonly BoundCheck[]>();

/** The checks that run for `level` at `minor`, built once per pair. */
function planFor(level: Level, minor: number): readonly BoundCheck[] {
  const key = `${level}:${minor}`;
  let plan = plans.get(key);
  if (!plan) {
    plan = buildPlan(level, minor);
    plans.set(key, plan);
  }
  return plan;
}

function buildPlan(level: Level, minor: number): BoundCheck[] {
  if (level === 'privileged') return [];
  const applies = (d: CheckDefinition): boolean => implementationAt(d, minor) !== undefined;
  const byId = new Map(CHECKS.map((d) => [d.id, d]));
  const supersededHere = (d: CheckDefinition): boolean => {
    if (level !== 'restricted' || !d.supersededBy) return false;
    const successor = byId.get(d.supersededBy);
    return successor !== undefined && applies(successor);
  };
  const levels: Array<CheckDefinition['level']> = level === 'restricted' ? ['baseline', 'restricted'] : ['baseline'];
  const plan: BoundCheck[] = [];
  for (const l of levels) {
    for (const d of CHECKS) {
      if (d.level !== l || supersededHere(d)) continue;
      const check = implementationAt(d, minor);
      if (check) plan.push({ id: d.id, check });
    }
  }
  return plan;
}

/** Runs the checks of `level` at `version` on a pod's metadata and spec. */
export function evaluatePodSpec(meta: ObjectMeta, spec: PodSpec, level: Level, version: PolicyVersion): PodSecurityResult {
  const violations: Violation[] = [];
  for (const { id, check } of planFor(level, effectiveMinor(version))) {
    const outcome = check(meta, spec);
    if (outcome)
      violations.push({
        check: id,
        reason: outcome.reason || 'unknown forbidden reason',
        detail: outcome.detail,
      });
  }
  return {
    level,
    version: formatVersion(version),
    allowed: violations.length === 0,
    violations,
  };
}

function asLevel(level: Level | string): Level {
  return parseLevel(level);
}

function asVersion(version: PolicyVersion | string | undefined): PolicyVersion {
  if (version === undefined) return 'latest';
  return typeof version === 'string' ? parseVersion(version) : version;
}

/**
 * Evaluates a Pod, a workload with a pod template (Deployment, ReplicaSet, StatefulSet, DaemonSet,
 * Job, CronJob, ReplicationController, PodTemplate) or a bare `{metadata, spec}` against the Pod
 * Security Standards at `level` and `version` (`latest` or `v1.N`).
 */
export function evaluatePodSecurity(
  podLike: unknown,
  level: Level | string,
  version: PolicyVersion | string = 'latest',
): PodSecurityResult {
  const pod = extractPod(podLike);
  return evaluatePodSpec(pod.metadata, pod.spec, asLevel(level), asVersion(version));
}

export interface HighestLevelResult {
  /** The strictest level the pod meets. */
  level: Level;
  version: string;
  /** The next stricter level, absent when the pod already meets restricted. */
  nextLevel?: Level;
  /** What keeps the pod from the next stricter level. */
  violations: Violation[];
}

export function highestLevelOfSpec(meta: ObjectMeta, spec: PodSpec, version: PolicyVersion): HighestLevelResult {
  const baseline = evaluatePodSpec(meta, spec, 'baseline', version);
  if (!baseline.allowed) {
    return {
      level: 'privileged',
      version: baseline.version,
      nextLevel: 'baseline',
      violations: baseline.violations,
    };
  }
  const restricted = evaluatePodSpec(meta, spec, 'restricted', version);
  if (!restricted.allowed) {
    return {
      level: 'baseline',
      version: restricted.version,
      nextLevel: 'restricted',
      violations: restricted.violations,
    };
  }
  return { level: 'restricted', version: restricted.version, violations: [] };
}

/** The strictest Pod Security level a pod (or workload template) meets at `version`. */
export function highestLevel(podLike: unknown, version: PolicyVersion | string = 'latest'): HighestLevelResult {
  const pod = extractPod(podLike);
  return highestLevelOfSpec(pod.metadata, pod.spec, asVersion(version));
}

/** `restricted:latest` */
export function policyName(result: Pick<PodSecurityResult, 'level' | 'version'>): string {
  return `${result.level}:${result.version}`;
}

/** `allowPrivilegeEscalation != false (container "x" must ...), runAsNonRoot != true (...)` */
export function formatViolations(violations: readonly Violation[]): string {
  return violations.map((v) => (v.detail ? `${v.reason} (${v.detail})` : v.reason)).join(', ');
}

/** The admission controller's denial: `violates PodSecurity "restricted:latest": ...`; empty when allowed. */
export function denialMessage(result: PodSecurityResult): string {
  if (result.allowed) return '';
  return `violates PodSecurity "${policyName(result)}": ${formatViolations(result.violations)}`;
}
