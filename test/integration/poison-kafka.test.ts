import { Kafka, Partitioners, logLevel } from 'kafkajs';
import type { RunningFalconer } from '../../src/app';
import type { Detection } from '../../src/core/alert';
import type { Enricher } from '../../src/enrich/port';
import { capturingLogger } from '../support/capture-log';
import { falcoEvent } from '../support/events';
import { eventually, post, startTestFalconer, TEST_TOKEN } from '../support/falconer';
import { testKafkaBrokers, testRedisUrl, uniqueName } from '../support/services';

jest.setTimeout(120_000);

const shellIn = (pod: string, overrides: Record<string, unknown> = {}) =>
  JSON.stringify(
    falcoEvent({
      uuid: `${pod}-${overrides.rule ?? 'shell'}`,
      output_fields: { ...(falcoEvent().output_fields as object), 'k8s.pod.name': pod },
      ...overrides,
    }),
  );

describe('a poison event in Kafka mode', () => {
  let f: RunningFalconer | undefined;
  afterEach(async () => {
    await f?.stop();
    f = undefined;
  });

  it('is parked in the shared store while later events on its partition still alert, and replays once fixed', async () => {
    let broken = true;
    const enricher: Enricher = {
      observe() {},
      enrich: async (d: Detection) => {
        if (broken && d.rule === 'Poison rule') throw new RangeError('invalid array length');
        return {};
      },
    };
    const log = capturingLogger();
    const keyPrefix = `${uniqueName('poison')}:`;
    f = await startTestFalconer(
      {
        kafka: { brokers: testKafkaBrokers(), topic: uniqueName('events'), groupId: uniqueName('pipeline'), partitions: 1 },
        redis: { url: testRedisUrl(), keyPrefix },
        receivers: [{ type: 'console', name: 'console' }],
      },
      { logger: log.logger, enricher },
    );
    const alerted = (pod: string) =>
      log.lines.filter((l) => l.msg.startsWith('ALERT ') && (l.alert as { pod?: string }).pod === pod);

    // One partition: the poison event is ahead of every canary on it.
    expect((await post(`${f.url}/v1/events/falco`, shellIn('poisoned', { rule: 'Poison rule' }))).status).toBe(202);
    for (const pod of ['canary-a', 'canary-b', 'canary-c'])
      expect((await post(`${f.url}/v1/events/falco`, shellIn(pod))).status).toBe(202);
    await eventually(() => {
      for (const pod of ['canary-a', 'canary-b', 'canary-c']) expect(alerted(pod)).toHaveLength(1);
    }, 30_000);
    expect(alerted('poisoned')).toHaveLength(0);
    expect(log.messages(/pipeline batch failed/)).toHaveLength(0);
    expect(log.messages('event parked in the dead-letter store after repeated failures')).toHaveLength(1);

    const list = await fetch(`${f.url}/v1/events/dead-letters`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    const { deadLetters } = (await list.json()) as {
      deadLetters: Array<{ id: string; stage: string; error: string; event: { pod: string } }>;
    };
    expect(deadLetters).toEqual([
      expect.objectContaining({
        stage: 'enrich',
        error: 'RangeError: invalid array length',
        event: expect.objectContaining({ pod: 'poisoned' }),
      }),
    ]);

    broken = false;
    const replay = await post(`${f.url}/v1/events/dead-letters/replay`, JSON.stringify({ ids: [deadLetters[0]!.id] }));
    expect(replay.json).toEqual({ replayed: 1, kept: 0 });
    await eventually(() => expect(alerted('poisoned')).toHaveLength(1), 30_000);
    expect(log.messages('event parked in the dead-letter store after repeated failures')).toHaveLength(1);
  });

  it('lets the partition flow on past events that decode but that no normaliser made', async () => {
    const log = capturingLogger();
    const topic = uniqueName('events');
    f = await startTestFalconer(
      {
        kafka: { brokers: testKafkaBrokers(), topic, groupId: uniqueName('pipeline'), partitions: 1 },
        redis: { url: testRedisUrl(), keyPrefix: `${uniqueName('odd')}:` },
        receivers: [{ type: 'console', name: 'console' }],
      },
      { logger: log.logger },
    );
    // Another producer's messages, or an older version's: each has an id, so the bus hands it over.
    const producer = new Kafka({ brokers: testKafkaBrokers(), clientId: 'odd-producer', logLevel: logLevel.NOTHING }).producer({
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        { value: '{"id":"bare"}' },
        { value: '{"id":"odd","source":"falco","k8s":null,"falco":{"rule":7,"tags":"x"},"raw":[]}' },
        { value: '{"id":"odd-audit","source":"k8s_audit","k8s":{"cluster":"c"},"audit":{},"raw":{"objectRef":5}}' },
      ],
    });
    await producer.disconnect();
    expect((await post(`${f.url}/v1/events/falco`, shellIn('after-odd'))).status).toBe(202);
    await eventually(() => {
      expect(
        log.lines.filter((l) => l.msg.startsWith('ALERT ') && (l.alert as { pod?: string }).pod === 'after-odd'),
      ).toHaveLength(1);
    }, 30_000);
    expect(log.messages(/pipeline batch failed/)).toEqual([]);
  });
});
