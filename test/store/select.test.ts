import { createStore } from '../../src/adapters';
import { loadConfig } from '../../src/config/load';
import { VirtualClock } from '../../src/core/clock';
import { ConfigError } from '../../src/core/errors';
import { MemoryStateStore } from '../../src/store/memory';
import { RedisStateStore } from '../../src/store/redis';
import { testRedisUrl, uniqueName } from '../support/services';

describe('state store selection from config', () => {
  it('uses process memory without Redis settings', async () => {
    const store = createStore(loadConfig({ env: {} }), new VirtualClock());
    expect(store).toBeInstanceOf(MemoryStateStore);
    await store.close();
  });

  it('uses Redis from FALCONER_REDIS_URL with the configured key prefix', async () => {
    const prefix = `${uniqueName('select')}:`;
    const config = loadConfig({
      env: {
        FALCONER_REDIS_URL: testRedisUrl(),
        FALCONER_REDIS_KEY_PREFIX: prefix,
      },
    });
    expect(config.redis).toMatchObject({
      url: testRedisUrl(),
      keyPrefix: prefix,
      tls: false,
    });
    const store = createStore(config, new VirtualClock());
    expect(store).toBeInstanceOf(RedisStateStore);
    try {
      expect(await store.setIfAbsent('claim', 'me', 60_000)).toBe(true);
      const other = createStore(config, new VirtualClock());
      expect(await other.setIfAbsent('claim', 'you', 60_000)).toBe(false);
      await other.close();
    } finally {
      await store.close();
    }
  });

  it('rejects a URL that is not redis:// or rediss://', () => {
    expect(() => loadConfig({ env: { FALCONER_REDIS_URL: 'http://cache:6379' } })).toThrow(ConfigError);
  });
});
