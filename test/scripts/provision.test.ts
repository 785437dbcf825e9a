/**
 * scripts/provision.sh must stop at once, with the command to run, where it cannot install: these runs
 * give it a PATH without redis-server and an `id` that says "not root", so it never installs anything.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const script = resolve(__dirname, '../../scripts/provision.sh');
const TOOLS = [
  'bash',
  'sed',
  'cut',
  'head',
  'cat',
  'curl',
  'find',
  'wc',
  'mktemp',
  'rm',
  'mkdir',
  'mv',
  'timeout',
  'dirname',
  'tail',
];

function which(tool: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

/** A bin folder with the shell tools the script uses, no redis-server, no java, no mvn, and a non-root `id`. */
function restrictedPath(): string {
  const bin = mkdtempSync(join(tmpdir(), 'falconer-provision-bin-'));
  for (const tool of TOOLS) {
    const real = which(tool);
    if (real) symlinkSync(real, join(bin, tool));
  }
  writeFileSync(join(bin, 'id'), '#!/bin/sh\necho 1000\n');
  chmodSync(join(bin, 'id'), 0o755);
  return bin;
}

function fixtures(): string {
  const dir = mkdtempSync(join(tmpdir(), 'falconer-psa-'));
  mkdirSync(join(dir, 'restricted'));
  return dir;
}

function provision(env: Record<string, string>) {
  const started = Date.now();
  const run = spawnSync(which('bash')!, [script], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { HOME: tmpdir(), SERVICES_DIR: mkdtempSync(join(tmpdir(), 'falconer-services-')), ...env },
  });
  return { ...run, ms: Date.now() - started };
}

describe('scripts/provision.sh', () => {
  it('stops within seconds with one apt-get command when it is not root and packages are missing', () => {
    const run = provision({ PATH: restrictedPath(), FALCONER_PSA_FIXTURES: fixtures() });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('apt-get update && apt-get install -y redis-server openjdk-17-jre-headless maven\n');
    expect(run.ms).toBeLessThan(5_000);
  });

  it('asks only for what the tests will start natively', () => {
    const run = provision({
      PATH: restrictedPath(),
      FALCONER_PSA_FIXTURES: fixtures(),
      FALCONER_TEST_KAFKA_BROKERS: '127.0.0.1:9092',
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/apt-get install -y redis-server\n/);
  });

  it('stops at once when the Pod Security fixtures are missing, saying where they go', () => {
    const run = provision({ PATH: restrictedPath(), FALCONER_PSA_FIXTURES: '/nonexistent/psa' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('the Pod Security conformance fixtures are not at /nonexistent/psa');
    expect(run.stderr).not.toContain('apt-get');
  });
});
