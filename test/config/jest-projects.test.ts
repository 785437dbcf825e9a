import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(__dirname, '../..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const config = require('../../jest.config.js') as { projects: { displayName: string; testMatch: string[] }[] };

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}

/** A suite uses the services when it imports what reads their addresses or starts its own. */
const USES_SERVICES =
  /import\s*\{[^}]*\b(testKafkaBrokers|testRedisUrl|startNativeKafka|startNativeRedis|startTestServices)\b[^}]*\}\s*from\s*'(\.\.\/)+support\/services'/;

describe('jest projects', () => {
  const services = config.projects.find((p) => p.displayName === 'services')!;
  const inServices = (file: string) =>
    services.testMatch.some((pattern) => {
      const p = pattern.replace('<rootDir>/', '');
      const rel = relative(root, file);
      return p.endsWith('**/*.test.ts') ? rel.startsWith(p.replace('**/*.test.ts', '')) : rel === p;
    });

  it('puts every suite that needs Kafka or Redis in the services project (so test:unit starts none)', () => {
    const needing = testFiles(join(root, 'test')).filter((f) => USES_SERVICES.test(readFileSync(f, 'utf8')));
    expect(needing.length).toBeGreaterThan(0);
    expect(needing.filter((f) => !inServices(f)).map((f) => relative(root, f))).toEqual([]);
  });
});
