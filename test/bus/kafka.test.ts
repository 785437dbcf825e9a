import { KafkaBus, type KafkaBusOptions } from '../../src/bus/kafka';
import { testKafkaBrokers, uniqueName } from '../support/services';
import { eventBusContract } from './contract';

jest.setTimeout(60_000);

/** Settings that make group changes visible within seconds on a test broker. */
export function testBusOptions(overrides: Partial<KafkaBusOptions> = {}): KafkaBusOptions {
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
