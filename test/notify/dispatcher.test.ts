import pino from 'pino';
import type { Alert } from '../../src/core/alert';
import { VirtualClock } from '../../src/core/clock';
import { DeliveryError } from '../../src/core/errors';
import { Dispatcher } from '../../src/notify/dispatcher';
import type { DeliveryRef, Notifier, SendContext } from '../../src/notify/port';
import { createMetrics } from '../../src/observability/metrics';
import { MemoryStateStore } from '../../src/store/memory';
import { alertOf, falcoSecurityEvent } from '../support/alerts';
import { buildRoute, routeReceivers } from '../../src/alert/route';
import { routeSchema } from '../../src/config/schema';

/** A receiver that records calls and fails as scripted. */
class ScriptedNotifier implements Notifier {
  readonly sends: Alert[] = [];
  readonly updates: { alert: Alert; ref: DeliveryRef }[] = [];
  readonly failures: (DeliveryError | undefined)[] = [];
  constructor(
    readonly name = 'r',
    readonly minPriority: Notifier['minPriority'] = 'debug',
  ) {}
  async send(alert: Alert) {
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.sends.push(alert);
    return { ts: `ts-${this.sends.length}` };
  }
  async update(alert: Alert, ref: DeliveryRef) {
    this.updates.push({ alert, ref });
  }
}

/** A receiver that posts replies in threads: records what each send was told. */
class ThreadingNotifier extends ScriptedNotifier {
  readonly contexts: (SendContext | undefined)[] = [];
  override async send(alert: Alert, context?: SendContext) {
    this.contexts.push(context);
    return super.send(alert);
  }
}

function setupShared(notifiers: Notifier[], overrides: Partial<ConstructorParameters<typeof Dispatcher>[5]> = {}) {
  const clock = new VirtualClock(1_000_000);
  const store = new MemoryStateStore(clock);
  const metrics = createMetrics();
  const dispatcher = new Dispatcher(notifiers, store, clock, metrics, pino({ level: 'silent' }), {
    maxAttempts: 4,
    baseDelayMs: 1000,
    maxDelayMs: 8000,
    updateDebounceMs: 5000,
    windowMs: 3_600_000,
    queueCapacity: 100,
    deadLetterCapacity: 100,
    ...overrides,
  });
  /** Advances the virtual clock timer by timer, letting the work each one starts settle before the next. */
  const advance = async (ms: number) => {
    const target = clock.now() + ms;
    await dispatcher.settled();
    for (let at = clock.nextTimerAt(); at !== undefined && at <= target; at = clock.nextTimerAt()) {
      clock.advance(at - clock.now());
      await dispatcher.settled();
    }
    clock.advance(target - clock.now());
    await dispatcher.settled();
  };
  return { clock, store, metrics, dispatcher, advance };
}

const alert = (overrides: Partial<Alert> = {}) => alertOf(falcoSecurityEvent(), overrides);

// Every behaviour holds whether the store is shared with other replicas or this process's alone
// (exclusiveStore: sends take no in-flight claim).
describe.each([false, true])('Dispatcher (exclusiveStore: %s)', (exclusiveStore) => {
  const setup = (notifiers: Notifier[], overrides: Parameters<typeof setupShared>[1] = {}) =>
    setupShared(notifiers, { exclusiveStore, ...overrides });

  it('announces once per fingerprint and window, even when asked twice (a redelivered event)', async () => {
    const n = new ScriptedNotifier();
    const { dispatcher } = setup([n]);
    dispatcher.announce(alert());
    dispatcher.announce(alert());
    await dispatcher.settled();
    expect(n.sends).toHaveLength(1);
  });

  it('sends what is queued while a lane finishes its last job, whatever the microtask it lands in', async () => {
    // A job queued after the lane's loop saw it empty, but before the lane counted as idle, would wait
    // for the next one to be queued: try every turn around that moment.
    for (let turns = 0; turns < 40; turns++) {
      const n = new ScriptedNotifier();
      const { dispatcher } = setup([n]);
      void dispatcher.announce(alert({ fingerprint: 'first' }));
      for (let i = 0; i < turns; i++) await Promise.resolve();
      void dispatcher.announce(alert({ fingerprint: 'second' }));
      await dispatcher.settled();
      expect({ turns, sent: n.sends.map((a) => a.fingerprint) }).toEqual({ turns, sent: ['first', 'second'] });
    }
  });

  it('respects each receiver minimum priority', async () => {
    const low = new ScriptedNotifier('low', 'debug');
    const high = new ScriptedNotifier('high', 'critical');
    const { dispatcher } = setup([low, high]);
    dispatcher.announce(alert({ priority: 'notice' }));
    dispatcher.announce(alert({ fingerprint: 'fp-2', priority: 'critical' }));
    await dispatcher.settled();
    expect(low.sends.map((a) => a.fingerprint)).toEqual(['fp-1', 'fp-2']);
    expect(high.sends.map((a) => a.fingerprint)).toEqual(['fp-2']);
  });

  it('sends to the receivers the routing tree names, and only those', async () => {
    const shop = new ScriptedNotifier('shop');
    const sec = new ScriptedNotifier('security');
    const other = new ScriptedNotifier('other');
    const tree = buildRoute(
      routeSchema.parse({
        receiver: 'other',
        routes: [
          { matchers: ['namespace="shop"'], receiver: 'shop', continue: true },
          { matchers: ['severity="critical"'], receiver: 'security' },
        ],
      }),
    );
    const { dispatcher } = setup([shop, sec, other], { route: (a) => routeReceivers(tree, a.labels) });
    dispatcher.announce(alert({ fingerprint: 'a', labels: { namespace: 'shop', severity: 'critical' } }));
    dispatcher.announce(alert({ fingerprint: 'b', labels: { namespace: 'shop', severity: 'info' } }));
    dispatcher.announce(alert({ fingerprint: 'c', labels: { namespace: 'web', severity: 'info' } }));
    await dispatcher.settled();
    expect(shop.sends.map((a) => a.fingerprint)).toEqual(['a', 'b']);
    expect(sec.sends.map((a) => a.fingerprint)).toEqual(['a']);
    expect(other.sends.map((a) => a.fingerprint)).toEqual(['c']);
  });

  it('retries with exponential backoff, exactly on schedule', async () => {
    const n = new ScriptedNotifier();
    n.failures.push(new DeliveryError('5xx', true), new DeliveryError('5xx', true));
    const { dispatcher, advance } = setup([n]);
    dispatcher.announce(alert());
    await advance(999);
    expect(n.sends).toHaveLength(0); // first retry due at 1000 ms
    await advance(1);
    expect(n.sends).toHaveLength(0); // second failure; next due 2000 ms later
    await advance(1999);
    expect(n.sends).toHaveLength(0);
    await advance(1);
    expect(n.sends).toHaveLength(1);
  });

  it('waits at least Retry-After on a 429', async () => {
    const n = new ScriptedNotifier();
    n.failures.push(new DeliveryError('429', true, 30_000));
    const { dispatcher, advance } = setup([n]);
    dispatcher.announce(alert());
    await advance(29_999);
    expect(n.sends).toHaveLength(0);
    await advance(1);
    expect(n.sends).toHaveLength(1);
  });

  it('holds later alerts of the same receiver behind a rate-limited one, then sends all in order', async () => {
    const n = new ScriptedNotifier();
    n.failures.push(new DeliveryError('429', true, 10_000));
    const { dispatcher, advance } = setup([n]);
    dispatcher.announce(alert({ fingerprint: 'a' }));
    dispatcher.announce(alert({ fingerprint: 'b' }));
    await advance(5000);
    expect(n.sends).toHaveLength(0);
    await advance(5000);
    expect(n.sends.map((a) => a.fingerprint)).toEqual(['a', 'b']);
  });

  it('dead-letters a permanent failure at once and a transient one after the last attempt; replay delivers them', async () => {
    const n = new ScriptedNotifier();
    n.failures.push(new DeliveryError('channel_not_found', false));
    n.failures.push(...Array.from({ length: 4 }, () => new DeliveryError('5xx', true)));
    const { dispatcher, advance, metrics } = setup([n]);
    dispatcher.announce(alert({ fingerprint: 'perm' }));
    dispatcher.announce(alert({ fingerprint: 'trans' }));
    await advance(1000 + 2000 + 4000);
    expect(dispatcher.deadLetters().map((d) => [d.fingerprint, d.attempts])).toEqual([
      ['perm', 1],
      ['trans', 4],
    ]);
    expect(await metrics.registry.getSingleMetricAsString('falconer_dead_letters')).toMatch(/falconer_dead_letters 2/);
    expect(dispatcher.replayDeadLetters()).toBe(2);
    await advance(0);
    expect(n.sends.map((a) => a.fingerprint)).toEqual(['perm', 'trans']);
    expect(dispatcher.deadLetters()).toHaveLength(0);
  });

  it('folds duplicates into one debounced update carrying the latest count', async () => {
    const n = new ScriptedNotifier();
    const { dispatcher, advance } = setup([n]);
    dispatcher.announce(alert());
    await advance(0);
    dispatcher.refresh(alert({ count: 2 }));
    await advance(1000);
    dispatcher.refresh(alert({ count: 3 }));
    await advance(3999);
    expect(n.updates).toHaveLength(0);
    await advance(1);
    expect(n.updates).toHaveLength(1);
    expect(n.updates[0]!.alert.count).toBe(3);
    expect(n.updates[0]!.ref).toEqual({ ts: 'ts-1' });
    expect(n.sends).toHaveLength(1);
  });

  it('flushes pending updates on close', async () => {
    const n = new ScriptedNotifier();
    const { dispatcher, advance } = setup([n]);
    dispatcher.announce(alert());
    await advance(0);
    dispatcher.refresh(alert({ count: 7 }));
    await dispatcher.close();
    expect(n.updates.map((u) => u.alert.count)).toEqual([7]);
  });

  it('dead-letters instead of growing without bound', async () => {
    const n = new ScriptedNotifier();
    n.failures.push(new DeliveryError('429', true, 60_000));
    const { dispatcher } = setup([n], { queueCapacity: 2 });
    for (const fp of ['a', 'b', 'c', 'd']) dispatcher.announce(alert({ fingerprint: fp }));
    await dispatcher.settled();
    expect(dispatcher.depth()).toBe(2);
    expect(dispatcher.deadLetters().map((d) => [d.fingerprint, d.error])).toEqual([
      ['c', 'delivery queue full'],
      ['d', 'delivery queue full'],
    ]);
  });

  it('resolves announce only once the notification is handed off in the store', async () => {
    const n = new ScriptedNotifier();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const send = n.send.bind(n);
    n.send = async (sent: Alert) => gate.then(() => send(sent)); // the record is read while the send waits
    const { dispatcher, store } = setup([n]);
    const a = alert();
    await dispatcher.announce(a);
    const record = JSON.parse((await store.get(`notify:r:${a.fingerprint}:${a.firstSeen}`))!);
    // Handed off: pending, or already claimed by this replica's lane.
    expect(['pending', 'inflight']).toContain(record.state);
    expect(record).toMatchObject({ receiver: 'r', alert: { fingerprint: a.fingerprint } });
    release();
    await dispatcher.settled();
    expect(JSON.parse((await store.get(`notify:r:${a.fingerprint}:${a.firstSeen}`))!)).toEqual({
      state: 'sent',
      ref: { ts: 'ts-1' },
    });
    expect(await store.due(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
  });

  it('rejects announce when the store cannot take the hand-off', async () => {
    const n = new ScriptedNotifier();
    const { dispatcher, store } = setup([n]);
    jest.spyOn(store, 'handOff').mockRejectedValueOnce(new Error('redis down'));
    await expect(dispatcher.announce(alert())).rejects.toThrow('redis down');
    await dispatcher.settled();
    expect(n.sends).toHaveLength(0);
  });

  it("updates an incident's parent message from the parent alert kept beside its thread record, or inline in an older record", async () => {
    const n = new ScriptedNotifier();
    const { dispatcher, store, advance } = setup([n]);
    const incident = { id: 'inc-1', parent: 'fp-parent', severity: 'critical', alerts: 2, chain: null } as const;
    const parent = alert({ fingerprint: 'fp-parent', incident: { ...incident, alerts: 1 } });
    await dispatcher.announce(parent);
    await dispatcher.settled();
    expect(JSON.parse((await store.get('thread:r:inc-1'))!)).toEqual({ ref: { ts: 'ts-1' } }); // small: every member reads it
    dispatcher.incidentChanged(incident);
    await advance(5000);
    expect(n.updates.map((u) => [u.alert.fingerprint, u.alert.incident?.alerts, u.ref])).toEqual([
      ['fp-parent', 2, { ts: 'ts-1' }],
    ]);
    // A record an earlier version wrote, the alert inline:
    const older = alert({ fingerprint: 'fp-older' });
    await store.set('thread:r:inc-2', JSON.stringify({ ref: { ts: 'old' }, alert: older }), 60_000);
    dispatcher.incidentChanged({ ...incident, id: 'inc-2', parent: 'fp-older' });
    await advance(5000);
    expect(n.updates.map((u) => [u.alert.fingerprint, u.ref])).toEqual([
      ['fp-parent', { ts: 'ts-1' }],
      ['fp-older', { ts: 'old' }],
    ]);
  });

  it("posts each member in the thread its incident's record names when it is sent, while the record lasts", async () => {
    const n = new ThreadingNotifier();
    const { dispatcher, store, advance } = setup([n]);
    const incident = { id: 'inc-1', parent: 'fp-parent', severity: 'critical', alerts: 1, chain: null } as const;
    const member = (fingerprint: string, id = 'inc-1') => alert({ fingerprint, incident: { ...incident, id, alerts: 2 } });
    // A record an earlier run left in the store (embedded mode: the data dir), never written here.
    await store.set('thread:r:inc-2', JSON.stringify({ ref: { ts: 'ts-earlier' } }), 60_000);
    await dispatcher.announce(alert({ fingerprint: 'fp-parent', incident }));
    await dispatcher.settled();
    await dispatcher.announce(member('fp-1'));
    await dispatcher.announce(member('fp-2', 'inc-2'));
    await dispatcher.settled();
    const expected: (SendContext | undefined)[] = [
      undefined,
      { thread: { ts: 'ts-1' }, broadcast: false },
      { thread: { ts: 'ts-earlier' }, broadcast: false },
    ];
    if (!exclusiveStore) {
      // Another replica posted the parent again: the record is read as it now stands, not as last parsed.
      await store.set('thread:r:inc-1', JSON.stringify({ ref: { ts: 'ts-elsewhere' } }), 60_000);
      await dispatcher.announce(member('fp-3'));
      await dispatcher.settled();
      expected.push({ thread: { ts: 'ts-elsewhere' }, broadcast: false });
    }
    // Past the window the records are gone: a member is a channel message of its own.
    await advance(3_600_000);
    await dispatcher.announce(member('fp-4'));
    await dispatcher.announce(member('fp-5', 'inc-2'));
    await dispatcher.settled();
    expect(n.contexts).toEqual([...expected, undefined, undefined]);
  });

  it("does not hold the shutdown for an incident's debounced parent update (the next member makes it)", async () => {
    const n = new ScriptedNotifier();
    const { dispatcher, clock } = setup([n]);
    const incident = { id: 'inc-1', parent: 'fp-parent', severity: 'critical', alerts: 1, chain: null } as const;
    await dispatcher.announce(alert({ fingerprint: 'fp-parent', incident }));
    await dispatcher.settled();
    dispatcher.incidentChanged({ ...incident, alerts: 2 });
    await dispatcher.close();
    expect(n.updates).toEqual([]);
    expect(clock.nextTimerAt()).toBeUndefined(); // its timer is gone too
  });

  it('carries an amend made while a held send waits into that send, and into its record', async () => {
    const n = new ScriptedNotifier();
    const { dispatcher, store, advance } = setup([n]);
    const a = alert();
    await dispatcher.announce(a, { holdMs: 5000 });
    const attributed = { ...a, attribution: { user: 'alice', confidence: 'exact' } } as Alert;
    await dispatcher.amend(attributed);
    await dispatcher.settled();
    const record = JSON.parse((await store.get(`notify:r:${a.fingerprint}:${a.firstSeen}`))!);
    expect(record).toMatchObject({ state: 'pending', alert: { attribution: { user: 'alice' } } });
    expect(n.sends).toHaveLength(0);
    await advance(5000);
    expect(n.sends.map((s) => s.attribution?.user)).toEqual(['alice']);
    expect(n.updates).toHaveLength(0);
  });
});

/** A send that never finishes: its replica is about to be killed. */
class HangingNotifier extends ScriptedNotifier {
  started = 0;
  override send(): Promise<{ ts: string }> {
    this.started++;
    return new Promise(() => undefined);
  }
}

describe('Dispatcher across replicas sharing a store', () => {
  const LEASE = 30_000;
  const GRACE = 10_000;
  const POLL = 1_000;

  /** Two replicas, one store. The dead one's clock never moves again: no renewals, no retries. */
  function replicas(deadNotifier: Notifier, liveNotifier: Notifier) {
    const live = setupShared([liveNotifier], { leaseMs: LEASE, claimGraceMs: GRACE, recoverIntervalMs: POLL });
    const deadClock = new VirtualClock(live.clock.now());
    const dead = new Dispatcher([deadNotifier], live.store, deadClock, createMetrics(), pino({ level: 'silent' }), {
      maxAttempts: 4,
      baseDelayMs: 1000,
      maxDelayMs: 8000,
      updateDebounceMs: 5000,
      windowMs: 3_600_000,
      queueCapacity: 100,
      deadLetterCapacity: 100,
      leaseMs: LEASE,
      claimGraceMs: GRACE,
      recoverIntervalMs: POLL,
    });
    return { live, dead };
  }

  it("takes over a dead replica's send claim once its lease expired, not before", async () => {
    const hanging = new HangingNotifier('sec');
    const survivor = new ScriptedNotifier('sec');
    const { live, dead } = replicas(hanging, survivor);
    await dead.announce(alert());
    while (hanging.started === 0) await new Promise((done) => setImmediate(done)); // claimed and sending; the process dies here
    expect(JSON.parse((await live.store.get('notify:sec:fp-1:0'))!)).toMatchObject({ state: 'inflight' });
    await live.advance(LEASE - 1);
    expect(survivor.sends).toHaveLength(0);
    await live.advance(POLL + 1); // the first recovery pass after the lease ran out
    expect(survivor.sends.map((a) => a.fingerprint)).toEqual(['fp-1']);
    await live.advance(5 * LEASE);
    expect(survivor.sends).toHaveLength(1);
  });

  it('sends what a dead replica handed off but never claimed, after the claim grace', async () => {
    const deadNotifier = new ScriptedNotifier('sec');
    const survivor = new ScriptedNotifier('sec');
    const { live, dead } = replicas(deadNotifier, survivor);
    // Killed between the hand-off and the claim: the hand-off is in the store, nothing else happened.
    jest.spyOn(live.store, 'get').mockImplementationOnce(() => new Promise(() => undefined));
    await dead.announce(alert());
    await live.advance(GRACE - 1);
    expect(survivor.sends).toHaveLength(0);
    await live.advance(POLL + 1);
    expect(survivor.sends).toHaveLength(1);
    expect(deadNotifier.sends).toHaveLength(0);
  });

  it('leaves a live claim alone: a slow send is renewed and sent once', async () => {
    let finish!: (ref: DeliveryRef) => void;
    const slow: Notifier = { name: 'sec', minPriority: 'debug', send: () => new Promise((done) => (finish = done)) };
    const other = new ScriptedNotifier('sec');
    const a = setupShared([slow], { leaseMs: LEASE, claimGraceMs: GRACE, recoverIntervalMs: POLL });
    const b = new Dispatcher([other], a.store, a.clock, createMetrics(), pino({ level: 'silent' }), {
      maxAttempts: 4,
      baseDelayMs: 1000,
      maxDelayMs: 8000,
      updateDebounceMs: 5000,
      windowMs: 3_600_000,
      queueCapacity: 100,
      deadLetterCapacity: 100,
      leaseMs: LEASE,
      claimGraceMs: GRACE,
      recoverIntervalMs: POLL,
    });
    void a.dispatcher.announce(alert());
    // Not a.advance: that waits for a's lanes, and a's send is deliberately still running.
    for (let t = 0; t < 3 * LEASE; t += POLL) {
      a.clock.advance(POLL);
      await b.settled();
      await new Promise((done) => setImmediate(done));
    }
    expect(other.sends).toHaveLength(0);
    finish({ ts: 'slow-1' });
    await a.dispatcher.settled();
    expect(JSON.parse((await a.store.get('notify:sec:fp-1:0'))!)).toMatchObject({ state: 'sent' });
  });

  it('a redelivered announcement is one post across replicas', async () => {
    const first = new ScriptedNotifier('sec');
    const second = new ScriptedNotifier('sec');
    const { live, dead } = replicas(first, second);
    await Promise.all([dead.announce(alert()), live.dispatcher.announce(alert({ count: 2 }))]);
    await Promise.all([dead.settled(), live.advance(2 * LEASE)]);
    expect(first.sends.length + second.sends.length).toBe(1);
  });
});
