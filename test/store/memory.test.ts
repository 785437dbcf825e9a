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

describe('MemoryStateStore expiry times', () => {
  it.each([
    ['a wall-clock time in ms', 1_764_547_200_123],
    ['a time just past a multiple of 2^24 ms', 2 ** 24 * 105_000 + 1],
    ['a negative time', -5_000_000_000],
    ['a fractional time', 1_764_547_200_123.25],
  ])('keeps an entry exactly its TTL at %s', async (_name, start) => {
    const clock = new VirtualClock(start);
    const store = new MemoryStateStore(clock);
    await store.set('k', 'v', 600_000);
    expect(store.ttlLeft('k')).toBe(600_000);
    clock.advance(599_999.5);
    expect(await store.get('k')).toBe('v');
    expect(store.ttlLeft('k')).toBe(0.5);
    clock.advance(0.5);
    expect(await store.get('k')).toBeUndefined();
  });

  it('restores entries with the absolute expiry times it reported, exactly', async () => {
    const clock = new VirtualClock(1_764_547_200_000);
    const store = new MemoryStateStore(clock);
    store.load({ entries: [['k', 'v', 1_764_547_200_000 + 16_777_217]], counters: [], outbox: [] });
    expect(store.ttlLeft('k')).toBe(16_777_217);
  });
});

describe('MemoryStateStore memory bound', () => {
  it('drops expired keys as it goes, at a constant cost per write', async () => {
    const clock = new VirtualClock(0);
    const store = new MemoryStateStore(clock);
    for (let i = 0; i < 10_000; i++) await store.set(`seen:old-${i}`, '1', 1_000);
    for (let i = 0; i < 100; i++) await store.hit(`dedup:old-${i}`, clock.now(), 1_000);
    expect(store.size()).toBe(10_100);
    clock.advance(1_000); // every key above has expired
    for (let i = 0; i < 10_000; i++) await store.set(`seen:new-${i}`, '1', 60_000);
    expect(store.size()).toBeLessThanOrEqual(10_000 + 100); // the old ones are (nearly) all gone...
    expect(await store.get('seen:new-0')).toBe('1'); // ...and live keys stay
    expect(await store.get('seen:old-0')).toBeUndefined();
    clock.advance(60_000);
    for (let i = 0; i < 5_000; i++) await store.set(`seen:newer-${i}`, '1', 60_000);
    expect(store.size()).toBeLessThan(10_000); // a second cycle sweeps the expired generation too
  });
});

describe('MemoryStateStore memory bound, counters', () => {
  it('drops expired counters as later hits go, and keeps the live ones', async () => {
    const clock = new VirtualClock(0);
    const store = new MemoryStateStore(clock);
    for (let i = 0; i < 1_000; i++) await store.hit(`dedup:old-${i}`, clock.now(), 1_000);
    clock.advance(1_000);
    for (let i = 0; i < 1_000; i++) await store.hit(`dedup:new-${i}`, clock.now(), 60_000);
    expect(store.size()).toBe(1_000);
    expect((await store.hit('dedup:new-0', clock.now(), 60_000)).count).toBe(2);
    expect((await store.hit('dedup:old-0', clock.now(), 60_000)).count).toBe(1);
  });
});

describe('MemoryStateStore lazy hand-off values', () => {
  it('makes a hand-off value only when the record is created and read, and once', async () => {
    const store = new MemoryStateStore(new VirtualClock(1_000_000));
    const make = jest.fn(() => '{"state":"pending"}');
    expect(await store.handOff('notify:r:fp:1', make, 60_000, 1_001_000)).toBe(true);
    expect(make).not.toHaveBeenCalled();
    const duplicate = jest.fn(() => 'other');
    expect(await store.handOff('notify:r:fp:1', duplicate, 60_000, 1_001_000)).toBe(false);
    expect(duplicate).not.toHaveBeenCalled();
    expect(await store.get('notify:r:fp:1')).toBe('{"state":"pending"}');
    expect(await store.replace('notify:r:fp:1', '{"state":"pending"}', 'sent', 60_000)).toBe(true);
    expect(make).toHaveBeenCalledTimes(1);
  });

  it('never makes a value replaced before anyone read it', async () => {
    const store = new MemoryStateStore(new VirtualClock(1_000_000));
    const make = jest.fn(() => 'big record');
    await store.handOff('notify:r:fp:1', make, 60_000, 1_001_000);
    await store.set('notify:r:fp:1', 'sent', 60_000);
    expect(await store.get('notify:r:fp:1')).toBe('sent');
    expect(make).not.toHaveBeenCalled();
  });
});

describe('MemoryStateStore lazy set values', () => {
  it('makes a set value only when it is read, once, and never when it expires unread', async () => {
    const clock = new VirtualClock(1_000_000);
    const store = new MemoryStateStore(clock);
    const read = jest.fn(() => 'pending alert');
    const unread = jest.fn(() => 'never made');
    await store.set('corr:ra:read', read, 60_000);
    await store.set('corr:ra:unread', unread, 60_000);
    expect(read).not.toHaveBeenCalled();
    expect(await store.get('corr:ra:read')).toBe('pending alert');
    expect(await store.get('corr:ra:read')).toBe('pending alert');
    expect(read).toHaveBeenCalledTimes(1);
    clock.advance(60_000);
    expect(await store.get('corr:ra:unread')).toBeUndefined();
    expect(unread).not.toHaveBeenCalled();
  });
});

describe('MemoryStateStore.ttlLeft', () => {
  it('tells how long a key has left, and nothing for an absent, expired or other value', async () => {
    const clock = new VirtualClock(0);
    const store = new MemoryStateStore(clock);
    await store.set('k', 'inc-1', 10_000);
    clock.advance(4_000);
    expect(store.ttlLeft('k')).toBe(6_000);
    expect(store.ttlLeft('k', 'inc-1')).toBe(6_000);
    expect(store.ttlLeft('k', 'inc-2')).toBeUndefined();
    expect(store.ttlLeft('absent')).toBeUndefined();
    clock.advance(6_000);
    expect(store.ttlLeft('k', 'inc-1')).toBeUndefined();
  });
});

describe('MemoryStateStore for callers keeping state beside it', () => {
  it('tells the time its TTLs run on, and that nothing it holds outlives the process', async () => {
    const clock = new VirtualClock(5_000);
    const store = new MemoryStateStore(clock);
    expect(store.now()).toBe(5_000);
    await store.set('k', 'v', 1_000);
    clock.advance(400);
    expect(store.now()).toBe(5_400);
    expect(store.ttlLeft('k')).toBe(600);
    expect(store.persistent).toBe(false);
    // A store told of its changes (the durable store: they go to the data dir) keeps them beyond the process.
    const changes = { entry() {}, counter() {}, deleted() {}, outbox() {} };
    expect(new MemoryStateStore(clock, changes).persistent).toBe(true);
  });
});
