import { RedisEventDeadLetterStore } from '../../../src/store/event-dead-letters/redis';
import { RedisStateStore } from '../../../src/store/redis';
import { testRedisUrl, uniqueName } from '../../support/services';
import { eventDeadLetterContract } from './contract';

const open: RedisStateStore[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

eventDeadLetterContract('redis', (bounds) => {
  const keyPrefix = `${uniqueName('edl')}:`;
  return {
    stores: (n) =>
      Array.from({ length: n }, () => {
        const state = new RedisStateStore({ url: testRedisUrl(), keyPrefix });
        open.push(state);
        return new RedisEventDeadLetterStore(state, bounds);
      }),
  };
});
