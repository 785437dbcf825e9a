import pino from 'pino';
import type { AlertStage } from '../../src/alert/stage';
import type { Alert, Detection } from '../../src/core/alert';
import { VirtualClock } from '../../src/core/clock';
import { UnavailableError } from '../../src/core/errors';
import type { Correlator } from '../../src/correlate/correlator';
import type { Detector } from '../../src/detect/port';
import { noEnrichment } from '../../src/enrich/port';
import { normaliseFalco } from '../../src/ingest/falco';
import { createMetrics } from '../../src/observability/metrics';
import { Pipeline } from '../../src/pipeline';
import type { EventDeadLetters } from '../../src/pipeline/dead-letters';
import { MemoryStateStore } from '../../src/store/memory';
import { runtime } from '../correlate/streams';

const ctx = { cluster: 'prod', receivedAt: 0, maxFieldLength: 4096 };

/** The pipeline with a correlator that answers as `correlator` says (synchronously, or by a promise). */
function setup(correlator: Partial<Correlator>) {
  const clock = new VirtualClock(Date.parse('2026-03-01T10:00:00Z'));
  const metrics = createMetrics();
  const errors = jest.spyOn(metrics.pipelineErrors, 'inc');
  const processed: { correlation: unknown }[] = [];
  const tracked: string[] = [];
  const detector: Detector = {
    detect: (e) => [
      { rule: 'r', ruleId: 'r', priority: 'notice', source: 'falco', tags: [], summary: 's', event: e } as Detection,
    ],
  };
  const alerts = {
    process: async (_d: Detection, _e: unknown, correlation: unknown) => {
      processed.push({ correlation });
      return { fingerprint: `fp-${processed.length}` } as Alert;
    },
  } as unknown as AlertStage;
  const pipeline = new Pipeline(
    detector,
    noEnrichment,
    alerts,
    new MemoryStateStore(clock),
    {} as EventDeadLetters,
    metrics,
    pino({ level: 'silent' }),
    { seenTtlMs: 600_000, maxEventAttempts: 2 },
    {
      observe: () => undefined,
      track: (alert: Alert) => {
        tracked.push(alert.fingerprint);
        return undefined;
      },
      ...correlator,
    } as unknown as Correlator,
  );
  const feed = (id: string) => pipeline.handle([normaliseFalco(runtime({ id, at: 1000 }), ctx)]);
  return { feed, processed, tracked, errors };
}

describe("the pipeline's correlate stage, answered synchronously or by a promise", () => {
  const answer = { holdMs: 0, incident: { id: 'inc-1' } };

  it.each([
    ['a value', () => answer],
    ['a promise', () => Promise.resolve(answer)],
  ])('hands the alert stage what correlation answered as %s, then tracks the alert', async (_name, correlate) => {
    const { feed, processed, tracked, errors } = setup({ correlate } as unknown as Partial<Correlator>);
    await feed('a');
    expect(processed).toEqual([{ correlation: answer }]);
    expect(tracked).toEqual(['fp-1']);
    expect(errors).not.toHaveBeenCalled();
  });

  it.each([
    [
      'throws',
      () => {
        throw new Error('boom');
      },
    ],
    ['rejects', () => Promise.reject(new Error('boom'))],
  ])('sends the alert without correlation when correlating %s, and counts the failure', async (_name, correlate) => {
    const { feed, processed, tracked, errors } = setup({ correlate } as unknown as Partial<Correlator>);
    await feed('b');
    expect(processed).toEqual([{ correlation: {} }]);
    expect(tracked).toEqual(['fp-1']);
    expect(errors).toHaveBeenCalledWith({ stage: 'correlate' });
  });

  it.each([
    [
      'throws',
      () => {
        throw new UnavailableError('store down');
      },
    ],
    ['rejects', () => Promise.reject(new UnavailableError('store down'))],
  ])('fails the batch when the store is down and correlating %s (the bus delivers it again)', async (_name, correlate) => {
    const { feed, processed } = setup({ correlate } as unknown as Partial<Correlator>);
    await expect(feed('d')).rejects.toBeInstanceOf(UnavailableError);
    expect(processed).toEqual([]);
  });

  it('counts a failed session observation and goes on with the batch', async () => {
    const { feed, processed, errors } = setup({
      correlate: () => answer,
      observe: () => {
        throw new Error('boom');
      },
    } as unknown as Partial<Correlator>);
    await feed('c');
    expect(processed).toHaveLength(1);
    expect(errors).toHaveBeenCalledWith({ stage: 'correlate' });
  });
});
