import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningFalconer } from '../../src/app';
import { falcoEvent } from '../support/events';
import { post, startTestFalconer } from '../support/falconer';
import { FakeSlack } from '../support/slack-server';
import {
  freePort,
  startNativeKafka,
  startNativeRedis,
  testKafkaBrokers,
  testRedisUrl,
  uniqueName,
  type RunningService,
} from '../support/services';

jest.setTimeout(180_000);

/** A shell in pod `pod`: each pod is its own alert. */
const shellIn = (pod: string) =>
  JSON.stringify(
    falcoEvent({
      uuid: `${pod}-1`,
      output_fields: {
        ...(falcoEvent().output_fields as object),
        'k8s.pod.name': pod,
      },
    }),
  );

async function until<T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((done) => setTimeout(done, 250));
  }
}

const readiness = async (f: RunningFalconer) => {
  const res = await fetch(`${f.url}/readyz`);
  return { status: res.status, body: JSON.stringify(await res.json()) };
};

const consumerCrashes = async (f: RunningFalconer) => {
  const metric = f.metrics.registry.getSingleMetric('falconer_kafka_consumer_crashes_total');
  if (!metric) throw new Error('no falconer_kafka_consumer_crashes_total');
  return (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);
};

const postsFor = (slack: FakeSlack, pod: string) => slack.posts.filter((p) => JSON.stringify(p.args).includes(pod)).length;

describe('Kafka and Redis outages', () => {
  let slack: FakeSlack;
  let apiUrl: string;
  let falconer: RunningFalconer | undefined;
  const services: RunningService[] = [];
  const dirs: string[] = [];

  beforeEach(async () => {
    slack = new FakeSlack();
    apiUrl = await slack.start();
  });
  afterEach(async () => {
    await falconer?.stop();
    falconer = undefined;
    await Promise.all(services.splice(0).map((s) => s.stop()));
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    await slack.stop();
  });

  const receivers = () => [
    {
      type: 'slack',
      name: 'sec',
      token: 'xoxb-itest',
      channel: '#security',
      apiUrl,
    },
  ];

  it('answers 503 with Retry-After and reports the bus while Kafka is down, and resumes by itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'falconer-kafka-outage-'));
    dirs.push(dir);
    const port = await freePort();
    let kafka = await startNativeKafka({ dir, port });
    services.push(kafka);
    falconer = await startTestFalconer({
      kafka: {
        brokers: [kafka.address],
        topic: uniqueName('events'),
        groupId: uniqueName('pipeline'),
        partitions: 2,
        // Three times the default: a group that waits out a session is then far from one that does not.
        sessionTimeoutSeconds: 30,
      },
      redis: { url: testRedisUrl(), keyPrefix: `${uniqueName('outage')}:` },
      receivers: receivers(),
    });
    const f = falconer;

    expect((await post(`${f.url}/v1/events/falco`, shellIn('before-0'))).status).toBe(202);
    await until(
      'the first alert',
      async () => postsFor(slack, 'before-0'),
      (n) => n === 1,
    );

    await kafka.stop();
    const refused = await until(
      'ingest to refuse',
      () => post(`${f.url}/v1/events/falco`, shellIn('during-0')),
      (r) => r.status !== 202,
      30_000,
    );
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const down = await until(
      'readyz to report the bus',
      () => readiness(f),
      (r) => r.status === 503,
      30_000,
    );
    expect(down.body).toMatch(/bus/);

    kafka = await startNativeKafka({ dir, port });
    services.push(kafka);
    const backAt = Date.now();
    // The caller retries, as Falcosidekick does, until Falconer takes the event again.
    await until(
      'ingest to accept again',
      () => post(`${f.url}/v1/events/falco`, shellIn('during-0')),
      (r) => r.status === 202,
    );
    await until(
      'readyz to recover',
      () => readiness(f),
      (r) => r.status === 200,
    );
    await until(
      'the alert sent after recovery',
      async () => postsFor(slack, 'during-0'),
      (n) => n === 1,
      90_000,
    );
    // The consumer kept its group membership through the outage (issue 8): it did not crash, and
    // processing resumed within seconds of the broker. One that crashes rejoins as a new member, and
    // the restarted broker's group then waits out the old member's session (30 s here) before it
    // assigns anything. Nominally under a second (0.8 s here, also with both cores busy), yet a loaded
    // 2-core box went over the 8 s this was held to with the default 10 s session; so the session is
    // 30 s and the bound 20 s. Keeping the crash-prone retries of before fails both (18 crashes, 30.3 s).
    // One crash was seen once on a box busy with other test runs (a request timing out mid-outage);
    // the retries this guards crash on every attempt, so at most one is allowed.
    const resumedMs = Date.now() - backAt;
    process.stderr.write(`Kafka outage test: alert processed ${resumedMs} ms after the broker was back\n`);
    expect(await consumerCrashes(f)).toBeLessThanOrEqual(1);
    expect(resumedMs).toBeLessThan(20_000);
    expect(postsFor(slack, 'before-0')).toBe(1);
  });

  it('keeps events while Redis restarts and processes them once it is back', async () => {
    const port = await freePort();
    let redis = await startNativeRedis({ port });
    services.push(redis);
    falconer = await startTestFalconer({
      kafka: {
        brokers: testKafkaBrokers(),
        topic: uniqueName('events'),
        groupId: uniqueName('pipeline'),
        partitions: 2,
        sessionTimeoutSeconds: 6,
      },
      redis: { url: redis.address, keyPrefix: 'outage:' },
      receivers: receivers(),
    });
    const f = falconer;
    expect((await post(`${f.url}/v1/events/falco`, shellIn('first-0'))).status).toBe(202);
    await until(
      'the first alert',
      async () => postsFor(slack, 'first-0'),
      (n) => n === 1,
    );

    await redis.stop();
    const down = await until(
      'readyz to report the store',
      () => readiness(f),
      (r) => r.status === 503,
      30_000,
    );
    expect(down.body).toMatch(/store/);
    // Ingest needs only Kafka: the event is kept there while the pipeline cannot process it.
    expect((await post(`${f.url}/v1/events/falco`, shellIn('while-down-0'))).status).toBe(202);
    await new Promise((done) => setTimeout(done, 1_500));
    expect(postsFor(slack, 'while-down-0')).toBe(0);

    redis = await startNativeRedis({ port });
    services.push(redis);
    await until(
      'readyz to recover',
      () => readiness(f),
      (r) => r.status === 200,
      30_000,
    );
    await until(
      'the kept event to be alerted',
      async () => postsFor(slack, 'while-down-0'),
      (n) => n === 1,
    );
    await new Promise((done) => setTimeout(done, 1_500));
    expect(postsFor(slack, 'while-down-0')).toBe(1);
  });
});
