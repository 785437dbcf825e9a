import { UnavailableError } from '../../src/core/errors';
import { partitionKey, type SecurityEvent } from '../../src/core/event';
import type { EventBus } from '../../src/bus/port';

/** What the shared suite needs from an adapter under test. */
export interface BusHarness {
  /** A bus on a log of its own (Kafka: a fresh topic and group; the journal bus: a fresh data dir). */
  bus(): EventBus | Promise<EventBus>;
  /**
   * For adapters whose consumers form a group: more members reading the same log as `bus()` last
   * made. The memory bus has one consumer per process and does not offer it.
   */
  member?(): EventBus;
  /** Closes whatever the test left open. */
  cleanup(): Promise<void>;
}

/** An event of pod `pod` carrying its position `seq` in that pod's stream. */
export function event(pod: string, seq: number): SecurityEvent {
  return {
    id: `${pod}#${seq}`,
    source: 'falco',
    time: '2026-01-01T00:00:00.000000000Z',
    timeNs: '1767225600000000000',
    receivedAt: 0,
    k8s: { cluster: 'test', namespace: 'ns', pod },
    raw: { seq },
  };
}

const seqOf = (e: SecurityEvent): number => Number(e.id.split('#')[1]);
const podOf = (e: SecurityEvent): string => e.k8s.pod!;

/** Interleaves `perPod` events of each pod, in publish calls of `chunk` events. */
function interleaved(pods: string[], perPod: number): SecurityEvent[] {
  const all: SecurityEvent[] = [];
  for (let seq = 0; seq < perPod; seq++) for (const pod of pods) all.push(event(pod, seq));
  return all;
}

async function publishInChunks(bus: EventBus, events: SecurityEvent[], chunk: number): Promise<void> {
  for (let i = 0; i < events.length; i += chunk) await bus.publish(events.slice(i, i + chunk));
}

/** Resolves once `check` holds; fails with `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

/** Per pod, the sequence numbers in the order they were first delivered. */
function firstDeliveries(delivered: SecurityEvent[]): Map<string, number[]> {
  const seen = new Set<string>();
  const byPod = new Map<string, number[]>();
  for (const e of delivered) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    byPod.set(podOf(e), [...(byPod.get(podOf(e)) ?? []), seqOf(e)]);
  }
  return byPod;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/**
 * The bus contract (see src/bus/port.ts): per-key order, at-least-once, commit after handling, and,
 * for adapters with consumer groups, hand-over of uncommitted work and rebalancing.
 */
export function eventBusContract(name: string, makeHarness: () => BusHarness, { groups }: { groups: boolean }): void {
  describe(`EventBus contract: ${name}`, () => {
    let h: BusHarness;
    beforeEach(() => {
      h = makeHarness();
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it('delivers every event once, in publish order per partition key', async () => {
      const bus = await h.bus();
      const delivered: SecurityEvent[] = [];
      await bus.consume(async (batch) => {
        delivered.push(...batch);
      });
      const pods = ['api-1', 'api-2', 'db-0', 'worker-7'];
      await publishInChunks(bus, interleaved(pods, 25), 7);
      await eventually('100 events', () => delivered.length >= 100);
      expect(delivered).toHaveLength(100);
      const byPod = firstDeliveries(delivered);
      for (const pod of pods) expect(byPod.get(pod)).toEqual(range(25));
    });

    it('delivers again a batch whose handler rejected, keeping the order of its key', async () => {
      const bus = await h.bus();
      const delivered: SecurityEvent[] = [];
      let rejections = 0;
      await bus.consume(async (batch) => {
        if (rejections === 0 && batch.some((e) => e.id === 'flaky#3')) {
          rejections++;
          throw new Error('handler failed once');
        }
        delivered.push(...batch);
      });
      await publishInChunks(bus, interleaved(['flaky', 'steady'], 10), 4);
      await eventually('every event handled', () => new Set(delivered.map((e) => e.id)).size === 20);
      expect(rejections).toBe(1);
      const byPod = firstDeliveries(delivered);
      expect(byPod.get('flaky')).toEqual(range(10));
      expect(byPod.get('steady')).toEqual(range(10));
      // After the rejection nothing of that key was handled before the failed event itself.
      const flaky = delivered.filter((e) => podOf(e) === 'flaky').map(seqOf);
      expect(flaky.indexOf(3)).toBe(flaky.lastIndexOf(3));
      expect(flaky.slice(0, flaky.indexOf(3) + 1)).toEqual(range(4));
    });

    it('close waits for the handler in flight', async () => {
      const bus = await h.bus();
      let finished = false;
      let started!: () => void;
      const inHandler = new Promise<void>((done) => (started = done));
      await bus.consume(async () => {
        started();
        await new Promise((done) => setTimeout(done, 300));
        finished = true;
      });
      await bus.publish([event('slow', 0)]);
      await inHandler;
      await bus.close();
      expect(finished).toBe(true);
    });

    it('refuses to publish after close with UnavailableError', async () => {
      const bus = await h.bus();
      await bus.publish([event('p', 0)]);
      expect(bus.health().ok).toBe(true);
      await bus.close();
      await expect(bus.publish([event('p', 1)])).rejects.toBeInstanceOf(UnavailableError);
    });

    it('keys events by pod: one pod, one key', () => {
      expect(partitionKey(event('a', 1))).toBe(partitionKey(event('a', 2)));
      expect(partitionKey(event('a', 1))).not.toBe(partitionKey(event('b', 1)));
    });

    // Only adapters whose consumers form groups (the memory bus has one consumer per process).
    if (groups) {
      describe('consumer groups', () => {
        it('hands a closed member’s uncommitted events to the next member, and none it committed', async () => {
          const first = await h.bus();
          const handledByFirst = new Set<string>();
          let closing: Promise<void> | undefined;
          await first.consume(async (batch) => {
            if (batch.some((e) => seqOf(e) >= 12)) {
              // The member goes away with this batch unfinished.
              closing ??= first.close();
              throw new Error('member shutting down mid-batch');
            }
            for (const e of batch) handledByFirst.add(e.id);
          });
          await publishInChunks(first, interleaved(['solo'], 30), 30);
          await eventually('the first member to stop', () => closing !== undefined);
          await closing;

          const second = h.member!();
          const handledBySecond: SecurityEvent[] = [];
          await second.consume(async (batch) => {
            handledBySecond.push(...batch);
          });
          await eventually(
            'the rest handed over',
            () => handledByFirst.size + new Set(handledBySecond.map((e) => e.id)).size >= 30,
          );
          expect(handledByFirst.size).toBeGreaterThan(0);
          expect(handledByFirst.size).toBeLessThan(30);
          // Nothing committed is delivered again; nothing uncommitted is lost; order holds.
          expect(handledBySecond.filter((e) => handledByFirst.has(e.id))).toEqual([]);
          expect(handledBySecond.map(seqOf)).toEqual(range(30).slice(handledByFirst.size));
        });

        it('shares the partitions between members and moves them back when one leaves', async () => {
          const pods = range(16).map((i) => `pod-${i}`);
          const a = await h.bus();
          const byA: SecurityEvent[] = [];
          const byB: SecurityEvent[] = [];
          const inOrder: SecurityEvent[] = []; // both members' deliveries, as they happened
          await a.consume(async (batch) => {
            byA.push(...batch);
            inOrder.push(...batch);
          });
          let rounds = 0;
          const publishRound = async () => {
            await a.publish(pods.map((pod) => event(pod, rounds)));
            rounds++;
          };
          const all = () => new Set(inOrder.map((e) => e.id)).size;

          await publishRound();
          await eventually('A to take the first round', () => byA.length >= pods.length);

          const b = h.member!();
          await b.consume(async (batch) => {
            byB.push(...batch);
            inOrder.push(...batch);
          });
          // B has partitions once a rebalance completed; keep the events coming until it gets some.
          const deadline = Date.now() + 30_000;
          while (byB.length === 0 && Date.now() < deadline) {
            await publishRound();
            await new Promise((done) => setTimeout(done, 300));
          }
          expect(byB.length).toBeGreaterThan(0);

          // Now one round splits between the two members.
          const aBefore = byA.length;
          const bBefore = byB.length;
          await publishRound();
          await eventually('the split round', () => all() >= pods.length * rounds);
          expect(byA.length).toBeGreaterThan(aBefore);
          expect(byB.length).toBeGreaterThan(bBefore);

          // B leaves; A takes its partitions back.
          await b.close();
          await publishRound();
          await eventually('every event after B left', () => all() >= pods.length * rounds, 30_000);
          const byPod = firstDeliveries(inOrder);
          for (const pod of pods) expect(byPod.get(pod)).toEqual(range(rounds));
        });
      });
    }
  });
}
