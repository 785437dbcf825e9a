import { FalconerError } from '../../core/errors';
import { LEVELS, type Level, type PolicyVersion } from './types';

/** The newest policy version any check is defined for; `latest` and newer versions evaluate as this one. */
export const NEWEST_POLICY_MINOR = 37;

export class InvalidPolicyError extends FalconerError {
  constructor(message: string) {
    super('invalid_pod_security_policy', message, 400);
  }
}

export function isLevel(value: string): value is Level {
  return (LEVELS as readonly string[]).includes(value);
}

export function parseLevel(value: string): Level {
  if (isLevel(value)) return value;
  throw new InvalidPolicyError(`invalid Pod Security level ${JSON.stringify(value)}: must be one of ${LEVELS.join(', ')}`);
}

const VERSION_PATTERN = /^v1\.(0|[1-9][0-9]*)$/;

/** `latest` or `v1.N`, exactly as the namespace labels accept them. */
export function parseVersion(value: string): PolicyVersion {
  if (value === 'latest') return 'latest';
  const match = VERSION_PATTERN.exec(value);
  if (!match?.[1])
    throw new InvalidPolicyError(`invalid Pod Security version ${JSON.stringify(value)}: must be "latest" or "v1.x"`);
  return { minor: Number(match[1]) };
}

export function formatVersion(version: PolicyVersion): string {
  return version === 'latest' ? 'latest' : `v1.${version.minor}`;
}

/** The minor whose check implementations apply: `latest` and future versions use the newest ones. */
export function effectiveMinor(version: PolicyVersion): number {
  return version === 'latest' ? NEWEST_POLICY_MINOR : Math.min(version.minor, NEWEST_POLICY_MINOR);
}

export function compareLevels(a: Level, b: Level): number {
  return LEVELS.indexOf(a) - LEVELS.indexOf(b);
}
