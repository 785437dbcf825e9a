import pino from 'pino';
import type { Alert } from '../../src/core/alert';
import { VirtualClock } from '../../src/core/clock';
import { DeliveryError } from '../../src/core/errors';
import { durableRecentAlerts } from '../../src/alert/recent';
import { DurableDeadLetters } from '../../src/notify/dead-letters';
import { Dispatcher } from '../../src/notify/dispatcher';
import type { Notifier } from '../../src/notify/port';
import { createMetrics } from '../../src/observability/metrics';
import type { DataDir } from '../../src/store/data-dir';
import { DurableStateStore } from '../../src/store/durable';
import { alertOf, falcoSecurityEvent } from '../support/alerts';
import { openDataDir, removeTempDirs, tempDir } from '../support/data-dir';

afterAll(removeTempDirs);

class Receiver implements Notifier {
  readonly minPriority = 'debug' as const;
  readonly sends: string[] = [];
  constructor(private readonly fail: (alert: Alert) => DeliveryError | undefined = () => undefined) {}
  readonly name = 'sec';
  async send(alert: Alert) {
    const failure = this.fail(alert);
    if (failure) throw failure;
    this.sends.push(alert.fingerprint);
    return { ts: `ts-${this.sends.length}` };
  }
}

/** One run of an embedded Falconer's delivery side on `dir`: its store, dead letters and dispatcher. */
async function run(dir: string, clock: VirtualClock, receiver: Notifier, owner?: string, exclusiveStore = false) {
  const dataDir = await openDataDir(dir, clock.now());
  const store = new DurableStateStore(clock, dataDir);
  const dispatcher = new Dispatcher([receiver], store, clock, createMetrics(), pino({ level: 'silent' }), {
    maxAttempts: 3,
    baseDelayMs: 1000,
    maxDelayMs: 60_000,
    updateDebounceMs: 5000,
    windowMs: 3_600_000,
    queueCapacity: 100,
    deadLetterCapacity: 100,
    deadLetters: new DurableDeadLetters(100, dataDir),
    owner: owner ?? dataDir.owner,
    recoverIntervalMs: 1_000,
    claimGraceMs: 1_000,
    exclusiveStore,
  });
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
  return { dataDir, store, dispatcher, advance };
}

/** The process dies: whatever was queued reaches the disk (as it would within milliseconds), nothing else runs. */
async function crash(dataDir: DataDir): Promise<void> {
  await dataDir.close();
}

const alert = (fingerprint: string) => alertOf(falcoSecurityEvent(), { fingerprint });

describe('Dispatcher on a data dir, across a restart', () => {
  const rateLimited = () => new DeliveryError('ratelimited', true, 60_000);

  async function firstRun(dir: string) {
    const clock = new VirtualClock(1_000_000);
    const receiver = new Receiver((a) =>
      a.fingerprint === 'fp-bad' ? new DeliveryError('channel_not_found', false) : rateLimited(),
    );
    const first = await run(dir, clock, receiver);
    await first.dispatcher.announce(alert('fp-bad')); // a permanent failure: a dead letter
    await first.dispatcher.announce(alert('fp-1')); // claimed, then held through a 60 s Retry-After
    await first.advance(10);
    expect(receiver.sends).toEqual([]);
    expect(first.dispatcher.deadLetters().map((d) => d.fingerprint)).toEqual(['fp-bad']);
    await crash(first.dataDir);
    return { clock };
  }

  it('sends the claim the last run held through a backoff at once, and keeps its dead letters', async () => {
    const dir = tempDir();
    const { clock } = await firstRun(dir);
    const receiver = new Receiver();
    const second = await run(dir, new VirtualClock(clock.now() + 100), receiver);
    expect(second.dispatcher.deadLetters().map((d) => [d.fingerprint, d.error])).toEqual([['fp-bad', 'channel_not_found']]);
    await second.advance(1_000); // the first recovery pass
    expect(receiver.sends).toEqual(['fp-1']);
    await second.advance(120_000); // the old lease and backoff run out: nothing goes twice
    expect(receiver.sends).toEqual(['fp-1']);
    expect(second.dispatcher.replayDeadLetters()).toBe(1);
    await second.dataDir.close();
    const third = await run(dir, new VirtualClock(clock.now() + 200_000), new Receiver());
    expect(third.dispatcher.deadLetters()).toEqual([]); // the replay emptied the stored letters too
    await third.dataDir.close();
  });

  it('leaves a claim of another owner alone until its lease ran out', async () => {
    const dir = tempDir();
    const { clock } = await firstRun(dir);
    const receiver = new Receiver();
    const stranger = await run(dir, new VirtualClock(clock.now() + 100), receiver, 'another-replica');
    await stranger.advance(30_000);
    expect(receiver.sends).toEqual([]);
    await stranger.advance(90_000); // past the 60 s backoff plus the 30 s lease
    expect(receiver.sends).toEqual(['fp-1']);
    await stranger.dataDir.close();
  });
});

describe('Dispatcher on a data dir of its own (exclusiveStore), across a restart', () => {
  it('takes no send claim; what the last run handed off and did not send goes once, at once', async () => {
    const dir = tempDir();
    const clock = new VirtualClock(1_000_000);
    const limited = new Receiver(() => new DeliveryError('ratelimited', true, 60_000));
    const first = await run(dir, clock, limited, undefined, true);
    const replace = jest.spyOn(first.store, 'replace');
    await first.dispatcher.announce(alert('fp-1'));
    await first.advance(10); // tried once, waiting out a 60 s Retry-After
    expect(replace).not.toHaveBeenCalled();
    expect(JSON.parse((await first.store.get(`notify:sec:fp-1:${alert('fp-1').firstSeen}`))!)).toMatchObject({
      state: 'pending',
      alert: { fingerprint: 'fp-1' },
    });
    await crash(first.dataDir);
    const receiver = new Receiver();
    const second = await run(dir, new VirtualClock(clock.now() + 100), receiver, undefined, true);
    await second.advance(1_000); // the first recovery pass
    expect(receiver.sends).toEqual(['fp-1']);
    await second.advance(120_000);
    expect(receiver.sends).toEqual(['fp-1']);
    await second.dataDir.close();
  });
});

describe('Recent alerts on a data dir', () => {
  it('lists after a restart what it listed before, newest first, within its capacity', async () => {
    const dir = tempDir();
    const first = await openDataDir(dir, 0);
    const recent = durableRecentAlerts(2, first);
    recent.put(alert('a'));
    recent.put(alert('b'));
    recent.put({ ...alert('a'), count: 2 }); // a again: now the newest
    recent.put(alert('c')); // b drops out
    await first.close();
    const second = await openDataDir(dir, 0);
    const again = durableRecentAlerts(2, second);
    expect(again.list().map((a) => [a.fingerprint, a.count])).toEqual([
      ['c', 1],
      ['a', 2],
    ]);
    await second.close();
  });
});
