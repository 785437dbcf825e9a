/**
 * How namespace labels resolve to the three modes, case by case as upstream's TestPolicyToEvaluate
 * (kubernetes/pod-security-admission api/helpers_test.go) states for `PolicyToEvaluate` (api/helpers.go):
 * with a valid `enforce` label and no `warn` label, warn takes the enforce level when that is stricter,
 * and the enforce version unless `warn-version` is set. Audit never follows enforce.
 */
import { compareWithNamespace, formatLevelVersion, namespaceLevels } from '../../../src/enrich/pod-security';

const P = 'pod-security.kubernetes.io/';

function labels(...kvs: string[]): Record<string, string> {
  const out: Record<string, string> = { 'other-label': 'foo-bar' };
  for (let i = 0; i < kvs.length; i += 2) out[P + kvs[i]] = String(kvs[i + 1]);
  return out;
}

type Row = [desc: string, labels: Record<string, string>, enforce: string, warn: string, audit: string, errors: number];

// Each row is the upstream test case of the same `desc`, in its order.
const rows: Row[] = [
  ['simple enforce', labels('enforce', 'baseline'), 'baseline:latest', 'baseline:latest', 'privileged:latest', 0],
  ['simple warn', labels('warn', 'restricted'), 'privileged:latest', 'restricted:latest', 'privileged:latest', 0],
  ['simple audit', labels('audit', 'baseline'), 'privileged:latest', 'privileged:latest', 'baseline:latest', 0],
  [
    'enforce & warn',
    labels('enforce', 'baseline', 'warn', 'restricted'),
    'baseline:latest',
    'restricted:latest',
    'privileged:latest',
    0,
  ],
  [
    'enforce version',
    labels('enforce', 'baseline', 'enforce-version', 'v1.22'),
    'baseline:v1.22',
    'baseline:v1.22',
    'privileged:latest',
    0,
  ],
  [
    'enforce version & warn-version',
    labels('enforce', 'baseline', 'enforce-version', 'v1.22', 'warn-version', 'latest'),
    'baseline:v1.22',
    'baseline:latest',
    'privileged:latest',
    0,
  ],
  [
    'enforce & warn-version',
    labels('enforce', 'baseline', 'warn-version', 'v1.23'),
    'baseline:latest',
    'baseline:v1.23',
    'privileged:latest',
    0,
  ],
  [
    'fully specd',
    labels(
      'enforce',
      'baseline',
      'enforce-version',
      'v1.20',
      'warn',
      'restricted',
      'warn-version',
      'v1.21',
      'audit',
      'restricted',
      'audit-version',
      'v1.22',
    ),
    'baseline:v1.20',
    'restricted:v1.21',
    'restricted:v1.22',
    0,
  ],
  // An explicit warn label wins, even when it is laxer than enforce.
  [
    'enforce no warn',
    labels('enforce', 'baseline', 'warn', 'privileged'),
    'baseline:latest',
    'privileged:latest',
    'privileged:latest',
    0,
  ],
  // An invalid warn level still counts as set: it fails open instead of following enforce.
  [
    'enforce warn error',
    labels('enforce', 'baseline', 'warn', 'foo'),
    'baseline:latest',
    'privileged:latest',
    'privileged:latest',
    1,
  ],
  // An invalid enforce level fails closed, but is not "explicitly set", so warn keeps its default.
  ['enforce error', labels('enforce', 'foo'), 'restricted:latest', 'privileged:latest', 'privileged:latest', 1],
  // Beyond upstream's table, from the same code: only a stricter enforce raises warn, and an
  // enforce-version label without an enforce level changes nothing for warn.
  [
    'enforce privileged',
    labels('enforce', 'privileged', 'enforce-version', 'v1.25'),
    'privileged:v1.25',
    'privileged:latest',
    'privileged:latest',
    0,
  ],
  ['enforce-version alone', labels('enforce-version', 'v1.25'), 'privileged:v1.25', 'privileged:latest', 'privileged:latest', 0],
  [
    'restricted enforce with an invalid version',
    labels('enforce', 'restricted', 'enforce-version', '1.30'),
    'restricted:latest',
    'restricted:latest',
    'privileged:latest',
    1,
  ],
];

describe('namespace labels resolve as PolicyToEvaluate does', () => {
  it.each(rows)('%s', (_desc, nsLabels, enforce, warn, audit, errors) => {
    const policy = namespaceLevels(nsLabels);
    expect({
      enforce: formatLevelVersion(policy.enforce),
      warn: formatLevelVersion(policy.warn),
      audit: formatLevelVersion(policy.audit),
      errors: policy.errors.length,
    }).toEqual({ enforce, warn, audit, errors });
  });
});

describe('compareWithNamespace evaluates warn at the level and version it resolves to', () => {
  // Privileged containers break baseline at every version; a root container only breaks restricted.
  const privilegedPod = {
    kind: 'Pod',
    metadata: { name: 'p' },
    spec: { containers: [{ name: 'a', image: 'x', securityContext: { privileged: true } }] },
  };

  it('warns about what enforce would reject when no warn label is set', () => {
    const result = compareWithNamespace(privilegedPod, labels('enforce', 'baseline', 'enforce-version', 'v1.22'));
    expect(result.meetsEnforce).toBe(false);
    expect(result.verdicts.warn).toMatchObject({ mode: 'warn', level: 'baseline', version: 'v1.22', allowed: false });
    expect(result.verdicts.warn.violations.map((v) => v.check)).toEqual(['privileged']);
    // Audit does not follow enforce: it stays privileged and admits the pod.
    expect(result.verdicts.audit).toMatchObject({ level: 'privileged', allowed: true });
  });

  it('keeps an explicit warn label', () => {
    const result = compareWithNamespace(privilegedPod, labels('enforce', 'baseline', 'warn', 'privileged'));
    expect(result.verdicts.warn).toMatchObject({ level: 'privileged', allowed: true });
  });
});
