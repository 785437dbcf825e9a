import { createBus, createFalcoTopicSource } from '../../src/adapters';
import { KafkaBus, KafkaRawSource } from '../../src/bus/kafka';
import { MemoryBus } from '../../src/bus/memory';
import { loadConfig } from '../../src/config/load';
import { VirtualClock } from '../../src/core/clock';
import { ConfigError } from '../../src/core/errors';

const ignore = () => {};

describe('bus selection from config', () => {
  it.each([
    ['no Kafka settings', {}, MemoryBus],
    ['FALCONER_KAFKA_BROKERS', { FALCONER_KAFKA_BROKERS: '127.0.0.1:9092' }, KafkaBus],
  ])('%s → %p', async (_label, env, expected) => {
    const bus = createBus(loadConfig({ env }), new VirtualClock(), ignore);
    expect(bus).toBeInstanceOf(expected);
    await bus.close();
  });

  it('reads the Kafka environment overrides', () => {
    const config = loadConfig({
      env: {
        FALCONER_KAFKA_BROKERS: ' kafka-0:9092, kafka-1:9092 ,',
        FALCONER_KAFKA_TOPIC: 'sec.events',
        FALCONER_KAFKA_GROUP_ID: 'falconer-prod',
        FALCONER_KAFKA_FALCO_TOPIC: 'falco',
        FALCONER_KAFKA_TLS: 'true',
        FALCONER_KAFKA_SASL_MECHANISM: 'scram-sha-512',
        FALCONER_KAFKA_SASL_USERNAME: 'falconer',
        FALCONER_KAFKA_SASL_PASSWORD: 'pw',
      },
    });
    expect(config.kafka).toMatchObject({
      brokers: ['kafka-0:9092', 'kafka-1:9092'],
      topic: 'sec.events',
      groupId: 'falconer-prod',
      falcoTopic: 'falco',
      tls: true,
      sasl: {
        mechanism: 'scram-sha-512',
        username: 'falconer',
        password: 'pw',
      },
      partitions: 12,
    });
  });

  it.each([
    ['a broker without a port', { FALCONER_KAFKA_BROKERS: 'kafka-0' }, /FALCONER_KAFKA_BROKERS: must be host:port/],
    [
      'an unknown SASL mechanism',
      {
        FALCONER_KAFKA_BROKERS: 'k:1',
        FALCONER_KAFKA_SASL_MECHANISM: 'gssapi',
        FALCONER_KAFKA_SASL_USERNAME: 'u',
        FALCONER_KAFKA_SASL_PASSWORD: 'p',
      },
      /FALCONER_KAFKA_SASL_MECHANISM: Invalid option/,
    ],
    [
      'a TLS flag that is not a boolean',
      { FALCONER_KAFKA_BROKERS: 'k:1', FALCONER_KAFKA_TLS: 'yes' },
      /FALCONER_KAFKA_TLS must be true or false/,
    ],
  ])('rejects %s', (_label, env, message) => {
    expect(() => loadConfig({ env })).toThrow(ConfigError);
    expect(() => loadConfig({ env })).toThrow(message);
  });

  it('makes a Falco topic source only when a topic is configured', async () => {
    expect(createFalcoTopicSource(loadConfig({ env: { FALCONER_KAFKA_BROKERS: 'k:1' } }), ignore)).toBeUndefined();
    const source = createFalcoTopicSource(
      loadConfig({
        env: {
          FALCONER_KAFKA_BROKERS: 'k:1',
          FALCONER_KAFKA_FALCO_TOPIC: 'falco',
        },
      }),
      ignore,
    );
    expect(source).toBeInstanceOf(KafkaRawSource);
    await source!.close();
  });
});
