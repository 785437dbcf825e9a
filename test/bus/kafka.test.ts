import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { KafkaBus, KafkaRawSource, type KafkaBusOptions } from '../../src/bus/kafka';
import { UnavailableError } from '../../src/core/errors';
import { partitionKey, type SecurityEvent } from '../../src/core/event';
import { freePort, testKafkaBrokers, uniqueName } from '../support/services';
import { event, eventBusContract, eventually } from './contract';

jest.setTimeout(60_000);

/** Settings that make group changes visible within seconds on a test broker. */
function testBusOptions(overrides: Partial<KafkaBusOptions> = {}): KafkaBusOptions {
  return {
    brokers: testKafkaBrokers(),
    clientId: 'falconer-test',
    topic: uniqueName('events'),
    groupId: uniqueName('pipeline'),
    partitions: 4,
    batchSize: 4,
    retryDelayMs: 50,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 300,
    maxWaitTimeMs: 200,
    healthProbeIntervalMs: 1_000,
    ...overrides,
  };
}

eventBusContract(
  'kafka',
  () => {
    const buses: KafkaBus[] = [];
    let last: KafkaBusOptions | undefined;
    const make = (options: KafkaBusOptions) => {
      const bus = new KafkaBus(options);
      buses.push(bus);
      return bus;
    };
    return {
      bus: () => make((last = testBusOptions())),
      member: () => make({ ...last! }),
      cleanup: async () => {
        await Promise.all(buses.map((b) => b.close()));
      },
    };
  },
  { groups: true },
);

describe('KafkaBus on the wire', () => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  const track = <T extends { close(): Promise<void> }>(c: T): T => {
    open.push(c);
    return c;
  };
  const plainClient = () =>
    new Kafka({
      brokers: testKafkaBrokers(),
      clientId: 'falconer-test-reader',
      logLevel: logLevel.NOTHING,
    });

  /** Reads `count` messages of `topic` from the beginning with a plain kafkajs consumer. */
  async function readRaw(topic: string, count: number): Promise<Array<{ partition: number; key: string | null; value: string }>> {
    const consumer = plainClient().consumer({
      groupId: uniqueName('reader'),
      maxWaitTimeInMs: 200,
    });
    await consumer.connect();
    track({ close: () => consumer.disconnect() });
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: Array<{
      partition: number;
      key: string | null;
      value: string;
    }> = [];
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen.push({
          partition,
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? '',
        });
      },
    });
    await eventually(`${count} messages on ${topic}`, () => seen.length >= count);
    return seen;
  }

  it('creates the topic with the configured partitions and writes one message per event, keyed by pod, as JSON', async () => {
    const options = testBusOptions({ partitions: 3 });
    const bus = track(new KafkaBus(options));
    const events = [event('web-0', 0), event('web-1', 0), event('web-0', 1), event('db-0', 0), event('web-0', 2)];
    await bus.publish(events);

    const admin = plainClient().admin();
    await admin.connect();
    const { topics } = await admin.fetchTopicMetadata({
      topics: [options.topic],
    });
    await admin.disconnect();
    expect(topics[0]!.partitions).toHaveLength(3);

    const messages = await readRaw(options.topic, events.length);
    expect(messages.map((m) => JSON.parse(m.value))).toEqual(expect.arrayContaining(events));
    for (const m of messages) expect(m.key).toBe(partitionKey(JSON.parse(m.value)));
    const partitionsOfWeb0 = new Set(messages.filter((m) => m.key === 'test/ns/web-0').map((m) => m.partition));
    expect(partitionsOfWeb0.size).toBe(1);
    expect(bus.stats().published).toBe(events.length);
  });

  it('answers UnavailableError, counts it and reports unhealthy when no broker answers', async () => {
    const bus = track(new KafkaBus(testBusOptions({ brokers: [`127.0.0.1:${await freePort()}`] })));
    const started = Date.now();
    await expect(bus.publish([event('p', 0)])).rejects.toBeInstanceOf(UnavailableError);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(bus.health()).toEqual({
      ok: false,
      detail: expect.stringMatching(/^publish failed: /),
    });
    expect(bus.stats().publishErrors).toBe(1);
  });

  it('starts on an existing topic without a topic-creation error in the log', async () => {
    const options = testBusOptions();
    await track(new KafkaBus(options)).publish([event('a', 0)]); // creates the topic
    const logged: string[] = [];
    const logger = {
      error: (fields: object, msg: string) => void logged.push(`${msg} ${JSON.stringify(fields)}`),
      warn: () => {},
      debug: () => {},
    };
    const bus = track(new KafkaBus({ ...options, logger }));
    await bus.publish([event('a', 1)]);
    await bus.consume(async () => {});
    expect(logged.filter((l) => /CreateTopics|Topic creation|already exists/.test(l))).toEqual([]);
  });

  it('reports progress: consuming once joined, waiting while a batch fails, moving again after', async () => {
    const bus = track(new KafkaBus(testBusOptions()));
    await bus.publish([event('a', 0)]);
    expect(bus.progress()).toEqual({ consuming: false });
    let failing = true;
    const handled: string[] = [];
    await bus.consume(async (batch) => {
      if (failing) throw new UnavailableError('redis: down');
      handled.push(...batch.map((e) => e.id));
    });
    expect(bus.progress().consuming).toBe(true);
    await eventually('a waiting batch', () => bus.progress().waitingSince !== undefined);
    const since = bus.progress().waitingSince!;
    await new Promise((done) => setTimeout(done, 300));
    expect(bus.progress().waitingSince).toBe(since); // redelivering is not progress
    failing = false;
    await eventually('the event handled', () => handled.length === 1);
    await eventually('nothing waiting', () => bus.progress().waitingSince === undefined);
  });

  it('skips and counts a message that is not an event, and goes on', async () => {
    const options = testBusOptions();
    const bus = track(new KafkaBus(options));
    await bus.publish([event('a', 0)]);
    const producer = plainClient().producer({
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    await producer.send({
      topic: options.topic,
      messages: [
        { key: 'test/ns/a', value: 'not json' },
        { key: 'test/ns/a', value: '{"no":"id"}' },
      ],
    });
    await producer.disconnect();
    await bus.publish([event('a', 1)]);

    const handled: SecurityEvent[] = [];
    await bus.consume(async (batch) => {
      handled.push(...batch);
    });
    await eventually('both events', () => handled.length >= 2);
    expect(handled.map((e) => e.id)).toEqual(['a#0', 'a#1']);
    expect(bus.stats()).toMatchObject({
      handled: 2,
      undecodable: 2,
      handlerErrors: 0,
    });
  });
});

describe('KafkaRawSource', () => {
  it('hands over unkeyed messages as text, redelivers a rejected batch, and commits what was handled', async () => {
    const topic = uniqueName('falco-sidekick');
    const groupId = uniqueName('falco-source');
    const kafka = new Kafka({
      brokers: testKafkaBrokers(),
      clientId: 'sidekick-stand-in',
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const falco = (n: number) =>
      JSON.stringify({
        uuid: `u-${n}`,
        rule: 'Terminal shell in container',
        priority: 'Notice',
        output: `shell ${n}`,
      });
    await producer.send({
      topic,
      messages: [0, 1, 2, 3, 4].map((n) => ({ value: falco(n) })),
    });

    const options = {
      brokers: testKafkaBrokers(),
      clientId: 'falconer-test',
      topic,
      groupId,
      batchSize: 2,
      retryDelayMs: 50,
      maxWaitTimeMs: 200,
    };
    const source = new KafkaRawSource(options);
    const received: string[] = [];
    let failed = false;
    await source.start(async (values) => {
      if (!failed && values.includes(falco(2))) {
        failed = true;
        throw new Error('parser not ready');
      }
      received.push(...values);
    });
    await eventually('all five', () => received.length >= 5);
    expect(received).toEqual([0, 1, 2, 3, 4].map(falco));
    expect(source.stats()).toMatchObject({ handled: 5, handlerErrors: 1 });
    expect(source.health().ok).toBe(true);
    await source.close();

    // A new member of the same group starts after the committed messages.
    await producer.send({ topic, messages: [{ value: falco(5) }] });
    await producer.disconnect();
    const next = new KafkaRawSource(options);
    const later: string[] = [];
    await next.start(async (values) => {
      later.push(...values);
    });
    await eventually('the one new message', () => later.length >= 1);
    await next.close();
    expect(later).toEqual([falco(5)]);
  });
});
