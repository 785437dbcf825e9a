import { UnavailableError } from '../../src/core/errors';
import { RedisStateStore } from '../../src/store/redis';
import { freePort, startNativeRedis, testRedisUrl, uniqueName, type RunningService } from '../support/services';
import { stateStoreContract } from './contract';

const open: RedisStateStore[] = [];
function redisStore(overrides: Partial<ConstructorParameters<typeof RedisStateStore>[0]> = {}): RedisStateStore {
  const store = new RedisStateStore({
    url: testRedisUrl(),
    keyPrefix: 'falconer-test:',
    ...overrides,
  });
  open.push(store);
  return store;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

stateStoreContract(
  'redis',
  () => {
    const prefix = `${uniqueName('contract')}:`;
    return {
      stores: (n) => Array.from({ length: n }, () => redisStore({ keyPrefix: prefix })),
      elapse: (ms) => new Promise((done) => setTimeout(done, ms)),
      now: () => Date.now(),
      key: (name) => name,
    };
  },
  // Real time against a real server: long enough that a stalled event loop on a busy machine
  // does not expire a key early.
  1_000,
);

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((done) => setTimeout(done, 25));
  }
}

describe('RedisStateStore', () => {
  it('keeps installations with different key prefixes apart', async () => {
    const a = redisStore({ keyPrefix: `${uniqueName('a')}:` });
    const b = redisStore({ keyPrefix: `${uniqueName('b')}:` });
    await a.set('k', 'from-a', 60_000);
    expect(await b.get('k')).toBeUndefined();
    expect(await b.setIfAbsent('k', 'from-b', 60_000)).toBe(true);
    expect(await a.get('k')).toBe('from-a');
  });

  describe('against a private server it can stop and restart', () => {
    let server: RunningService | undefined;
    afterEach(async () => {
      await server?.stop();
      server = undefined;
    });

    it('fails fast with UnavailableError while Redis is down, counts it, and recovers by itself', async () => {
      const port = await freePort();
      server = await startNativeRedis({ port });
      const errors: Error[] = [];
      const store = redisStore({
        url: server.address,
        keyPrefix: 'p:',
        onError: (e) => errors.push(e),
        commandTimeoutMs: 1_000,
      });
      await store.set('k', 'v', 60_000);
      await waitFor(() => store.health().ok);

      await server.stop();
      await waitFor(() => !store.health().ok);
      expect(store.health().detail).toMatch(/^redis (connecting|reconnecting|close)/);
      await expect(store.get('k')).rejects.toBeInstanceOf(UnavailableError);
      expect(store.stats().errors).toBe(1);
      expect(errors).toHaveLength(1);

      server = await startNativeRedis({ port });
      await waitFor(() => store.health().ok);
      expect(store.stats().reconnects).toBeGreaterThan(0);
      // A fresh server without persistence: the old value is gone, and the store works again.
      expect(await store.get('k')).toBeUndefined();
      expect(await store.setIfAbsent('k', 'again', 60_000)).toBe(true);
    });

    it('authenticates with the password from the URL or the options, and is unhealthy with a wrong one', async () => {
      server = await startNativeRedis({
        args: ['--requirepass', 's3cret-pass'],
      });
      const port = new URL(server.address).port;
      const viaUrl = redisStore({
        url: `redis://:s3cret-pass@127.0.0.1:${port}`,
        keyPrefix: 'auth:',
      });
      const viaOption = redisStore({
        url: `redis://127.0.0.1:${port}`,
        password: 's3cret-pass',
        keyPrefix: 'auth:',
      });
      await viaUrl.set('k', 'v', 60_000);
      expect(await viaOption.get('k')).toBe('v');

      const wrong = redisStore({
        url: `redis://127.0.0.1:${port}`,
        password: 'wrong',
        keyPrefix: 'auth:',
        commandTimeoutMs: 500,
      });
      await expect(wrong.get('k')).rejects.toBeInstanceOf(UnavailableError);
      expect(wrong.health().ok).toBe(false);
    });
  });
});
