/**
 * Upstream conformance: every fixture of k8s.io/pod-security-admission's test/testdata, evaluated at
 * exactly its level and version. pass/ pods must be allowed, fail/ pods denied.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { denialMessage, evaluatePodSecurity, parseLevel, parseVersion } from '../../../src/enrich/pod-security';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const fixturesRoot =
  process.env.FALCONER_PSA_FIXTURES ?? path.resolve(repoRoot, '..', 'shared', 'conformance', 'pod-security-admission');

interface Fixture {
  file: string;
  level: string;
  version: string;
  expect: 'pass' | 'fail';
}

function listFixtures(root: string): Fixture[] {
  const fixtures: Fixture[] = [];
  for (const level of ['baseline', 'restricted']) {
    const levelDir = path.join(root, level);
    if (!fs.existsSync(levelDir)) continue;
    for (const version of fs.readdirSync(levelDir).filter((v) => /^v1\.\d+$/.test(v))) {
      for (const expect of ['pass', 'fail'] as const) {
        const dir = path.join(levelDir, version, expect);
        if (!fs.existsSync(dir)) continue;
        for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
          fixtures.push({ file: path.join(dir, name), level, version, expect });
        }
      }
    }
  }
  return fixtures;
}

describe('Pod Security Standards conformance with the upstream fixtures', () => {
  it('agrees with every pass/ and fail/ fixture at its exact level and version', () => {
    if (!fs.existsSync(fixturesRoot)) {
      throw new Error(
        `PSA conformance fixtures not found at ${fixturesRoot}. Copy kubernetes/pod-security-admission's ` +
          `test/testdata there (layout <level>/v1.<N>/{pass,fail}/*.yaml) or point FALCONER_PSA_FIXTURES at it.`,
      );
    }
    const fixtures = listFixtures(fixturesRoot);
    expect(fixtures.length).toBeGreaterThan(4000);

    const disagreements: string[] = [];
    const seen = { pass: 0, fail: 0 };
    for (const f of fixtures) {
      const pod: unknown = parse(fs.readFileSync(f.file, 'utf8'));
      const result = evaluatePodSecurity(pod, parseLevel(f.level), parseVersion(f.version));
      seen[f.expect] += 1;
      const expectedAllowed = f.expect === 'pass';
      if (result.allowed !== expectedAllowed) {
        const why = result.allowed ? 'allowed, expected denied' : `denied, expected allowed: ${denialMessage(result)}`;
        disagreements.push(`${path.relative(fixturesRoot, f.file)} at ${f.level}:${f.version}: ${why}`);
      }
    }
    expect(seen.pass).toBeGreaterThan(0);
    expect(seen.fail).toBeGreaterThan(0);
    expect(disagreements).toEqual([]);
  });
});
