import type { ClusterState } from '../enrich/cluster-state/state';
import type { Namespace, Pod } from '../enrich/cluster-state/types';
import {
  compareLevels,
  evaluatePodSpec,
  formatLevelVersion,
  formatViolations,
  highestLevelOfSpec,
  namespaceLevels,
  LEVELS,
  type Level,
  type LevelVersion,
  type Mode,
  type ObjectMeta,
  type PodSpec,
  type Violation,
} from '../enrich/pod-security';
import {
  cmp,
  MAX_LISTED_PODS,
  refString,
  sortFindings,
  workloadOf,
  type Finding,
  type ObjectRef,
  type Severity,
} from './finding';

const LABEL_PREFIX = 'pod-security.kubernetes.io/';

export interface WorkloadViolations {
  workload: ObjectRef;
  pods: number;
  /** `allowPrivilegeEscalation != false (container "x" must ...)`, as the admission controller words it. */
  violations: string;
}

export interface LevelBlockers {
  level: Level;
  pods: number;
  workloads: WorkloadViolations[];
}

export interface NamespacePss {
  namespace: string;
  /** False when pods name this namespace but the state has no Namespace object: its labels are unknown. */
  known: boolean;
  /** The `pod-security.kubernetes.io/*` labels as set. */
  labels: Record<string, string>;
  /** Effective `level:version` per mode, defaulted as the admission controller does (warn follows enforce). */
  enforce: string;
  audit: string;
  warn: string;
  enforceLabelled: boolean;
  labelErrors: string[];
  pods: number;
  /** The strictest level every pod meets (at the enforce version); restricted for a namespace with no pods. */
  highestLevel: Level;
  /** `can enforce restricted`, or `3 pods block restricted: ...`, as `kubescape predict pss` answers. */
  verdict: string;
  /** For each level stricter than the enforced one: the pods that keep it from being enforced. */
  blockers: LevelBlockers[];
}

export interface PssReport {
  namespaces: NamespacePss[];
  findings: Finding[];
  counts: { namespaces: number; pods: number };
}

const MODE_SEVERITY: Record<Mode, Severity> = { enforce: 'high', audit: 'medium', warn: 'low' };

/**
 * Pod Security coverage per namespace: its labels with upstream defaulting, the strictest level all its
 * pods meet and so whether enforce can be raised, and the pods that violate the namespace's own levels.
 */
export function pssReport(state: ClusterState): PssReport {
  const podsByNs = new Map<string, Pod[]>();
  for (const obj of state.all('Pod')) {
    const pod = obj as Pod;
    const ns = pod.metadata.namespace as string;
    const list = podsByNs.get(ns);
    if (list) list.push(pod);
    else podsByNs.set(ns, [pod]);
  }
  const names = new Set<string>(podsByNs.keys());
  for (const ns of state.all('Namespace')) names.add(ns.metadata.name);
  const namespaces: NamespacePss[] = [];
  const findings: Finding[] = [];
  let podTotal = 0;
  for (const name of [...names].sort(cmp)) {
    const pods = podsByNs.get(name) ?? [];
    podTotal += pods.length;
    const result = namespaceCoverage(name, state.namespace(name), pods);
    namespaces.push(result.summary);
    findings.push(...result.findings);
  }
  return { namespaces, findings: sortFindings(findings), counts: { namespaces: namespaces.length, pods: podTotal } };
}

function namespaceCoverage(name: string, ns: Namespace | undefined, pods: Pod[]): { summary: NamespacePss; findings: Finding[] } {
  const labels = ns?.metadata.labels ?? {};
  const policy = namespaceLevels(labels);
  const psLabels = Object.fromEntries(Object.entries(labels).filter(([k]) => k.startsWith(LABEL_PREFIX)));
  const enforceLabelled = Object.hasOwn(labels, `${LABEL_PREFIX}enforce`);
  const findings: Finding[] = [];
  const nsRef: ObjectRef = { kind: 'Namespace', name };

  // Per workload: the strictest level its pods meet, and what each mode would say about them.
  type Acc = {
    workload: ObjectRef;
    pods: number;
    level: Level;
    nextViolations: Violation[];
    modes: Partial<Record<Mode, Violation[]>>;
  };
  const byWorkload = new Map<string, Acc>();
  let highest: Level = 'restricted';
  for (const pod of pods) {
    const meta = pod.metadata as ObjectMeta;
    const spec = pod.spec as PodSpec;
    const top = highestLevelOfSpec(meta, spec, policy.enforce.version);
    if (compareLevels(top.level, highest) < 0) highest = top.level;
    const workload = workloadOf(pod);
    const wk = refString(workload);
    let acc = byWorkload.get(wk);
    if (!acc) byWorkload.set(wk, (acc = { workload, pods: 0, level: top.level, nextViolations: top.violations, modes: {} }));
    acc.pods++;
    if (compareLevels(top.level, acc.level) < 0) {
      acc.level = top.level;
      acc.nextViolations = top.violations;
    }
    for (const mode of ['enforce', 'audit', 'warn'] as const) {
      if (acc.modes[mode]) continue;
      const violations = modeViolations(meta, spec, policy[mode], policy.enforce, top.level);
      if (violations.length > 0) acc.modes[mode] = violations;
    }
  }
  const workloads = [...byWorkload.values()].sort((a, b) => cmp(refString(a.workload), refString(b.workload)));

  const enforced = policy.enforce.level;
  const blockers: LevelBlockers[] = [];
  for (const level of LEVELS) {
    if (compareLevels(level, enforced) <= 0) continue;
    const blocking = workloads.filter((w) => compareLevels(w.level, level) < 0);
    if (blocking.length === 0) continue;
    blockers.push({
      level,
      pods: blocking.reduce((n, w) => n + w.pods, 0),
      workloads: blocking.map((w) => ({ workload: w.workload, pods: w.pods, violations: formatViolations(w.nextViolations) })),
    });
  }
  const violatingEnforce = workloads.filter((w) => compareLevels(w.level, enforced) < 0).reduce((n, w) => n + w.pods, 0);
  const verdict = verdictFor(enforced, highest, blockers, { pods: violatingEnforce });

  if (!enforceLabelled && ns) {
    findings.push({
      id: 'pss.no-enforce',
      area: 'pss',
      severity: 'medium',
      key: `pss.no-enforce/${name}`,
      object: nsRef,
      title: `namespace ${name} has no pod-security.kubernetes.io/enforce label: its pods are not checked (privileged)`,
      fix: `kubectl label namespace ${name} pod-security.kubernetes.io/enforce=${highest === 'privileged' ? 'baseline' : highest}${
        highest === 'privileged' ? ' (after fixing the pods that need privileged)' : ''
      }`,
    });
  } else if (ns && compareLevels(highest, enforced) > 0) {
    findings.push({
      id: 'pss.enforce-can-be-raised',
      area: 'pss',
      severity: 'low',
      key: `pss.enforce-can-be-raised/${name}`,
      object: nsRef,
      title: `namespace ${name} enforces ${enforced}, but all its pods meet ${highest}`,
      fix: `kubectl label --overwrite namespace ${name} pod-security.kubernetes.io/enforce=${highest}`,
    });
  }
  for (const error of policy.errors) {
    findings.push({
      id: 'pss.invalid-label',
      area: 'pss',
      severity: 'medium',
      key: `pss.invalid-label/${name}/${error.split('=')[0]}`,
      object: nsRef,
      title: `namespace ${name}: ${error}`,
      fix: 'set the label to privileged, baseline or restricted (version: latest or v1.N); an invalid enforce level acts as restricted',
    });
  }
  for (const w of workloads) {
    for (const mode of ['enforce', 'audit', 'warn'] as const) {
      const violations = w.modes[mode];
      if (!violations) continue;
      const lv = formatLevelVersion(policy[mode]);
      findings.push({
        id: `pss.pod-violates-${mode}`,
        area: 'pss',
        severity: MODE_SEVERITY[mode],
        key: `pss.pod-violates-${mode}/${name}/${w.workload.kind}/${w.workload.name}`,
        object: w.workload,
        title: `${refString(w.workload)} violates its namespace's ${mode} level ${lv}: ${formatViolations(violations)}`,
        fix:
          mode === 'enforce'
            ? 'these pods were admitted before the label or are exempt; fix the pod template or they are rejected when recreated'
            : `fix the pod template so it meets ${policy[mode].level}`,
        workloads: [`${w.workload.kind}/${w.workload.name}`].slice(0, MAX_LISTED_PODS),
        podCount: w.pods,
      });
    }
  }

  return {
    summary: {
      namespace: name,
      known: ns !== undefined,
      labels: psLabels,
      enforce: formatLevelVersion(policy.enforce),
      audit: formatLevelVersion(policy.audit),
      warn: formatLevelVersion(policy.warn),
      enforceLabelled,
      labelErrors: policy.errors,
      pods: pods.length,
      highestLevel: highest,
      verdict,
      blockers,
    },
    findings,
  };
}

/** The mode's violations; skipped when the pod is known to meet that level at the enforce version. */
function modeViolations(
  meta: ObjectMeta,
  spec: PodSpec,
  mode: LevelVersion,
  enforce: LevelVersion,
  podLevel: Level,
): Violation[] {
  if (mode.level === 'privileged') return [];
  const sameVersion = JSON.stringify(mode.version) === JSON.stringify(enforce.version);
  if (sameVersion && compareLevels(podLevel, mode.level) >= 0) return [];
  return evaluatePodSpec(meta, spec, mode.level, mode.version).violations;
}

function verdictFor(enforced: Level, highest: Level, blockers: LevelBlockers[], blockersOfEnforced: { pods: number }): string {
  if (highest === 'restricted') return 'can enforce restricted';
  const restricted = blockers.find((b) => b.level === 'restricted');
  const lead = compareLevels(highest, enforced) > 0 ? `can enforce ${highest}; ` : '';
  if (!restricted) {
    const violating = blockersOfEnforced.pods;
    return violating > 0
      ? `enforces ${enforced}; ${violating} running pod${violating === 1 ? '' : 's'} violate${violating === 1 ? 's' : ''} it`
      : `enforces ${enforced}`;
  }
  const names = restricted.workloads.slice(0, 3).map((w) => `${w.workload.kind}/${w.workload.name}`);
  const more = restricted.workloads.length > 3 ? `, and ${restricted.workloads.length - 3} more` : '';
  return `${lead}${restricted.pods} pod${restricted.pods === 1 ? '' : 's'} block${restricted.pods === 1 ? 's' : ''} restricted: ${names.join(', ')}${more}`;
}
