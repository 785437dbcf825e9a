import pino from 'pino';
import { AlertStage } from '../../src/alert/stage';
import { RecentAlerts } from '../../src/alert/recent';
import { Reconciler } from '../../src/alert/resolve';
import { SilenceStore } from '../../src/alert/silence';
import { suppressor } from '../../src/alert/suppress';
import { CRITICAL_POD_RULE, Inhibitor } from '../../src/alert/inhibit';
import type { Alert } from '../../src/core/alert';
import { VirtualClock } from '../../src/core/clock';
import { Dispatcher } from '../../src/notify/dispatcher';
import type { DeliveryRef, Notifier } from '../../src/notify/port';
import { createMetrics } from '../../src/observability/metrics';
import type { StateStore } from '../../src/store/port';
import { MemoryStateStore } from '../../src/store/memory';
import { RedisStateStore } from '../../src/store/redis';
import { detectionOf, falcoSecurityEvent } from '../support/alerts';
import { testRedisUrl, uniqueName } from '../support/services';

const MIN = 60_000;
const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const log = pino({ level: 'silent' });

/** Records every call, in order, across however many replicas share it. */
class RecordingNotifier implements Notifier {
  readonly minPriority = 'debug' as const;
  readonly calls: { kind: 'send' | 'update' | 'resolve'; fingerprint: string; count: number; at?: number }[] = [];
  constructor(readonly name = 'pager') {}
  async send(a: Alert) {
    this.calls.push({ kind: 'send', fingerprint: a.fingerprint, count: a.count });
    return { id: `msg-${this.calls.length}` };
  }
  async update(a: Alert, _ref: DeliveryRef) {
    this.calls.push({ kind: 'update', fingerprint: a.fingerprint, count: a.count });
  }
  async resolve(a: Alert, _ref: DeliveryRef, at: number) {
    this.calls.push({ kind: 'resolve', fingerprint: a.fingerprint, count: a.count, at });
  }
  kinds() {
    return this.calls.map((c) => c.kind);
  }
}

function replica(store: StateStore, clock: VirtualClock, notifier: Notifier, inhibit = false) {
  const metrics = createMetrics();
  const dispatcher = new Dispatcher([notifier], store, clock, metrics, log, {
    maxAttempts: 3,
    baseDelayMs: 1000,
    maxDelayMs: 1000,
    updateDebounceMs: 1000,
    windowMs: 60 * MIN,
    queueCapacity: 100,
    deadLetterCapacity: 10,
  });
  const silences = new SilenceStore(store, clock, { capacity: 100, retentionMs: 60 * MIN, cacheMs: 0 });
  const suppress = suppressor({
    silences,
    ...(inhibit ? { inhibitor: new Inhibitor([CRITICAL_POD_RULE], store, 5 * MIN) } : {}),
  });
  const recent = new RecentAlerts(100);
  const stage = new AlertStage(store, recent, dispatcher, metrics, clock, {
    dedupWindowMs: 60 * MIN,
    runbookUrlTemplate: 'https://runbooks.example.com/{rule}',
    runbooks: {},
    suppressor: suppress,
  });
  const reconciler = new Reconciler(recent, dispatcher, suppress, metrics, clock, log, {
    resolveAfterMs: 5 * MIN,
    intervalMs: 10_000,
  });
  return { dispatcher, silences, stage, recent, reconciler, metrics };
}

const detection = (uuid: string) => detectionOf(falcoSecurityEvent({ uuid }));
const silenceShop = (minutes: number, clock: VirtualClock) => ({
  matchers: [{ name: 'namespace', value: 'shop', isRegex: false, isEqual: true }],
  endsAt: new Date(clock.now() + minutes * MIN).toISOString(),
  createdBy: 'test',
  comment: 'maintenance',
});

describe('silences, resolution and the reconciler (virtual clock)', () => {
  function setup() {
    const clock = new VirtualClock(T0);
    const store = new MemoryStateStore(clock);
    const notifier = new RecordingNotifier();
    const r = replica(store, clock, notifier);
    /** Moves time and runs one reconciler pass, as its timer would. */
    const pass = async (ms: number) => {
      clock.advance(ms);
      await r.reconciler.tick();
      await r.dispatcher.settled();
    };
    return { clock, notifier, pass, ...r };
  }

  it('does not notify a silenced alert, counts it, and shows the silence that muted it', async () => {
    const { clock, notifier, silences, stage, dispatcher, recent, metrics } = setup();
    const s = await silences.create(silenceShop(30, clock));
    const alert = await stage.process(detection('e1'));
    await dispatcher.settled();
    expect(notifier.calls).toEqual([]);
    expect(recent.get(alert.fingerprint)!.silencedBy).toEqual([s.id]);
    expect((await metrics.suppressed.get()).values).toEqual([{ labels: { reason: 'silenced' }, value: 1 }]);
  });

  it('notifies an alert that still fires when its silence expires, once', async () => {
    const { clock, notifier, silences, stage, pass } = setup();
    await silences.create(silenceShop(10, clock));
    await stage.process(detection('e1'));
    await pass(4 * MIN);
    await stage.process(detection('e2'));
    await pass(4 * MIN);
    await stage.process(detection('e3')); // still firing at 8 min
    await pass(1 * MIN); // 9 min: still silenced
    expect(notifier.calls).toEqual([]);
    await pass(1 * MIN); // 10 min: the silence ended, the alert (last seen 2 min ago) still fires
    expect(notifier.calls).toEqual([{ kind: 'send', fingerprint: expect.any(String), count: 3 }]);
    await pass(10_000);
    expect(notifier.calls).toHaveLength(1);
  });

  it('resolves an alert after its quiet period, exactly once, at lastSeen + quiet', async () => {
    const { notifier, stage, pass, dispatcher } = setup();
    await stage.process(detection('e1'));
    await dispatcher.settled();
    await pass(2 * MIN);
    await stage.process(detection('e2'));
    await pass(4 * MIN + 59_000); // 6:59, last seen at 2:00: quiet for 4:59
    expect(notifier.kinds()).toEqual(['send', 'update']);
    await pass(1000); // 7:00
    expect(notifier.calls.at(-1)).toEqual({ kind: 'resolve', fingerprint: expect.any(String), count: 2, at: T0 + 7 * MIN });
    await pass(10_000);
    await pass(10_000);
    expect(notifier.kinds()).toEqual(['send', 'update', 'resolve']);
  });

  it('still sends the resolve of a notified alert that was silenced afterwards (Alertmanager #226)', async () => {
    const { clock, notifier, silences, stage, pass, dispatcher } = setup();
    await stage.process(detection('e1'));
    await dispatcher.settled();
    await silences.create(silenceShop(60, clock));
    await pass(1 * MIN);
    await stage.process(detection('e2')); // silenced: no update
    await pass(2000);
    expect(notifier.kinds()).toEqual(['send']);
    await pass(5 * MIN);
    expect(notifier.kinds()).toEqual(['send', 'resolve']);
  });

  it('never resolves what was never notified (silenced throughout)', async () => {
    const { clock, notifier, silences, stage, pass } = setup();
    await silences.create(silenceShop(60, clock));
    await stage.process(detection('e1'));
    await pass(6 * MIN);
    await pass(10 * MIN);
    expect(notifier.calls).toEqual([]);
  });

  it('fires again after a resolve when the activity comes back, and resolves again', async () => {
    const { notifier, stage, pass, dispatcher } = setup();
    await stage.process(detection('e1'));
    await dispatcher.settled();
    await pass(5 * MIN);
    await stage.process(detection('e2'));
    await pass(2000); // the update's debounce
    await pass(5 * MIN);
    expect(notifier.kinds()).toEqual(['send', 'resolve', 'update', 'resolve']);
  });
});

describe('inhibition in the alert stage', () => {
  it('a critical alert on a pod keeps its lower alerts quiet, and they are announced once it stops firing', async () => {
    const clock = new VirtualClock(T0);
    const notifier = new RecordingNotifier();
    const r = replica(new MemoryStateStore(clock), clock, notifier, true);
    const critical = detectionOf(falcoSecurityEvent({ uuid: 'c1', rule: 'Drop and execute', priority: 'Critical' }));
    const notice = (uuid: string) =>
      detectionOf(falcoSecurityEvent({ uuid, rule: 'Terminal shell in container', priority: 'Notice' }));
    const crit = await r.stage.process(critical);
    const low = await r.stage.process(notice('n1'));
    await r.dispatcher.settled();
    expect(low.inhibitedBy).toEqual([crit.fingerprint]);
    expect(notifier.calls.map((c) => [c.kind, c.fingerprint])).toEqual([['send', crit.fingerprint]]);
    clock.advance(4 * MIN);
    await r.stage.process(notice('n2')); // the low one still fires; the critical one is quiet since 0
    clock.advance(1 * MIN); // 5 min: the critical one no longer fires (and resolves)
    await r.reconciler.tick();
    await r.dispatcher.settled();
    // The pass looks at the newest alert first: the low one is announced, then the critical one resolves.
    expect(notifier.calls.map((c) => [c.kind, c.fingerprint])).toEqual([
      ['send', crit.fingerprint],
      ['send', low.fingerprint],
      ['resolve', crit.fingerprint],
    ]);
    expect((await r.metrics.suppressed.get()).values).toEqual([{ labels: { reason: 'inhibited' }, value: 2 }]);
  });
});

describe('silences and resolution shared by two replicas on real Redis', () => {
  const stores: RedisStateStore[] = [];
  afterAll(() => Promise.all(stores.map((s) => s.close())));

  it('a silence made on one replica mutes the other; after it is expired the alert is notified and resolved once in all', async () => {
    const prefix = `${uniqueName('silences')}:`;
    const clock = new VirtualClock(Date.now());
    const notifier = new RecordingNotifier();
    const [a, b] = [0, 1].map(() => {
      const store = new RedisStateStore({ url: testRedisUrl(), keyPrefix: prefix });
      stores.push(store);
      return replica(store, clock, notifier);
    }) as [ReturnType<typeof replica>, ReturnType<typeof replica>];
    const silence = await a.silences.create(silenceShop(30, clock));
    expect((await b.silences.list()).map((s) => s.id)).toEqual([silence.id]);

    const muted = await b.stage.process(detection('e1'));
    expect(muted.silencedBy).toEqual([silence.id]);
    await b.silences.expire(silence.id);
    expect((await a.silences.get(silence.id)).status.state).toBe('expired');

    // The next occurrence reaches replica A; both reconcile (B still holds the muted first one): one send in all.
    await a.stage.process(detection('e2'));
    await Promise.all([a.reconciler.tick(), b.reconciler.tick()]);
    await Promise.all([a.dispatcher.settled(), b.dispatcher.settled()]);
    expect(notifier.kinds()).toEqual(['send']);

    clock.advance(5 * MIN);
    await Promise.all([a.reconciler.tick(), b.reconciler.tick()]);
    await Promise.all([a.dispatcher.settled(), b.dispatcher.settled()]);
    expect(notifier.kinds()).toEqual(['send', 'resolve']);
  });
});
