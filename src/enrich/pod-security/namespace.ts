import { evaluatePodSpec, type PodSecurityResult } from './evaluate';
import { extractPod } from './extract';
import { isObject } from './pod-spec';
import type { Level, PolicyVersion } from './types';
import { compareLevels, formatVersion, isLevel, parseVersion } from './version';

export const MODES = ['enforce', 'audit', 'warn'] as const;
export type Mode = (typeof MODES)[number];

export interface LevelVersion {
  level: Level;
  version: PolicyVersion;
}

export interface NamespacePolicy {
  enforce: LevelVersion;
  audit: LevelVersion;
  warn: LevelVersion;
  /** Labels that could not be parsed, e.g. `pod-security.kubernetes.io/enforce: "strict"`. */
  errors: string[];
}

const LABEL_PREFIX = 'pod-security.kubernetes.io/';

const PRIVILEGED_LATEST: LevelVersion = {
  level: 'privileged',
  version: 'latest',
};

/**
 * Reads the `pod-security.kubernetes.io/{enforce,audit,warn}[-version]` labels the way the admission
 * controller does (api/helpers.go `PolicyToEvaluate`): an unset label falls back to the default
 * (privileged, latest); an invalid level fails closed for enforce (restricted) and open for audit and warn
 * (privileged); an invalid version means latest. With a valid `enforce` label and no `warn` label, warn
 * is raised to the enforce level when that is stricter, at the enforce version unless `warn-version` is
 * set, so users see warnings for what enforce would reject. Audit never follows enforce.
 */
export function namespaceLevels(
  namespaceLabels: Record<string, string> | undefined,
  defaults: Partial<Record<Mode, LevelVersion>> = {},
): NamespacePolicy {
  const labels = isObject(namespaceLabels) ? namespaceLabels : {};
  const errors: string[] = [];
  const read = (mode: Mode): LevelVersion => {
    const result = { ...(defaults[mode] ?? PRIVILEGED_LATEST) };
    const levelLabel = LABEL_PREFIX + mode;
    const rawLevel = labels[levelLabel];
    if (rawLevel !== undefined) {
      if (isLevel(rawLevel)) result.level = rawLevel;
      else {
        result.level = mode === 'enforce' ? 'restricted' : 'privileged';
        errors.push(`${levelLabel}=${JSON.stringify(rawLevel)}: must be one of privileged, baseline, restricted`);
      }
    }
    const versionLabel = `${levelLabel}-version`;
    const rawVersion = labels[versionLabel];
    if (rawVersion !== undefined) {
      try {
        result.version = parseVersion(rawVersion);
      } catch {
        result.version = 'latest';
        errors.push(`${versionLabel}=${JSON.stringify(rawVersion)}: must be "latest" or "v1.x"`);
      }
    }
    return result;
  };
  const enforce = read('enforce');
  const audit = read('audit');
  const warn = read('warn');
  const enforceSet = isLevel(labels[`${LABEL_PREFIX}enforce`] ?? '');
  if (enforceSet && labels[`${LABEL_PREFIX}warn`] === undefined && compareLevels(enforce.level, warn.level) > 0) {
    warn.level = enforce.level;
    if (labels[`${LABEL_PREFIX}warn-version`] === undefined) warn.version = enforce.version;
  }
  return { enforce, audit, warn, errors };
}

export interface ModeVerdict extends PodSecurityResult {
  mode: Mode;
}

export interface NamespaceComparison {
  policy: NamespacePolicy;
  /** Whether the pod would be admitted by the namespace's enforce level. */
  meetsEnforce: boolean;
  verdicts: Record<Mode, ModeVerdict>;
}

/** Evaluates a pod (or workload template) against each of its namespace's three Pod Security modes. */
export function compareWithNamespace(podLike: unknown, namespaceLabels: Record<string, string> | undefined): NamespaceComparison {
  const pod = extractPod(podLike);
  const policy = namespaceLevels(namespaceLabels);
  const verdict = (mode: Mode): ModeVerdict => ({
    mode,
    ...evaluatePodSpec(pod.metadata, pod.spec, policy[mode].level, policy[mode].version),
  });
  const verdicts = {
    enforce: verdict('enforce'),
    audit: verdict('audit'),
    warn: verdict('warn'),
  };
  return { policy, meetsEnforce: verdicts.enforce.allowed, verdicts };
}

export function formatLevelVersion(lv: LevelVersion): string {
  return `${lv.level}:${formatVersion(lv.version)}`;
}
