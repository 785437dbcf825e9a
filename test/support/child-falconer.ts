import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_TOKEN } from './falconer';
import { freePort } from './services';

const ENTRY = join(__dirname, '..', 'integration', 'run-falconer.js');

export interface ChildFalconer {
  url: string;
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop: () => Promise<void>;
}

/**
 * `falconer serve` from the sources in a process of its own (with `nodeArgs` such as a heap cap), on a
 * free loopback port with the test token and a data directory of its own; resolves once /healthz answers.
 */
export async function startChildFalconer(config: Record<string, unknown>, nodeArgs: string[] = []): Promise<ChildFalconer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'falconer-child-'));
  const file = join(dir, 'config.yaml');
  const { server, ingest, ...rest } = config as { server?: object; ingest?: object };
  writeFileSync(
    file,
    JSON.stringify({
      server: { host: '127.0.0.1', port, shutdownGraceSeconds: 5, ...server },
      ingest: { token: TEST_TOKEN, ...ingest },
      dataDir: join(dir, 'data'), // embedded mode as deployed (durable), in a directory of its own
      ...rest,
    }),
  );
  const child = spawn(process.execPath, [...nodeArgs, ENTRY, 'serve', '-c', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FALCONER_CONFIG: '' },
  });
  const chunks: string[] = [];
  child.stdout!.on('data', (c: Buffer) => chunks.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => chunks.push(c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`falconer exited with ${child.exitCode}:\n${chunks.join('')}`);
    const up = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return { url, child, output: () => chunks.join(''), exited, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`falconer did not start in time:\n${chunks.join('')}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
}
