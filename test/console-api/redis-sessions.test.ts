import { RedisSessions } from '../../src/console/session-backends';
import { RedisStateStore } from '../../src/store/redis';
import { testRedisUrl, uniqueName } from '../support/services';
import { sessionContract } from './session-contract';

const open: RedisStateStore[] = [];
afterAll(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

sessionContract('redis', (bounds) => {
  const state = new RedisStateStore({ url: testRedisUrl(), keyPrefix: `${uniqueName('sessions')}:` });
  open.push(state);
  return new RedisSessions(state, bounds);
});
