import pino from 'pino';
import { Grouper, groupDocKey, type GrouperOptions } from '../../src/alert/group';
import { buildRoute } from '../../src/alert/route';
import { SilenceStore } from '../../src/alert/silence';
import { suppressor } from '../../src/alert/suppress';
import { TimeIntervals } from '../../src/alert/time-intervals';
import { routeSchema } from '../../src/config/schema';
import type { Alert } from '../../src/core/alert';
import { VirtualClock } from '../../src/core/clock';
import { Dispatcher } from '../../src/notify/dispatcher';
import type { DeliveryRef, Notifier } from '../../src/notify/port';
import { createMetrics } from '../../src/observability/metrics';
import { MemoryStateStore } from '../../src/store/memory';
import type { StateStore } from '../../src/store/port';
import { RedisStateStore } from '../../src/store/redis';
import { alertOf, falcoSecurityEvent } from '../support/alerts';
import { testRedisUrl, uniqueName } from '../support/services';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const log = pino({ level: 'silent' });

interface Call {
  at: number;
  kind: 'send' | 'update' | 'resolve';
  reason: string;
  alerts: string[];
  resolved: string[];
}

class GroupRecorder implements Notifier {
  readonly minPriority = 'debug' as const;
  readonly calls: Call[] = [];
  constructor(
    readonly name: string,
    private readonly clock: VirtualClock,
  ) {}
  private record(kind: Call['kind'], a: Alert) {
    const g = a.group!;
    this.calls.push({
      at: this.clock.now() - T0,
      kind,
      reason: g.reason,
      alerts: g.alerts.map((x) => x.fingerprint),
      resolved: Object.keys(g.resolvedAt).sort(),
    });
  }
  async send(a: Alert) {
    this.record('send', a);
    return { id: 'm1' };
  }
  async update(a: Alert, _ref: DeliveryRef) {
    this.record('update', a);
  }
  async resolve(a: Alert, _ref: DeliveryRef, _at: number) {
    this.record('resolve', a);
  }
}

const TREE = {
  receiver: 'team',
  group_by: ['namespace'],
  group_wait: '30s',
  group_interval: '5m',
  repeat_interval: '4h',
  routes: [{ matchers: ['rule="Fast"'], receiver: 'team', group_wait: '0s', group_interval: '1m', repeat_interval: '7m' }],
};

function setup(
  opts: { tree?: object; options?: Partial<GrouperOptions>; store?: StateStore; clock?: VirtualClock; name?: string } = {},
) {
  const clock = opts.clock ?? new VirtualClock(T0);
  const store = opts.store ?? new MemoryStateStore(clock);
  const notifier = new GroupRecorder(opts.name ?? 'team', clock);
  const dispatcher = new Dispatcher([notifier], store, clock, createMetrics(), log, {
    maxAttempts: 3,
    baseDelayMs: 1000,
    maxDelayMs: 1000,
    updateDebounceMs: 1000,
    windowMs: 24 * H,
    queueCapacity: 100,
    deadLetterCapacity: 10,
  });
  const silences = new SilenceStore(store, clock, { capacity: 10, retentionMs: H, cacheMs: 0 });
  const tree = buildRoute(routeSchema.parse(opts.tree ?? TREE));
  const grouper = new Grouper(tree, store, dispatcher, suppressor({ silences }), clock, log, {
    resolveAfterMs: 1 * H,
    maxAlertsPerGroup: 100,
    ttlMs: 24 * H,
    ...opts.options,
  });
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      await grouper.settled();
      await dispatcher.settled();
    }
  };
  /** Moves to T0 + `ms`, timer by timer, letting each one's work finish before the next. */
  const at = async (ms: number) => {
    await settle();
    for (let next = clock.nextTimerAt(); next !== undefined && next <= T0 + ms; next = clock.nextTimerAt()) {
      clock.advance(next - clock.now());
      await settle();
    }
    clock.advance(T0 + ms - clock.now());
    await settle();
  };
  let n = 0;
  const fire = (fingerprint: string, labels: Record<string, string>, count = 1) =>
    grouper.add(
      alertOf(falcoSecurityEvent(), {
        fingerprint,
        labels: { rule: 'Slow', ...labels },
        count,
        firstSeen: clock.now(),
        lastSeen: clock.now(),
        evidence: [`e${++n}`],
      }),
    );
  return { clock, store, notifier, dispatcher, grouper, silences, at, fire, settle };
}

describe('grouping and its timers (virtual clock, exact times)', () => {
  it('waits group_wait, then sends one notification per group listing its alerts', async () => {
    const { notifier, fire, at } = setup();
    await fire('a', { namespace: 'shop' });
    await at(10 * S);
    await fire('b', { namespace: 'shop' });
    await at(20 * S);
    await fire('c', { namespace: 'web' });
    await at(29_999);
    expect(notifier.calls).toEqual([]);
    await at(30 * S);
    expect(notifier.calls).toEqual([
      { at: 30 * S, kind: 'send', reason: 'first notification', alerts: ['a', 'b'], resolved: [] },
    ]);
    await at(50 * S);
    expect(notifier.calls.map((c) => [c.at, c.kind, c.alerts])).toEqual([
      [30 * S, 'send', ['a', 'b']],
      [50 * S, 'send', ['c']],
    ]);
  });

  it('adds a new alert at the next group_interval tick, in place, and not before', async () => {
    const { notifier, fire, at } = setup();
    await fire('a', { namespace: 'shop' });
    await at(1 * M);
    await fire('d', { namespace: 'shop' });
    await at(30 * S + 5 * M - 1);
    expect(notifier.calls.map((c) => c.kind)).toEqual(['send']);
    await at(30 * S + 5 * M);
    expect(notifier.calls.at(-1)).toEqual({
      at: 30 * S + 5 * M,
      kind: 'update',
      reason: 'new alerts added',
      alerts: expect.arrayContaining(['a', 'd']),
      resolved: [],
    });
    // Duplicates of known alerts change nothing: no notification at the following ticks.
    await fire('a', { namespace: 'shop' }, 7);
    await at(30 * S + 15 * M);
    expect(notifier.calls).toHaveLength(2);
  });

  it('honours repeat_interval as written (7m with a 1m group_interval repeats at 7m, not rounded)', async () => {
    const { notifier, fire, at } = setup({ tree: { ...TREE, routes: [{ ...TREE.routes[0], group_interval: '5m' }] } });
    await fire('f', { rule: 'Fast', namespace: 'shop' });
    await at(0);
    await at(22 * M);
    // Alertmanager would repeat at 10m and 20m (the first group_interval ticks at or past 7m, 14m).
    expect(notifier.calls.map((c) => [c.at, c.kind, c.reason])).toEqual([
      [0, 'send', 'first notification'],
      [7 * M, 'update', 'repeat interval elapsed'],
      [14 * M, 'update', 'repeat interval elapsed'],
      [21 * M, 'update', 'repeat interval elapsed'],
    ]);
  });

  it('resolves a group once all its alerts resolved, at the next tick, and forgets it', async () => {
    const { notifier, fire, at, store, clock } = setup({ options: { resolveAfterMs: 5 * M } });
    await fire('a', { namespace: 'shop' });
    expect(await store.get(groupDocKey('team', '{}:{namespace="shop"}'))).toBeDefined();
    await at(1 * M);
    await fire('b', { namespace: 'shop' });
    await at(30 * S + 5 * M); // the tick after the send: b is new, a resolved at 5m (quiet since 0)
    await at(30 * S + 10 * M); // b quiet since 1m: resolved at 6m, reported at this tick
    expect(notifier.calls.map((c) => [c.at, c.kind, c.reason, c.alerts, c.resolved])).toEqual([
      [30 * S, 'send', 'first notification', ['a'], []],
      [30 * S + 5 * M, 'update', 'new alerts added', ['b', 'a'], ['a']],
      [30 * S + 10 * M, 'resolve', 'all alerts resolved', ['b'], ['b']],
    ]);
    await at(60 * M);
    expect(notifier.calls).toHaveLength(3);
    expect(clock.pendingTimers()).toBe(0);
    expect(await store.get(groupDocKey('team', '{}:{namespace="shop"}'))).toBeUndefined();
  });

  it('never notifies a group whose alerts resolved within group_wait', async () => {
    const { notifier, fire, at, clock } = setup({ options: { resolveAfterMs: 10 * S } });
    await fire('a', { namespace: 'shop' });
    await at(10 * M);
    expect(notifier.calls).toEqual([]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('leaves silenced alerts out, and still resolves a notified alert that was silenced (AM #226)', async () => {
    const { notifier, fire, at, silences, clock } = setup({ options: { resolveAfterMs: 10 * M } });
    await fire('a', { namespace: 'shop', pod: 'p1' });
    await fire('b', { namespace: 'shop', pod: 'p2' });
    await at(30 * S);
    await silences.create({
      matchers: [{ name: 'pod', value: 'p1', isRegex: false, isEqual: true }],
      endsAt: new Date(clock.now() + 2 * H).toISOString(),
      createdBy: 't',
      comment: 'c',
    });
    await at(5 * M); // b keeps firing
    await fire('b', { namespace: 'shop', pod: 'p2' });
    await at(30 * S + 5 * M);
    await at(30 * S + 20 * M);
    expect(notifier.calls.map((c) => [c.at, c.kind, c.alerts, c.resolved])).toEqual([
      [30 * S, 'send', ['a', 'b'], []],
      [30 * S + 5 * M, 'update', ['b'], []], // a silenced: left out
      [30 * S + 10 * M, 'update', ['b', 'a'], ['a']], // a resolved at 10m though silenced: its resolve is owed
      [30 * S + 15 * M, 'resolve', ['b'], ['b']], // b quiet since 5m: resolved at 15m
    ]);
  });

  it('sends nothing while the route is muted by a time interval, then notifies at the first tick after it', async () => {
    const intervals = new TimeIntervals([
      { name: 'first-ten-minutes', time_intervals: [{ times: [{ start_time: '12:00', end_time: '12:10' }] }] },
    ]);
    const tree = {
      ...TREE,
      mute_time_intervals: undefined,
      routes: [{ matchers: ['rule="Slow"'], mute_time_intervals: ['first-ten-minutes'] }],
    };
    const { notifier, fire, at } = setup({ tree, options: { isMuted: (route, now) => intervals.routeMuted(route, now) } });
    await fire('a', { namespace: 'shop' }); // T0 is 12:00 UTC
    await at(10 * M);
    expect(notifier.calls).toEqual([]);
    await at(30 * S + 10 * M); // ticks at 0:30, 5:30 were muted; 10:30 is outside
    expect(notifier.calls.map((c) => [c.at, c.kind])).toEqual([[30 * S + 10 * M, 'send']]);
  });

  it('sends nothing twice: a steady stream of alerts gives exactly one notification per tick that changed', async () => {
    const { notifier, fire, at } = setup({ options: { resolveAfterMs: 2 * H } });
    for (let minute = 0; minute < 60; minute++) {
      await fire(`fp-${minute % 7}`, { namespace: 'shop' }); // seven alerts, recurring
      await at((minute + 1) * M);
    }
    // Send at 30s lists fp-0; ticks at 5m30 (fp-1..5 added) and 10m30 (fp-6 added); then nothing changes
    // until the 4h repeat, which is beyond the hour.
    expect(notifier.calls.map((c) => [c.at, c.kind, c.alerts.length])).toEqual([
      [30 * S, 'send', 1],
      [30 * S + 5 * M, 'update', 6],
      [30 * S + 10 * M, 'update', 7],
    ]);
  });
});

describe('groups shared by two replicas on real Redis', () => {
  const stores: RedisStateStore[] = [];
  afterAll(() => Promise.all(stores.map((s) => s.close())));

  it('flushes a group whose replica stopped before its flush, once the grace has passed', async () => {
    const prefix = `${uniqueName('orphans')}:`;
    const clock = new VirtualClock(T0);
    const redis = () => {
      const s = new RedisStateStore({ url: testRedisUrl(), keyPrefix: prefix });
      stores.push(s);
      return s;
    };
    const a = setup({ clock, store: redis(), options: { orphanGraceMs: 5000 } });
    const b = setup({ clock, store: redis(), options: { orphanGraceMs: 5000 } });
    await a.fire('x', { namespace: 'shop' });
    await a.grouper.close(); // replica A stops before the group's first flush
    clock.advance(30 * S + 4999);
    await b.grouper.recover();
    await b.settle();
    expect(b.notifier.calls).toEqual([]); // still within the grace: A might be alive and late
    clock.advance(1);
    await b.grouper.recover();
    await b.settle();
    expect(b.notifier.calls.map((c) => [c.at, c.kind, c.alerts])).toEqual([[35 * S, 'send', ['x']]]);
    await b.grouper.recover();
    await b.settle();
    expect(b.notifier.calls).toHaveLength(1); // B now runs the group's timer; the entry moved on
  });

  it('notifies one group once although both replicas hold it and both timers fire', async () => {
    const prefix = `${uniqueName('groups')}:`;
    const clock = new VirtualClock(T0);
    const redis = () => {
      const s = new RedisStateStore({ url: testRedisUrl(), keyPrefix: prefix });
      stores.push(s);
      return s;
    };
    const a = setup({ clock, store: redis() });
    const b = setup({ clock, store: redis() });
    await a.fire('x', { namespace: 'shop' });
    await b.fire('y', { namespace: 'shop' });
    expect(clock.pendingTimers()).toBe(2); // one flush timer on each replica
    const both = async (ms: number) => {
      for (let next = clock.nextTimerAt(); next !== undefined && next <= T0 + ms; next = clock.nextTimerAt()) {
        clock.advance(next - clock.now());
        await Promise.all([a.settle(), b.settle()]);
        await Promise.all([a.settle(), b.settle()]);
      }
      clock.advance(T0 + ms - clock.now());
      await Promise.all([a.settle(), b.settle()]);
    };
    await both(30 * S);
    await b.fire('z', { namespace: 'shop' });
    await both(30 * S + 5 * M);
    await both(30 * S + 20 * M);
    const calls = [...a.notifier.calls, ...b.notifier.calls].sort((p, q) => p.at - q.at);
    expect(calls.map((c) => [c.at, c.kind, [...c.alerts].sort()])).toEqual([
      [30 * S, 'send', ['x', 'y']],
      [30 * S + 5 * M, 'update', ['x', 'y', 'z']],
    ]);
  });
});
