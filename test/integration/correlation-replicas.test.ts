import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeSlack } from '../support/slack-server';
import { freePort, testKafkaBrokers, testRedisUrl, uniqueName } from '../support/services';
import { runtime, session } from '../correlate/streams';

jest.setTimeout(180_000);

const TOKEN = 'itest-token-0123456789abcdef';
const ENTRY = join(__dirname, 'run-falconer.js');

interface Replica {
  url: string;
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

/** Every replica process a test spawned: any still running when the file ends (a start that failed beside one that worked) is stopped. */
const spawned: ChildProcess[] = [];
afterAll(() => {
  for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function startReplica(name: string, dir: string, shared: Record<string, unknown>): Promise<Replica> {
  const port = await freePort();
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, JSON.stringify({ ...shared, server: { host: '127.0.0.1', port, shutdownGraceSeconds: 15 } }));
  const child = spawn(process.execPath, [ENTRY, 'serve', '-c', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FALCONER_CONFIG: '' },
  });
  spawned.push(child);
  const output: string[] = [];
  child.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const replica = { url: `http://127.0.0.1:${port}`, child, output, exited };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`replica ${name} exited with ${child.exitCode}:\n${output.join('')}`);
    if (
      await fetch(`${replica.url}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return replica;
    if (Date.now() > deadline) {
      // Not left running: the test's cleanup only stops the replicas that started.
      child.kill('SIGKILL');
      await exited;
      throw new Error(`replica ${name} not ready in time:\n${output.join('')}`);
    }
    await new Promise((done) => setTimeout(done, 200));
  }
}

async function send(replica: Replica, path: string, body: unknown): Promise<number> {
  const res = await fetch(`${replica.url}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
  });
  await res.arrayBuffer();
  return res.status;
}

async function listed(replica: Replica): Promise<{ id: string; pods: string[]; alertCount: number }[]> {
  const res = await fetch(`${replica.url}/v1/incidents`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { incidents: { id: string; pods: string[]; alertCount: number }[] }).incidents;
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

describe('correlation across replicas on real Kafka and Redis', () => {
  const replicas: Replica[] = [];
  let slack: FakeSlack;
  let dir: string;
  afterEach(async () => {
    for (const r of replicas.splice(0)) {
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
      await r.exited;
    }
    await slack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps sessions and incidents through a SIGKILL and the rebalance after it', async () => {
    slack = new FakeSlack();
    const apiUrl = await slack.start();
    dir = mkdtempSync(join(tmpdir(), 'falconer-corr-replicas-'));
    const shared = {
      cluster: 'itest',
      ingest: { token: TOKEN },
      kafka: {
        brokers: testKafkaBrokers(),
        topic: uniqueName('corr-events'),
        groupId: uniqueName('corr-pipeline'),
        partitions: 4,
        sessionTimeoutSeconds: 6,
      },
      redis: { url: testRedisUrl(), keyPrefix: `${uniqueName('corr')}:` },
      enrichment: { enabled: false },
      rules: { dirs: [join(__dirname, '..', '..', 'rules', 'examples')] },
      receivers: [{ type: 'slack', name: 'sec', token: 'xoxb-itest', channel: '#security', apiUrl }],
      log: { level: 'warn' },
    };
    const [a, b] = await Promise.all([startReplica('a', dir, shared), startReplica('b', dir, shared)]);
    replicas.push(a!, b!);
    // Eight pods spread over the four partitions, so both replicas hold sessions when A dies.
    const pods = Array.from({ length: 8 }, (_, i) => `web-${i}`);
    for (const [i, pod] of pods.entries()) {
      const items = session({ id: `exec-${i}`, user: `user-${i}@example.com`, pod, container: 'app', start: 0 });
      expect(await send(i % 2 ? a! : b!, '/v1/events/audit?cluster=itest', { kind: 'EventList', items })).toBe(202);
    }
    await until(() => slack.posts.length >= pods.length, 60_000, 'the exec alerts');
    const execTs = new Map<string, string>();
    slack.posts.forEach((p, k) => {
      const pod = pods.find((name) => JSON.stringify(p.args).includes(`shop/${name}`))!;
      execTs.set(pod, `1700000000.${String(k + 1).padStart(6, '0')}`);
    });
    expect(execTs.size).toBe(pods.length);
    // Both replicas list the same incidents, from Redis: each one's own and the other's.
    const before = await Promise.all([listed(a!), listed(b!)]);
    expect(before[0].map((i) => i.id)).toEqual(before[1].map((i) => i.id));
    expect(before[0].flatMap((i) => i.pods).sort()).toEqual(pods.map((p) => `itest/shop/${p}`).sort());

    a!.child.kill('SIGKILL');
    expect(await a!.exited).toBeNull();
    // B takes A's partitions over once the group notices (session timeout 6 s); the shells go to B.
    for (const [i, pod] of pods.entries()) {
      expect(await send(b!, '/v1/events/falco', runtime({ id: `shell-${i}`, at: 5000 + i, pod, cluster: 'itest' }))).toBe(202);
    }
    await until(() => slack.posts.length >= 2 * pods.length, 90_000, 'the shell alerts').catch((err) => {
      process.stderr.write(`B output: ${b!.output.join('')}\n`);
      throw err;
    });
    await new Promise((done) => setTimeout(done, 2000)); // anything posted twice shows up by now
    expect(slack.posts).toHaveLength(2 * pods.length);
    for (const [i, pod] of pods.entries()) {
      const shell = slack.posts.find((p) => JSON.stringify(p.args).includes(`shell-${i}`))!;
      const text = JSON.stringify(shell.args).replace(/\u200b/g, '');
      // Attributed from the session the other (dead) replica may have recorded, and threaded under its exec alert.
      expect([pod, text.includes(`opened by user-${i}@example.com`), shell.args.thread_ts]).toEqual([pod, true, execTs.get(pod)]);
    }
    // The survivor lists the same incidents as before, each now with its shell.
    const after = await listed(b!);
    expect(after.map((i) => i.id)).toEqual(before[1].map((i) => i.id));
    expect(after.map((i) => i.alertCount)).toEqual(pods.map(() => 2));
  });
});
