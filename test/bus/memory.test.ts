import { MemoryBus } from '../../src/bus/memory';
import { systemClock } from '../../src/core/clock';
import { eventBusContract } from './contract';

eventBusContract(
  'memory',
  () => {
    const buses: MemoryBus[] = [];
    return {
      bus: () => {
        const bus = new MemoryBus(systemClock, {
          capacity: 10_000,
          batchSize: 5,
          retryDelayMs: 10,
        });
        buses.push(bus);
        return bus;
      },
      cleanup: async () => {
        await Promise.all(buses.map((b) => b.close()));
      },
    };
  },
  { groups: false },
);
