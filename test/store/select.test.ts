import { createBus, createStore, openDataDir } from '../../src/adapters';
import { JournalBus } from '../../src/bus/journal';
import { MemoryBus } from '../../src/bus/memory';
import { DurableStateStore } from '../../src/store/durable';
import { removeTempDirs, tempDir } from '../support/data-dir';
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

describe('embedded mode and the data dir', () => {
  afterAll(removeTempDirs);
  const logger = () => {
    const lines: string[] = [];
    return { lines, log: { info: (_o: object, m: string) => lines.push(m), warn: (m: string) => lines.push(m) } };
  };

  it('keeps queue and state in the data dir when there is one', async () => {
    const config = loadConfig({ env: { FALCONER_DATA_DIR: tempDir() } });
    const { lines, log } = logger();
    const dataDir = await openDataDir(config, new VirtualClock(), log as never);
    expect(dataDir).toBeDefined();
    expect(lines).toEqual(['embedded mode keeps its queue and state in the data dir']);
    const store = createStore(config, new VirtualClock(), {}, dataDir);
    const bus = createBus(config, new VirtualClock(), () => undefined, undefined, dataDir);
    expect(store).toBeInstanceOf(DurableStateStore);
    expect(bus).toBeInstanceOf(JournalBus);
    await bus.close();
    await store.close();
    await dataDir!.close();
  });

  it('runs memory-only, and says so in one line, when the data dir is set empty', async () => {
    const config = loadConfig({ env: { FALCONER_DATA_DIR: '' } });
    const { lines, log } = logger();
    const dataDir = await openDataDir(config, new VirtualClock(), log as never);
    expect(dataDir).toBeUndefined();
    expect(lines).toEqual([
      'embedded mode is memory-only: dataDir is empty; a crash or restart loses queued events and alert state',
    ]);
    expect(createStore(config, new VirtualClock(), {}, dataDir)).toBeInstanceOf(MemoryStateStore);
    expect(createBus(config, new VirtualClock(), () => undefined, undefined, dataDir)).toBeInstanceOf(MemoryBus);
  });

  it('opens no data dir when Kafka and Redis hold the queue and the state', async () => {
    const config = loadConfig({
      env: { FALCONER_KAFKA_BROKERS: '127.0.0.1:9092', FALCONER_REDIS_URL: 'redis://127.0.0.1:1', FALCONER_DATA_DIR: tempDir() },
    });
    const { lines, log } = logger();
    expect(await openDataDir(config, new VirtualClock(), log as never)).toBeUndefined();
    expect(lines).toEqual([]);
  });
});
