import { MemoryBus } from '../../src/bus/memory';
import { VirtualClock } from '../../src/core/clock';
import { UnavailableError } from '../../src/core/errors';
import { consumerHealth } from '../../src/observability/health';
import { falcoSecurityEvent } from '../support/alerts';

const STALL_MS = 60_000;
const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((done) => setImmediate(done));
};

describe('consumer progress on the virtual clock (/readyz)', () => {
  let clock: VirtualClock;
  let bus: MemoryBus;
  const health = () => consumerHealth(bus.progress(), clock.now(), STALL_MS);
  /** Moves time on a second at a time, letting the bus's retry timers and handlers run in between. */
  const elapse = async (ms: number) => {
    for (let t = 0; t < ms; t += 1_000) {
      clock.advance(Math.min(1_000, ms - t));
      await flush();
    }
  };

  beforeEach(() => {
    clock = new VirtualClock(1_000_000);
    bus = new MemoryBus(clock, { capacity: 100, batchSize: 10, retryDelayMs: 1_000 });
  });
  afterEach(async () => {
    await bus.close();
  });

  it('is not ready before it consumes, even with nothing queued', async () => {
    expect(health()).toEqual({ ok: false, detail: 'not consuming yet' });
    await bus.consume(async () => {});
    expect(health()).toEqual({ ok: true });
  });

  it('reports a batch that fails again and again once the threshold has passed, and recovers with the first success', async () => {
    let down = true;
    const handled: string[] = [];
    await bus.consume(async (events) => {
      if (down) throw new UnavailableError('redis: connection lost');
      handled.push(...events.map((e) => e.id));
    });
    await bus.publish([falcoSecurityEvent({ uuid: 'e-1' })]);
    await flush();
    await elapse(STALL_MS);
    expect(health()).toEqual({ ok: true }); // exactly at the threshold: not yet
    await elapse(2_000);
    expect(health()).toEqual({ ok: false, detail: 'no progress for 62 s with events waiting' });

    down = false;
    await elapse(1_000);
    expect(handled).toEqual(['e-1']);
    expect(health()).toEqual({ ok: true });
  });

  it('does not count idle time: a long quiet spell followed by an event is not a stall', async () => {
    await bus.consume(async () => {});
    await elapse(10 * STALL_MS);
    await bus.publish([falcoSecurityEvent({ uuid: 'after-quiet' })]);
    await flush();
    expect(bus.progress()).toEqual({ consuming: true });
    expect(health()).toEqual({ ok: true });
  });

  it('reports a handler that never finishes, while a busy but moving consumer stays ready', async () => {
    let release!: () => void;
    let calls = 0;
    await bus.consume(async () => {
      calls++;
      if (calls === 3) await new Promise<void>((done) => (release = done));
    });
    for (let i = 0; i < 2; i++) {
      await bus.publish([falcoSecurityEvent({ uuid: `moving-${i}` })]);
      await flush();
      await elapse(STALL_MS - 1_000);
      expect(health().ok).toBe(true);
    }
    await bus.publish([falcoSecurityEvent({ uuid: 'stuck' })]);
    await flush();
    await elapse(STALL_MS + 1_000);
    expect(health()).toMatchObject({ ok: false });
    release();
    await flush();
    expect(health()).toEqual({ ok: true });
  });
});
