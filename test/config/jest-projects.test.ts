import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(__dirname, '../..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const config = require('../../jest.config.js') as {
  projects: { displayName: string; testMatch: string[]; testPathIgnorePatterns?: string[] }[];
};

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}

/** A suite uses the services when it imports what reads their addresses or starts its own. */
const USES_SERVICES =
  /import\s*\{[^}]*\b(testKafkaBrokers|testRedisUrl|startNativeKafka|startNativeRedis|startTestServices)\b[^}]*\}\s*from\s*'(\.\.\/)+support\/services'/;
/** A suite drives a browser when it imports the browser harness (directly or through the console rig). */
const USES_BROWSER = /from\s*'(\.\.\/)+support\/(browser|console)'/;

const project = (name: string) => config.projects.find((p) => p.displayName === name)!;
const rel = (file: string) => relative(root, file);
/** Whether one of the project's testMatch entries (a file, or `<dir>/**\/*.test.ts`) takes the file. */
const matches = (name: string, file: string) =>
  project(name).testMatch.some((pattern) => {
    const p = pattern.replace('<rootDir>/', '');
    return p.endsWith('**/*.test.ts') ? rel(file).startsWith(p.replace('**/*.test.ts', '')) : rel(file) === p;
  });
/** The unit project takes every suite but those its testPathIgnorePatterns leave out. */
const inUnit = (file: string) =>
  !(project('unit').testPathIgnorePatterns ?? []).some((p) => file.includes(p.replace('<rootDir>', root)));

describe('jest projects', () => {
  const files = testFiles(join(root, 'test'));

  it('puts every suite that needs Kafka or Redis in the services project (so test:unit starts none)', () => {
    const needing = files.filter((f) => USES_SERVICES.test(readFileSync(f, 'utf8')));
    expect(needing.length).toBeGreaterThan(0);
    expect(needing.filter((f) => !matches('services', f)).map(rel)).toEqual([]);
  });

  it('puts every suite that launches Chromium in the browser project, and none of them in unit or services', () => {
    const driving = files.filter((f) => USES_BROWSER.test(readFileSync(f, 'utf8')));
    expect(driving.length).toBeGreaterThan(0);
    expect(driving.filter((f) => !matches('browser', f) || matches('services', f) || inUnit(f)).map(rel)).toEqual([]);
  });

  it('runs each suite in exactly one project', () => {
    const counts = files.map((f) => [rel(f), [inUnit(f), matches('services', f), matches('browser', f)].filter(Boolean).length]);
    expect(counts.filter(([, n]) => n !== 1)).toEqual([]);
  });
});
