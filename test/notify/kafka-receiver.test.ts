import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { KafkaNotifier } from '../../src/notify/kafka-notifier';
import { alertOf, falcoSecurityEvent } from '../support/alerts';
import { testKafkaBrokers, uniqueName } from '../support/services';
import { eventually } from '../bus/contract';

describe('Kafka receiver (read back by a real consumer)', () => {
  let consumer: Consumer | undefined;
  let notifier: KafkaNotifier | undefined;
  afterEach(async () => {
    await notifier?.close();
    await consumer?.disconnect();
  });

  async function readBack(topic: string, count: number) {
    const kafka = new Kafka({ brokers: testKafkaBrokers(), clientId: 'falconer-test-reader', logLevel: logLevel.NOTHING });
    consumer = kafka.consumer({ groupId: uniqueName('reader'), maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: { key: string; value: Record<string, any>; headers: Record<string, string> }[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push({
          key: message.key?.toString() ?? '',
          value: JSON.parse(message.value!.toString()),
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
        });
      },
    });
    await eventually(`${count} notifications on ${topic}`, () => seen.length >= count);
    return seen;
  }

  const make = (topic: string, key: 'fingerprint' | 'group') =>
    (notifier = new KafkaNotifier({
      name: 'bus',
      brokers: testKafkaBrokers(),
      clientId: 'falconer-test-notify',
      topic,
      key,
      timeoutMs: 10_000,
      minPriority: 'debug',
      externalUrl: 'https://falconer.example.com',
    }));

  it('produces one native JSON message per notification, keyed by fingerprint: send, update, resolve', async () => {
    const topic = uniqueName('falconer-notify');
    const n = make(topic, 'fingerprint');
    const a = alertOf(falcoSecurityEvent(), { fingerprint: 'abc123', labels: { namespace: 'shop' } });
    const ref = await n.send(a);
    await n.update({ ...a, count: 2 });
    await n.resolve(a, ref, Date.UTC(2026, 0, 1));
    const seen = await readBack(topic, 3);
    expect(seen.map((m) => m.key)).toEqual(['abc123', 'abc123', 'abc123']);
    expect(seen.map((m) => [m.value.kind, m.value.status, m.value.alerts[0].count])).toEqual([
      ['falconer.notification/v1', 'firing', 1],
      ['falconer.notification/v1', 'firing', 2],
      ['falconer.notification/v1', 'resolved', 1],
    ]);
    expect(seen[0]!.value.alerts[0]).toMatchObject({
      fingerprint: 'abc123',
      url: 'https://falconer.example.com/v1/alerts/abc123',
    });
    expect(seen[0]!.headers['content-type']).toBe('application/json');
  });

  it('keys by a digest of the group key when asked', async () => {
    const topic = uniqueName('falconer-notify');
    const n = make(topic, 'group');
    await n.send(alertOf(falcoSecurityEvent(), { fingerprint: 'f1' }));
    const [m] = await readBack(topic, 1);
    expect(m!.key).toMatch(/^[0-9a-f]{64}$/);
    expect(m!.value.groupKey).toBe('fp:f1');
  });
});
