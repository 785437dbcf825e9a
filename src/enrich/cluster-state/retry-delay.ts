export interface RetryPolicy {
  /** Delay before the first retry. */
  initialMs: number;
  /** Ceiling the doubling stops at. */
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { initialMs: 500, maxMs: 30_000 };

/**
 * Delay before retry number `attempt` (0-based): doubling from `initialMs` up to `maxMs`, then scaled into
 * [50%, 100%] by `random` so many Falconer replicas that lost the API server together do not return in step.
 */
export function retryDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.5 + 0.5 * random()));
}
