import pino from 'pino';
import type { AlertStage } from '../../src/alert/stage';
import { VirtualClock } from '../../src/core/clock';
import type { SecurityEvent } from '../../src/core/event';
import type { Detector } from '../../src/detect/port';
import { noEnrichment } from '../../src/enrich/port';
import { normaliseAudit } from '../../src/ingest/audit';
import { createMetrics } from '../../src/observability/metrics';
import { Pipeline } from '../../src/pipeline';
import type { EventDeadLetters } from '../../src/pipeline/dead-letters';
import { PROCESSED, seenKey } from '../../src/pipeline/seen';
import { MemoryStateStore } from '../../src/store/memory';
import type { StateStore } from '../../src/store/port';

/** A store as Redis is one: no `peek`, every answer a round trip (a promise). */
function remoteLike(store: MemoryStateStore): StateStore {
  const {
    peek: _peek,
    ttlLeft: _ttlLeft,
    ...rest
  } = Object.fromEntries(
    Object.getOwnPropertyNames(MemoryStateStore.prototype)
      .filter((name) => name !== 'constructor')
      .map((name) => [
        name,
        (...args: unknown[]) => (store as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!(...args),
      ]),
  );
  return rest as unknown as StateStore;
}

function event(id: string): SecurityEvent {
  return normaliseAudit(
    {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'Metadata',
      auditID: id,
      stage: 'ResponseComplete',
      verb: 'get',
      requestURI: '/api/v1/namespaces/shop/configmaps/app',
      user: { username: 'system:serviceaccount:shop:app' },
      objectRef: { resource: 'configmaps', namespace: 'shop', name: 'app', apiVersion: 'v1' },
      responseStatus: { code: 200 },
      stageTimestamp: '2026-03-01T10:00:00.000000Z',
    },
    { cluster: 'prod', receivedAt: 0, maxFieldLength: 4096 },
  );
}

describe.each([
  ['an in-process store (peek)', (s: MemoryStateStore): StateStore => s],
  ['a store without peek (Redis)', remoteLike],
])('the pipeline on %s', (_name, wrap) => {
  const setup = () => {
    const clock = new VirtualClock(Date.parse('2026-03-01T10:00:00Z'));
    const memory = new MemoryStateStore(clock);
    const store = wrap(memory);
    const detected: string[] = [];
    const detector: Detector = {
      detect: (e) => {
        detected.push(e.id);
        return [];
      },
    };
    const metrics = createMetrics();
    const pipeline = new Pipeline(
      detector,
      noEnrichment,
      {} as AlertStage,
      store,
      {} as EventDeadLetters,
      metrics,
      pino({ level: 'silent' }),
      { seenTtlMs: 600_000, maxEventAttempts: 2 },
    );
    return { memory, detected, metrics, pipeline };
  };

  it('processes an event once: a redelivered batch skips what was processed and marks what was not', async () => {
    const { memory, detected, metrics, pipeline } = setup();
    const [a, b] = [event('a'), event('b')];
    await pipeline.handle([a]);
    expect(await memory.get(seenKey(a))).toBe(PROCESSED);
    await pipeline.handle([a, b]);
    expect(detected).toEqual([a.id, b.id]);
    expect(await memory.get(seenKey(b))).toBe(PROCESSED);
    expect(await metrics.registry.getSingleMetricAsString('falconer_events_duplicate_total')).toMatch(
      /falconer_events_duplicate_total\{source="k8s_audit"\} 1/,
    );
  });

  it('processes an event ingest claimed but did not mark (its claim is not the processed mark)', async () => {
    const { memory, detected, pipeline } = setup();
    const a = event('a');
    await memory.set(seenKey(a), 'done', 600_000);
    await pipeline.handle([a]);
    expect(detected).toEqual([a.id]);
    expect(await memory.get(seenKey(a))).toBe(PROCESSED);
  });
});
