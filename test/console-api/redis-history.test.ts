import { RedisConsoleHistory } from '../../src/console/history/redis';
import { RedisStateStore } from '../../src/store/redis';
import { testRedisUrl, uniqueName } from '../support/services';
import { historyContract } from './history-contract';

const open: RedisStateStore[] = [];
afterAll(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

historyContract('redis', (bounds, now) => {
  const state = new RedisStateStore({ url: testRedisUrl(), keyPrefix: `${uniqueName('console')}:` });
  open.push(state);
  return new RedisConsoleHistory(state, bounds, now);
});
