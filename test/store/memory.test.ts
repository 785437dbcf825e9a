import { VirtualClock } from '../../src/core/clock';
import { MemoryStateStore } from '../../src/store/memory';
import { stateStoreContract } from './contract';

stateStoreContract(
  'memory',
  () => {
    const clock = new VirtualClock(1_000_000);
    const store = new MemoryStateStore(clock);
    return {
      stores: (n) => Array.from({ length: n }, () => store),
      elapse: async (ms) => clock.advance(ms),
      now: () => clock.now(),
      key: (name) => name,
    };
  },
  // On the virtual clock the boundaries are exact, so the TTL can be anything.
  1_000,
);
