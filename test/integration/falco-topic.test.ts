import { Kafka, logLevel } from 'kafkajs';
import type { RunningFalconer } from '../../src/app';
import { falcoEvent } from '../support/events';
import { eventually, startTestFalconer } from '../support/falconer';
import { FakeSlack } from '../support/slack-server';
import { testKafkaBrokers, testRedisUrl, uniqueName } from '../support/services';

jest.setTimeout(90_000);

/** A Falco event of a shell in `pod`; `uuid` tells occurrences apart. */
const shellIn = (pod: string, uuid: string) =>
  falcoEvent({ uuid, output_fields: { ...(falcoEvent().output_fields as object), 'k8s.pod.name': pod } });

describe("Falcosidekick's Kafka output as an ingest source (real broker)", () => {
  let slack: FakeSlack;
  let falconer: RunningFalconer | undefined;
  const kafka = new Kafka({ brokers: testKafkaBrokers(), clientId: 'falconer-test-sidekick', logLevel: logLevel.NOTHING });
  const producer = kafka.producer();

  beforeAll(() => producer.connect());
  afterAll(() => producer.disconnect());
  beforeEach(() => {
    slack = new FakeSlack();
  });
  afterEach(async () => {
    await falconer?.stop();
    falconer = undefined;
    await slack.stop();
  });

  it('alerts on each Falco event of the topic, skips what is not one, and reports the source in metrics and /readyz', async () => {
    const apiUrl = await slack.start();
    const falcoTopic = uniqueName('sidekick');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: falcoTopic, numPartitions: 2 }] });
    await admin.disconnect();
    // Published before Falconer starts, as sidekick would while Falconer is down: read from the beginning.
    await producer.send({
      topic: falcoTopic,
      messages: [
        { value: JSON.stringify(shellIn('topic-a', 'u-1')) },
        { value: '{"not": "a falco event"' },
        { value: JSON.stringify(shellIn('topic-a', 'u-2')) },
      ],
    });
    falconer = await startTestFalconer({
      cluster: 'itest',
      kafka: {
        brokers: testKafkaBrokers(),
        topic: uniqueName('events'),
        groupId: uniqueName('pipeline'),
        partitions: 2,
        sessionTimeoutSeconds: 6,
        falcoTopic,
        falcoGroupId: uniqueName('sidekick-reader'),
      },
      redis: { url: testRedisUrl(), keyPrefix: `${uniqueName('itest')}:` },
      receivers: [{ type: 'slack', name: 'sec', token: 'xoxb-itest', channel: '#security', apiUrl }],
    });
    await producer.send({ topic: falcoTopic, messages: [{ value: JSON.stringify(shellIn('topic-b', 'u-3')) }] });

    const postsFor = (pod: string) => slack.posts.filter((p) => JSON.stringify(p.args).includes(pod)).length;
    await eventually(() => {
      expect(postsFor('topic-a')).toBe(1);
      expect(postsFor('topic-b')).toBe(1);
    }, 60_000);

    const metrics = await (await fetch(`${falconer.url}/metrics`)).text();
    expect(metrics).toMatch(/falconer_events_received_total\{source="falco_topic",outcome="accepted"\} 3/);
    expect(metrics).toMatch(/falconer_events_received_total\{source="falco_topic",outcome="rejected"\} 1/);
    expect(metrics).toMatch(/falconer_kafka_rebalances_total\{consumer="falco_topic"\} [1-9]/);
    expect(metrics).toMatch(/falconer_kafka_rebalances_total\{consumer="events"\} [1-9]/);
    expect(metrics).toMatch(/falconer_kafka_consumer_lag\{consumer="events"\} \d+/);
    expect(metrics).toMatch(/falconer_kafka_produce_errors_total 0/);
    expect(metrics).toMatch(/falconer_redis_errors_total 0/);
    const ready = (await (await fetch(`${falconer.url}/readyz`)).json()) as { checks: Record<string, { ok: boolean }> };
    expect(ready.checks['falco-topic']).toEqual({ ok: true });
  });
});
