export * from './types';
export {
  evaluatePodSecurity,
  evaluatePodSpec,
  highestLevel,
  highestLevelOfSpec,
  denialMessage,
  formatViolations,
  policyName,
  type PodSecurityResult,
  type HighestLevelResult,
} from './evaluate';
export { extractPod, tryExtractPod, NotAPodError, EVALUABLE_KINDS, type ExtractedPod } from './extract';
export {
  namespaceLevels,
  compareWithNamespace,
  formatLevelVersion,
  MODES,
  type Mode,
  type LevelVersion,
  type NamespacePolicy,
  type NamespaceComparison,
} from './namespace';
export { parseLevel, parseVersion, formatVersion, compareLevels, InvalidPolicyError, NEWEST_POLICY_MINOR } from './version';
export { CHECKS } from './checks';
