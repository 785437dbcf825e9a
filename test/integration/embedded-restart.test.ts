import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeSlack, type SlackCall } from '../support/slack-server';
import { falcoEvent } from '../support/events';
import { eventually } from '../support/falconer';
import { freePort } from '../support/services';

jest.setTimeout(180_000);

const TOKEN = 'itest-token-0123456789abcdef';
const ENTRY = join(__dirname, 'run-falconer.js');

interface Instance {
  url: string;
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

/** Embedded Falconer (no Kafka, no Redis) in a process of its own on `dataDir`; resolves once ready. */
async function startEmbedded(dir: string, dataDir: string, apiUrl: string): Promise<Instance> {
  const port = await freePort();
  const file = join(dir, `falconer-${port}.yaml`);
  writeFileSync(
    file,
    JSON.stringify({
      cluster: 'itest',
      dataDir,
      server: { host: '127.0.0.1', port, shutdownGraceSeconds: 15 },
      ingest: { token: TOKEN },
      receivers: [{ type: 'slack', name: 'sec', token: 'xoxb-itest', channel: '#security', apiUrl }],
      log: { level: 'info' },
    }),
  );
  const child = spawn(process.execPath, [ENTRY, 'serve', '-c', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FALCONER_CONFIG: '' },
  });
  const output: string[] = [];
  child.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const instance = { url: `http://127.0.0.1:${port}`, child, output, exited };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`falconer exited with ${child.exitCode}:\n${output.join('')}`);
    const ready = await fetch(`${instance.url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return instance;
    if (Date.now() > deadline) throw new Error(`falconer not ready in time:\n${output.join('')}`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

/** The HTTP status, or 0 when the connection failed (the process was killed under it). */
async function send(instance: Instance, body: unknown): Promise<number> {
  try {
    const res = await fetch(`${instance.url}/v1/events/falco`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** A shell in pod `pod`: one activity (one fingerprint) per pod; `n` makes each occurrence a new event. */
const shellIn = (pod: string, n: number) =>
  falcoEvent({
    uuid: `${pod}-occurrence-${n}`,
    output_fields: { ...(falcoEvent().output_fields as object), 'k8s.pod.name': pod },
  });

const podOf = (call: SlackCall): string | undefined => /pod-\d+/.exec(JSON.stringify(call.args))?.[0];
const fingerprintOf = (call: SlackCall): string | undefined => /fingerprint ([0-9a-f]{24})/.exec(JSON.stringify(call.args))?.[1];

/** Messages Slack accepted (answered ok), per pod, with the fingerprints they carried. */
function delivered(slack: FakeSlack): { perPod: Map<string, number>; perFingerprint: Map<string, number> } {
  const perPod = new Map<string, number>();
  const perFingerprint = new Map<string, number>();
  for (const post of slack.posts.filter((p) => p.answer === 'ok')) {
    const pod = podOf(post);
    const fp = fingerprintOf(post);
    if (pod) perPod.set(pod, (perPod.get(pod) ?? 0) + 1);
    if (fp) perFingerprint.set(fp, (perFingerprint.get(fp) ?? 0) + 1);
  }
  return { perPod, perFingerprint };
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

describe('embedded mode with a data dir', () => {
  let slack: FakeSlack;
  let dir: string;
  const running: Instance[] = [];

  beforeEach(async () => {
    slack = new FakeSlack();
    dir = mkdtempSync(join(tmpdir(), 'falconer-embedded-'));
  });

  afterEach(async () => {
    for (const r of running.splice(0)) {
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
      await r.exited;
    }
    await slack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('after SIGKILL and a restart on the same data dir, alerts every acknowledged event once and keeps dedup windows', async () => {
    const apiUrl = await slack.start();
    const dataDir = join(dir, 'data');
    const a = await startEmbedded(dir, dataDir, apiUrl);
    running.push(a);
    // Logged before it listens; pino's stdout is asynchronous (see the memory-only test below).
    await eventually(
      () => expect(a.output.join('')).toContain('embedded mode keeps its queue and state in the data dir'),
      10_000,
    );

    // 1. Alerts that went out before the crash: their notification records must survive it.
    const early = Array.from({ length: 20 }, (_, i) => `pod-${i}`);
    expect(await Promise.all(early.map((pod) => send(a, shellIn(pod, 0))))).toEqual(early.map(() => 202));
    await until(() => delivered(slack).perPod.size === early.length, 30_000, 'the early alerts on Slack');
    await new Promise((done) => setTimeout(done, 1_000)); // their "sent" records reach the disk

    // 2. Slack starts rate-limiting (nothing it answers 429 counts as posted), so no message is in
    //    flight at the moment of the kill; Falconer keeps accepting. Kill it mid-stream.
    slack.next(...Array.from({ length: 10_000 }, () => ({ kind: 'rate_limited' as const, retryAfterSeconds: 60 })));
    const late = Array.from({ length: 300 }, (_, i) => `pod-${100 + i}`);
    const outcomes = new Map<string, number>();
    let acknowledged = 0;
    let killed = false;
    const streams = Array.from({ length: 16 }, async (_, s) => {
      for (let i = s; i < late.length; i += 16) {
        // Repeats of the early activities ride along: they must fold into the alerts already posted.
        if (i % 10 === 0) await send(a, shellIn(early[i % early.length]!, 1 + i));
        const status = await send(a, shellIn(late[i]!, 0));
        outcomes.set(late[i]!, status);
        if (status === 202 && ++acknowledged === 150 && !killed) {
          killed = true;
          a.child.kill('SIGKILL');
        }
      }
    });
    await Promise.all(streams);
    expect(killed).toBe(true);
    await a.exited;
    const acked = late.filter((pod) => outcomes.get(pod) === 202);
    expect(acked.length).toBeGreaterThanOrEqual(150);
    expect(acked.length).toBeLessThan(late.length); // the kill really came mid-stream
    expect([...outcomes.values()].every((s) => s === 202 || s === 0)).toBe(true);

    // 3. Restart on the same data dir with Slack answering again.
    slack.clear();
    const b = await startEmbedded(dir, dataDir, apiUrl);
    running.push(b);
    // The kill came between applies of the redo log (about one a second): the restart replayed the log's
    // rest (logged before it listens, and pino's stdout is asynchronous).
    await eventually(() => expect(b.output.join('')).toContain('data dir: applied the redo log the last run left'), 10_000);
    await until(
      () => acked.every((pod) => delivered(slack).perPod.has(pod)),
      60_000,
      'every acknowledged event alerted after the restart',
    ).catch((err: Error) => {
      const missing = acked.filter((pod) => !delivered(slack).perPod.has(pod));
      throw new Error(
        `${err.message}: ${missing.length} of ${acked.length} missing (${missing.slice(0, 5).join(', ')}…); ` +
          `Slack calls ${slack.calls.length}; after the restart:\n${b.output.join('').slice(-3000)}`,
      );
    });
    await new Promise((done) => setTimeout(done, 3_000)); // time for anything that would go out twice
    const { perPod, perFingerprint } = delivered(slack);
    for (const pod of [...early, ...acked]) expect([pod, perPod.get(pod)]).toEqual([pod, 1]);
    expect([...perPod.values()].every((n) => n === 1)).toBe(true); // unacknowledged ones too: at most once
    expect([...perFingerprint.values()].every((n) => n === 1)).toBe(true);
    expect(perFingerprint.size).toBe(perPod.size);

    // 4. The dedup window survived: a repeat of an early activity updates its message, posts nothing.
    const postsBefore = slack.posts.length;
    const updatesBefore = slack.updates.filter((u) => podOf(u) === 'pod-3').length;
    expect(await send(b, shellIn('pod-3', 9_999))).toBe(202);
    await until(
      () => slack.updates.filter((u) => podOf(u) === 'pod-3').length > updatesBefore,
      20_000,
      'the update of the pod-3 alert',
    );
    expect(slack.posts.length).toBe(postsBefore);
    const alerts = (await (await fetch(`${b.url}/v1/alerts`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      alerts: { labels: { pod?: string }; count: number }[];
    };
    const pod3 = alerts.alerts.find((x) => x.labels.pod === 'pod-3');
    expect(pod3?.count).toBeGreaterThanOrEqual(2); // the counter kept counting across the restart
    const metrics = await (await fetch(`${b.url}/metrics`)).text();
    const appends = Number(/^falconer_data_dir_journal_appends_total (\d+)/m.exec(metrics)?.[1]);
    const commits = Number(/^falconer_data_dir_commits_total (\d+)/m.exec(metrics)?.[1]);
    expect(appends).toBeGreaterThanOrEqual(1); // this run's events went through the journal...
    expect(commits).toBeGreaterThanOrEqual(1); // ...in group commits
    expect(metrics).toMatch(/^falconer_data_dir_log_bytes \d+$/m);

    process.stdout.write(
      `embedded SIGKILL test: ${acked.length} of ${late.length} late events acknowledged before the kill; ` +
        `${perPod.size} alerts, each posted once\n`,
    );
  });

  it('says at start-up when it has to run memory-only', async () => {
    const apiUrl = await slack.start();
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, '');
    const c = await startEmbedded(dir, join(blocker, 'data'), apiUrl);
    running.push(c);
    // Logged before it listens, but pino writes stdout asynchronously: on a loaded box /readyz can
    // answer before the line reaches this process.
    await eventually(
      () => expect(c.output.join('')).toMatch(/embedded mode is memory-only: data dir .*a-file\/data is not writable/),
      10_000,
    );
  });
});
