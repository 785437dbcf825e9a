import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeSlack } from '../support/slack-server';
import { falcoEvent } from '../support/events';
import { freePort, testKafkaBrokers, testRedisUrl, uniqueName } from '../support/services';

jest.setTimeout(180_000);

const TOKEN = 'itest-token-0123456789abcdef';
const ENTRY = join(__dirname, 'run-falconer.js');

interface Replica {
  name: string;
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

/**
 * A Falconer process of its own, configured for Kafka and Redis; resolves once /readyz says ready
 * (or, with `until: 'listening'`, once /healthz answers).
 */
async function startReplica(
  name: string,
  dir: string,
  shared: Record<string, unknown>,
  until: 'ready' | 'listening' = 'ready',
): Promise<Replica> {
  const port = await freePort();
  const file = join(dir, `${name}.yaml`);
  // JSON is YAML.
  writeFileSync(
    file,
    JSON.stringify({
      ...shared,
      server: { host: '127.0.0.1', port, shutdownGraceSeconds: 15 },
    }),
  );
  const child = spawn(process.execPath, [ENTRY, 'serve', '-c', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FALCONER_CONFIG: '' },
  });
  spawned.push(child);
  const output: string[] = [];
  child.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const replica = {
    name,
    url: `http://127.0.0.1:${port}`,
    child,
    output,
    exited,
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`replica ${name} exited with ${child.exitCode}:\n${output.join('')}`);
    const ready = await fetch(`${replica.url}/${until === 'ready' ? 'readyz' : 'healthz'}`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return replica;
    if (Date.now() > deadline) {
      // Not left running: the test's cleanup only stops the replicas that started.
      child.kill('SIGKILL');
      await exited;
      throw new Error(`replica ${name} not ready in time:\n${output.join('')}`);
    }
    await new Promise((done) => setTimeout(done, 200));
  }
}

async function send(replica: Replica, body: unknown): Promise<number> {
  const res = await fetch(`${replica.url}/v1/events/falco`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: {
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
    },
  });
  await res.arrayBuffer();
  return res.status;
}

/** A shell in pod `pod`: one alert per pod; `n` tells occurrences apart. */
const shellIn = (pod: string, n: number) =>
  falcoEvent({
    uuid: `${pod}-occurrence-${n}`,
    output_fields: {
      ...(falcoEvent().output_fields as object),
      'k8s.pod.name': pod,
    },
  });

/** Slack posts per pod name (the pod appears in the message's labels). */
function postsPerPod(slack: FakeSlack, pods: string[]): Map<string, number> {
  const counts = new Map(pods.map((p) => [p, 0]));
  for (const post of slack.posts) {
    const text = JSON.stringify(post.args);
    for (const pod of pods) if (text.includes(pod)) counts.set(pod, counts.get(pod)! + 1);
  }
  return counts;
}

async function settle(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 100));
  }
  // Whatever was going to be posted twice has had time to show up.
  await new Promise((done) => setTimeout(done, 2_000));
}

describe('replicas sharing Kafka and Redis', () => {
  let slack: FakeSlack;
  let dir: string;
  let shared: Record<string, unknown>;
  const replicas: Replica[] = [];

  beforeEach(async () => {
    slack = new FakeSlack();
    const apiUrl = await slack.start();
    dir = mkdtempSync(join(tmpdir(), 'falconer-replicas-'));
    shared = {
      cluster: 'itest',
      ingest: { token: TOKEN },
      kafka: {
        brokers: testKafkaBrokers(),
        topic: uniqueName('events'),
        groupId: uniqueName('pipeline'),
        partitions: 4,
        sessionTimeoutSeconds: 6,
      },
      redis: { url: testRedisUrl(), keyPrefix: `${uniqueName('itest')}:` },
      receivers: [
        {
          type: 'slack',
          name: 'sec',
          token: 'xoxb-itest',
          channel: '#security',
          apiUrl,
        },
      ],
      log: { level: 'warn' },
    };
  });

  afterEach(async () => {
    for (const r of replicas.splice(0)) {
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
      await r.exited;
    }
    await slack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('posts each alert once when its events arrive at both replicas', async () => {
    const [a, b] = await Promise.all([startReplica('a', dir, shared), startReplica('b', dir, shared)]);
    replicas.push(a!, b!);
    const pods = Array.from({ length: 12 }, (_, i) => `web-${String(i).padStart(3, '0')}-x`);
    const statuses: number[] = [];
    for (let n = 0; n < 3; n++) {
      for (const [i, pod] of pods.entries()) statuses.push(await send((i + n) % 2 ? a! : b!, shellIn(pod, n)));
    }
    expect(statuses.every((s) => s === 202)).toBe(true);
    await settle(() => slack.posts.length >= pods.length, 60_000, 'one post per pod');
    expect(slack.posts).toHaveLength(pods.length);
    expect([...postsPerPod(slack, pods).values()]).toEqual(pods.map(() => 1));
  });

  it('loses nothing and posts nothing twice when a replica is killed with SIGKILL mid-load', async () => {
    const [a, b] = await Promise.all([startReplica('a', dir, shared), startReplica('b', dir, shared)]);
    replicas.push(a!, b!);
    const pods = Array.from({ length: 60 }, (_, i) => `api-${String(i).padStart(3, '0')}-y`);
    // Half of the load goes to A, all at once; A dies once it has acknowledged a few events, while
    // the rest are in flight and the ones it acknowledged are being processed.
    let acceptedByA = 0;
    let kill!: () => void;
    const killed = new Promise<void>((done) => (kill = done));
    void killed.then(() => a!.child.kill('SIGKILL'));
    const outcomes = await Promise.all(
      pods.map(async (pod, i) => {
        const event = shellIn(pod, 0);
        if (i % 2 === 1) {
          const status = await send(a!, event).catch(() => 0);
          if (status === 202) {
            if (++acceptedByA === 8) kill();
            return 'accepted by A';
          }
        }
        // Refused or cut off: the sender retries at the other replica, as Falcosidekick would.
        await killed;
        expect(await send(b!, event)).toBe(202);
        return 'accepted by B';
      }),
    );
    // The dead replica's claims are taken over once their lease (30 s) runs out: allow for it.
    await settle(() => slack.posts.length >= pods.length, 75_000, 'one post per pod after the kill').catch((err) => {
      const per = postsPerPod(slack, pods);
      process.stderr.write(
        `DEBUG missing: ${JSON.stringify(pods.map((p, i) => [p, per.get(p), outcomes[i]]).filter(([, n]) => n !== 1))}\nB output: ${b!.output.join('')}\n`,
      );
      throw err;
    });
    expect([...postsPerPod(slack, pods).values()]).toEqual(pods.map(() => 1));
    expect(slack.posts).toHaveLength(pods.length);
    expect(await a!.exited).toBeNull(); // it really was killed, not stopped
    // Report the split so a run that never exercised the hand-over is visible.
    process.stderr.write(
      `SIGKILL test: ${outcomes.filter((o) => o === 'accepted by A').length} events accepted by A before it died\n`,
    );
  });

  it('a restarted replica answers ingest and /healthz at once, and is ready once its consumer has joined', async () => {
    const a = await startReplica('a', dir, shared);
    replicas.push(a);
    a.child.kill('SIGKILL'); // it leaves no LeaveGroup: the group waits a session for it
    await a.exited;

    const started = Date.now();
    const again = await startReplica('a-again', dir, shared, 'listening');
    replicas.push(again);
    const listeningMs = Date.now() - started;
    // Joining waits out the killed member's session (6 s here); meanwhile it takes events.
    const joining = await fetch(`${again.url}/readyz`);
    expect(joining.status).toBe(503);
    expect(JSON.stringify(await joining.json())).toContain('not consuming yet');
    expect(await send(again, shellIn('during-join', 0))).toBe(202);

    await settle(() => postsPerPod(slack, ['during-join']).get('during-join') === 1, 60_000, 'the alert after joining');
    const ready = await fetch(`${again.url}/readyz`);
    expect(ready.status).toBe(200);
    process.stderr.write(
      `restart test: /healthz answered ${listeningMs} ms after start; alert after ${Date.now() - started} ms\n`,
    );
  });
});
