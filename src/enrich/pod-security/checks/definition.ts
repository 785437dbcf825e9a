import type { CheckFn } from '../types';

/** One Pod Security Standards control with its versioned implementations. */
export interface CheckDefinition {
  /** Upstream check id, e.g. `capabilities_restricted`. */
  id: string;
  level: 'baseline' | 'restricted';
  /**
   * A baseline check that a restricted check fully covers: at the restricted level it is skipped
   * at every version where that restricted check applies, so a violation is reported once.
   */
  supersededBy?: string;
  /** Implementations by the first policy minor they apply to, oldest first. */
  versions: ReadonlyArray<{ since: number; check: CheckFn }>;
}

/** The implementation in force at `minor`: the newest one not newer than it. */
export function implementationAt(definition: CheckDefinition, minor: number): CheckFn | undefined {
  let found: CheckFn | undefined;
  for (const v of definition.versions) if (v.since <= minor) found = v.check;
  return found;
}
