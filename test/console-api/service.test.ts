import { VirtualClock } from '../../src/core/clock';
import type { ConsoleHistory, HistoryRecord, RecordResult } from '../../src/console/history/port';
import { ConsoleService } from '../../src/console/service';
import { SessionStore } from '../../src/console/session';
import { MemorySessions } from '../../src/console/session-backends';
import { createMetrics } from '../../src/observability/metrics';
import { alertOf, falcoSecurityEvent } from '../support/alerts';

const BOUNDS = { max: 10, maxPerToken: 10, idleMs: 60_000, absoluteMs: 600_000 };

/** A history that records what it is given and answers when told (a unit-test double of the port). */
class HeldHistory implements ConsoleHistory {
  records: HistoryRecord[] = [];
  private waiting: (() => void)[] = [];
  constructor(private readonly hold: boolean) {}
  record(r: HistoryRecord): Promise<RecordResult> {
    this.records.push(r);
    const result = { created: true, evicted: { count: 0, bytes: 0, age: 0 }, count: this.records.length, bytes: 0 };
    if (!this.hold) return Promise.resolve(result);
    return new Promise((resolve) => this.waiting.push(() => resolve(result)));
  }
  release(): void {
    for (const w of this.waiting.splice(0)) w();
  }
  get = () => Promise.resolve(undefined);
  scan = () => Promise.resolve({ items: [], done: true });
  size = () => Promise.resolve({ count: 0, bytes: 0 });
}

function service(history: ConsoleHistory, metrics = createMetrics()) {
  const clock = new VirtualClock(0);
  const sessions = new SessionStore(new MemorySessions(BOUNDS), clock, BOUNDS, () => {
    throw new Error('unused');
  });
  return new ConsoleService(
    history,
    sessions,
    clock,
    {
      evidencePerAlert: 3,
      stream: { maxSubscribers: 1, maxBufferedBytes: 1000 },
      resolveAfterMs: 60_000,
      secureCookies: false,
      uiDir: '',
    },
    metrics,
    { warn: () => undefined },
  );
}

describe('console service', () => {
  it('writes a noisy alert once per turn, with its latest events as evidence', async () => {
    const history = new HeldHistory(false);
    const s = service(history);
    for (let i = 0; i < 100; i++) {
      const event = falcoSecurityEvent({ uuid: `noisy-${i}`, output: i === 99 ? 'x'.repeat(2000) : 'short' });
      s.record(alertOf(event, { count: i + 1 }));
    }
    expect(history.records).toHaveLength(0); // nothing in the caller's turn
    await s.idle();
    expect(history.records).toHaveLength(1);
    const [r] = history.records;
    expect(r!.stored.row.count).toBe(100);
    expect(r!.evidence!.map((e) => e.id)).toEqual(['noisy-97', 'noisy-98', 'noisy-99'].map((u) => expect.stringContaining(u)));
    expect(r!.evidence!.map((e) => e.raw.uuid)).toEqual(['noisy-97', 'noisy-98', 'noisy-99']);
    expect(r!.alert.event).toBe(r!.evidence![2]); // the newest occurrence is the alert's event
  });

  it('bounds what waits: at most 10000 alerts queued and 256 writes in flight; the rest is dropped and counted', async () => {
    const history = new HeldHistory(true);
    const metrics = createMetrics();
    const s = service(history, metrics);
    const event = falcoSecurityEvent();
    for (let i = 0; i < 20_000; i++) s.record(alertOf(event, { fingerprint: `fp-${i}` }));
    const dropped = async () =>
      (await metrics.consoleHistoryDropped.get()).values.find((v) => v.labels.reason === 'backlog')?.value;
    expect(await dropped()).toBe(10_000);
    await new Promise((r) => setImmediate(r));
    expect(history.records).toHaveLength(256);
    history.release();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(history.records.length).toBeGreaterThan(256);
    expect(history.records.length).toBeLessThanOrEqual(512);
  });
});
