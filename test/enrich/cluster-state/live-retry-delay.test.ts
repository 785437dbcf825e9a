import { retryDelay } from '../../../src/enrich/cluster-state/retry-delay';

const policy = { initialMs: 500, maxMs: 30_000 };

test.each([
  // attempt, random, expected
  [0, 1, 500],
  [1, 1, 1_000],
  [2, 1, 2_000],
  [5, 1, 16_000],
  [6, 1, 30_000],
  [1_000, 1, 30_000],
  [0, 0, 250],
  [3, 0, 2_000],
  [6, 0, 15_000],
  [2, 0.5, 1_500],
])('retry %i with random %f waits %i ms', (attempt, random, expected) => {
  expect(retryDelay(attempt, policy, () => random)).toBe(expected);
});

test('the jitter stays within half to all of the ceiling', () => {
  for (let attempt = 0; attempt < 12; attempt++) {
    const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** attempt);
    const delay = retryDelay(attempt, policy);
    expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
    expect(delay).toBeLessThanOrEqual(ceiling);
  }
});
