import { MemoryBus } from '../../src/bus/memory';
import { systemClock, VirtualClock } from '../../src/core/clock';
import { eventBusContract, eventually } from './contract';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { SecurityEvent } from '../../src/core/event';
import { UnavailableError } from '../../src/core/errors';
import { falcoSecurityEvent } from '../support/alerts';

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

eventBusContract(
  'memory, 4 batches in flight',
  () => {
    const buses: MemoryBus[] = [];
    return {
      bus: () => {
        const bus = new MemoryBus(systemClock, { capacity: 10_000, batchSize: 5, retryDelayMs: 10, maxBatchesInFlight: 4 });
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

describe('MemoryBus with batches in flight', () => {
  const turns = async (n = 5) => {
    for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
  };

  it('hands later batches past one that waits, acknowledges in order, and holds at most maxBatchesInFlight', async () => {
    const handled: number[] = [];
    const bus = new MemoryBus(systemClock, {
      capacity: 100,
      batchSize: 1,
      retryDelayMs: 10,
      maxBatchesInFlight: 3,
      journal: { append: async () => undefined, handled: (n) => handled.push(n) },
    });
    const handed: string[] = [];
    const release = new Map<string, () => void>();
    await bus.consume((events) => {
      handed.push(events[0]!.id);
      return new Promise<void>((done) => release.set(events[0]!.id, done));
    });
    await bus.publish(Array.from({ length: 5 }, (_, i) => falcoSecurityEvent({ uuid: `e${i}` })));
    await turns();
    expect(handed).toEqual(['e0', 'e1', 'e2']); // three wait; the other two wait for room
    release.get('e1')!();
    await turns();
    expect(handed).toEqual(['e0', 'e1', 'e2']); // e1 is done but not acknowledged before e0: no room yet
    expect(handled).toEqual([]);
    expect(bus.depth()).toBe(5);
    release.get('e0')!();
    await turns();
    expect(handled).toEqual([1, 1]); // e0, then e1
    expect(handed).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
    for (const id of ['e2', 'e3', 'e4']) release.get(id)!();
    await bus.drain();
    expect(bus.depth()).toBe(0);
    expect(handled.reduce((a, b) => a + b, 0)).toBe(5);
  });

  it('gives a running batch company only while what is in flight is parked on a wait', async () => {
    let parked = false;
    // Each look is a call of `parked`: the bus asks again every time slice while a batch runs busy.
    let looks = 0;
    const bus = new MemoryBus(systemClock, {
      capacity: 100,
      batchSize: 1,
      retryDelayMs: 10,
      maxBatchesInFlight: 3,
      parked: () => {
        looks++;
        return parked;
      },
    });
    const handed: string[] = [];
    const release = new Map<string, () => void>();
    await bus.consume((events) => {
      handed.push(events[0]!.id);
      return new Promise<void>((done) => release.set(events[0]!.id, done));
    });
    await bus.publish(Array.from({ length: 3 }, (_, i) => falcoSecurityEvent({ uuid: `p${i}` })));
    // Counted in looks, not in ms: a loaded box stretches a time slice, not the order of things.
    // Five looks take five slices (50 ms); 2 s is the margin for a busy machine, and a bus that waits
    // for the batch to end (it never does here) or looks once a second does not get there.
    try {
      await eventually('five looks', () => looks >= 5 || handed.length > 1, 2000);
      expect(handed).toEqual(['p0']); // busy at every look: still alone
      parked = true; // it waits now: the next look hands p1, the one after it p2
      const parkedAt = looks;
      await eventually('company', () => handed.length === 3, 2000);
      expect(handed).toEqual(['p0', 'p1', 'p2']);
      expect(looks - parkedAt).toBe(2);
    } finally {
      // Also when it failed: a bus left looking keeps jest from exiting.
      parked = true;
      const stop = bus.close();
      while (bus.depth() > 0) {
        for (const done of release.values()) done();
        await new Promise((r) => setTimeout(r, 5));
      }
      await stop;
    }
    expect(bus.depth()).toBe(0);
  });

  it('hands a batch published while one waits past it, and one published beside one done in microtasks after it', async () => {
    const bus = new MemoryBus(systemClock, { capacity: 100, batchSize: 1, retryDelayMs: 10, maxBatchesInFlight: 3 });
    const handed: string[] = [];
    let running = 0;
    let most = 0;
    let release!: () => void;
    await bus.consume(async (events) => {
      const id = events[0]!.id;
      handed.push(id);
      most = Math.max(most, ++running);
      if (id === 'wait') await new Promise<void>((done) => (release = done));
      else for (let i = 0; i < 5; i++) await Promise.resolve();
      running--;
    });
    // The queue is empty after each hand-over: the bus waits for the batch, or for a publish.
    const quick = [bus.publish([falcoSecurityEvent({ uuid: 'q0' })]), bus.publish([falcoSecurityEvent({ uuid: 'q1' })])];
    await Promise.all(quick);
    await turns();
    expect(most).toBe(1); // q1 came in the same stretch as q0, which was done in microtasks: no company
    await bus.publish([falcoSecurityEvent({ uuid: 'wait' })]);
    await turns();
    await bus.publish([falcoSecurityEvent({ uuid: 'later' })]);
    await turns();
    expect(handed).toEqual(['q0', 'q1', 'wait', 'later']); // 'wait' waits on I/O: 'later' goes past it
    expect(bus.depth()).toBe(2); // 'later' is done but is acknowledged only after 'wait'
    release();
    await bus.drain();
    expect(bus.depth()).toBe(0);
    await bus.close();
  });

  it('after a failure in flight, delivers again from the oldest batch not acknowledged', async () => {
    const bus = new MemoryBus(systemClock, { capacity: 100, batchSize: 1, retryDelayMs: 10, maxBatchesInFlight: 3 });
    const handed: string[] = [];
    let failOnce = true;
    let releaseFirst!: () => void;
    await bus.consume(async (events) => {
      const id = events[0]!.id;
      handed.push(id);
      if (id === 'e0' && !releaseFirst) await new Promise<void>((done) => (releaseFirst = done));
      if (id === 'e1' && failOnce) {
        failOnce = false;
        throw new Error('store down');
      }
    });
    await bus.publish(Array.from({ length: 3 }, (_, i) => falcoSecurityEvent({ uuid: `e${i}` })));
    await turns();
    expect(handed).toEqual(['e0', 'e1']); // e1 failed: nothing more is handed over while e0 runs
    releaseFirst();
    await bus.drain();
    expect(handed).toEqual(['e0', 'e1', 'e1', 'e2']); // e0 was acknowledged; delivery starts again at e1
  });
});

describe('MemoryBus bounds', () => {
  const event = (id: string, sizeBytes?: number): SecurityEvent => ({
    ...falcoSecurityEvent({ uuid: id }),
    ...(sizeBytes === undefined ? {} : { sizeBytes }),
  });

  it('refuses a publish beyond its byte bound with 503 + Retry-After, and takes again once drained', async () => {
    const bus = new MemoryBus(systemClock, { capacity: 1000, capacityBytes: 10_000, batchSize: 10, retryDelayMs: 10 });
    await bus.publish([event('a', 6000)]);
    expect(bus.queuedBytes()).toBe(6000);
    const refused = await bus.publish([event('b', 6000)]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UnavailableError);
    expect((refused as UnavailableError).status).toBe(503);
    expect((refused as UnavailableError).retryAfterSeconds).toBeGreaterThan(0);
    expect(bus.health().ok).toBe(true);
    await bus.publish([event('c', 4000)]);
    expect(bus.health()).toMatchObject({ ok: false });
    const seen: string[] = [];
    await bus.consume(async (events) => {
      seen.push(...events.map((e) => e.id));
    });
    await bus.drain();
    expect(seen).toEqual(['a', 'c']);
    expect(bus.queuedBytes()).toBe(0);
    await bus.publish([event('d', 6000)]);
    await bus.drain();
    expect(seen).toEqual(['a', 'c', 'd']);
    await bus.close();
  });

  it('holds a publish that does not fit until there is room, in arrival order, and refuses it once the wait is over', async () => {
    const clock = new VirtualClock(0);
    const bus = new MemoryBus(clock, { capacity: 4, batchSize: 2, retryDelayMs: 10, waitForRoomMs: 1000 });
    const queued = Array.from({ length: 2 }, (_, i) => `q${i}`);
    await bus.publish(queued.map((id) => event(id)));
    const outcomes: string[] = [];
    const note = (name: string, p: Promise<void>) =>
      p.then(
        () => outcomes.push(`${name} in`),
        (e: unknown) => outcomes.push(`${name} ${(e as UnavailableError).status}`),
      );
    const g = note('g', bus.publish([event('g'), event('h'), event('i')])); // does not fit: waits
    const j = note('j', bus.publish([event('j')])); // would fit, but g came first: waits behind it
    const k = note('k', bus.publish([event('k'), event('l')])); // the waiting room (as much as the queue: 4 events) is full
    await k;
    expect(outcomes).toEqual(['k 503']);
    expect(bus.depth()).toBe(2);
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await bus.consume(async (events) => {
      seen.push(...events.map((e) => e.id));
      if (seen.length > 2) await gate; // the consumer takes two, then stalls on the next batch
    });
    await g;
    await j;
    expect(outcomes).toEqual(['k 503', 'g in', 'j in']);
    expect(bus.depth()).toBe(4);
    const m = note('m', bus.publish([event('m')]));
    clock.advance(999);
    await Promise.resolve();
    expect(outcomes).toHaveLength(3); // still waiting
    clock.advance(1);
    await m;
    expect(outcomes).toEqual(['k 503', 'g in', 'j in', 'm 503']);
    release();
    await bus.drain();
    expect(seen).toEqual([...queued, 'g', 'h', 'i', 'j']);
    await bus.close();
  });

  it('refuses at once without a wait, and turns waiting publishes away when it closes', async () => {
    const bus = new MemoryBus(new VirtualClock(0), { capacity: 4, batchSize: 2, retryDelayMs: 10 });
    await bus.publish([event('a'), event('b'), event('c'), event('d')]);
    await expect(bus.publish([event('e')])).rejects.toBeInstanceOf(UnavailableError);
    const waiting = new MemoryBus(new VirtualClock(0), { capacity: 4, batchSize: 2, retryDelayMs: 10, waitForRoomMs: 1000 });
    await waiting.publish([event('a'), event('b'), event('c'), event('d')]);
    const held = waiting.publish([event('e')]).catch((e: unknown) => e);
    await waiting.close();
    expect(await held).toBeInstanceOf(UnavailableError);
    expect(((await held) as Error).message).toMatch(/shutting down/);
  });

  it('an empty queue takes one publish larger than the bound (slow, not refused for ever)', async () => {
    const bus = new MemoryBus(systemClock, { capacity: 1000, capacityBytes: 1000, batchSize: 10, retryDelayMs: 10 });
    await bus.publish([event('big', 5000)]);
    await expect(bus.publish([event('next', 10)])).rejects.toBeInstanceOf(UnavailableError);
    await bus.close();
  });

  it('releases handled events at once: nothing it handled stays reachable from the bus', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const bus = new MemoryBus(systemClock, { capacity: 10_000, batchSize: 16, retryDelayMs: 10 });
    let handled = 0;
    await bus.consume(async (events) => {
      handled += events.length;
    });
    const refs: WeakRef<SecurityEvent>[] = [];
    // In a function of its own, so no local of this test holds the last event.
    const publishAll = async () => {
      for (let i = 0; i < 100; i++) {
        const e = event(`e${i}`, 100);
        refs.push(new WeakRef(e));
        await bus.publish([e]);
      }
    };
    await publishAll();
    await bus.drain();
    expect(handled).toBe(100);
    await new Promise((r) => setImmediate(r));
    gc();
    expect(refs.filter((r) => r.deref() !== undefined)).toHaveLength(0);
    await bus.close();
  });

  it('halves the batch while one batch outlasts a time slice, so ingest is not starved', async () => {
    const bus = new MemoryBus(systemClock, { capacity: 1000, batchSize: 8, retryDelayMs: 10 });
    const sizes: number[] = [];
    await bus.publish(Array.from({ length: 20 }, (_, i) => event(`s${i}`, 10)));
    await bus.consume(async (events) => {
      sizes.push(events.length);
      const until = performance.now() + 12 * events.length; // 12 ms of work per event
      while (performance.now() < until);
    });
    await bus.drain();
    expect(sizes.slice(0, 4)).toEqual([8, 4, 2, 1]);
    expect(sizes.every((n, i) => i < 4 || n === 1)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(20);
    await bus.close();
  });
});
