import type { RunningFalconer } from '../../src/app';
import type { MemoryBus } from '../../src/bus/memory';
import type { Detection } from '../../src/core/alert';
import { UnavailableError } from '../../src/core/errors';
import type { Enricher } from '../../src/enrich/port';
import { capturingLogger } from '../support/capture-log';
import { falcoEvent } from '../support/events';
import { eventually, post, startTestFalconer, TEST_TOKEN } from '../support/falconer';

const CONSOLE = [{ type: 'console', name: 'console' }];
const PARKED_LOG = 'event parked in the dead-letter store after repeated failures';

/** Everything published so far has been processed and handed to the receivers. */
async function settled(f: RunningFalconer): Promise<void> {
  await (f.bus as MemoryBus).drain();
  await f.dispatcher.settled();
}

const alertsFor = (log: ReturnType<typeof capturingLogger>, rule: string) =>
  log.lines.filter((l) => l.msg.startsWith('ALERT ') && (l.alert as { rule: string } | undefined)?.rule === rule);

const get = async (f: RunningFalconer, path: string, authenticated = true) => {
  const res = await fetch(`${f.url}${path}`, { headers: authenticated ? { authorization: `Bearer ${TEST_TOKEN}` } : {} });
  return { status: res.status, json: (await res.json()) as any };
};

const metric = async (f: RunningFalconer, line: RegExp) => {
  const text = await (await fetch(`${f.url}/metrics`)).text();
  return text.split('\n').find((l) => line.test(l));
};

describe('one bad event never stops the pipeline', () => {
  let f: RunningFalconer | undefined;
  afterEach(async () => {
    await f?.stop();
    f = undefined;
  });

  it('alerts on an event whose rule holds a lone surrogate, and on the canary after it, without looping (issue 8 repro)', async () => {
    const log = capturingLogger();
    f = await startTestFalconer({ receivers: CONSOLE }, { logger: log.logger });
    // The JSON escape \ud800 itself, as the repro sends it: a lone surrogate once parsed.
    const poison = '{"rule":"x\\ud800","priority":"Notice","time":"2025-11-10T12:51:00Z"}';
    expect((await post(`${f.url}/v1/events/falco`, poison)).status).toBe(202);
    expect((await post(`${f.url}/v1/events/falco`, JSON.stringify(falcoEvent()))).status).toBe(202);
    await settled(f);

    expect(alertsFor(log, 'Terminal shell in container')).toHaveLength(1);
    // Its rule as ingest kept it (the lone surrogate as such, or replaced: either way it alerted once).
    const surrogate = log.lines.filter((l) => l.msg.startsWith('ALERT x'));
    expect(surrogate).toHaveLength(1);
    // A second later (the bus's retry delay), nothing was delivered again and nothing failed.
    const lines = log.lines.length;
    await new Promise((done) => setTimeout(done, 1_200));
    expect(log.lines.length).toBe(lines);
    expect(log.messages(/pipeline batch failed/)).toHaveLength(0);
    expect(await metric(f, /^falconer_pipeline_errors_total/)).toBeUndefined();
    expect((await get(f, '/readyz', false)).status).toBe(200);
  });

  describe('with an enricher that a certain event makes throw', () => {
    let broken = true;
    let calls = 0;
    const enricher: Enricher = {
      observe() {},
      enrich: async (d: Detection) => {
        if (d.rule === 'Poison rule') {
          calls++;
          if (broken) throw new TypeError('cannot read properties of undefined');
        }
        return {};
      },
    };
    beforeEach(() => {
      broken = true;
      calls = 0;
    });

    it('parks the event after the configured attempts, lists it, and lets the rest of the batch (same pod) alert', async () => {
      const log = capturingLogger();
      f = await startTestFalconer({ receivers: CONSOLE, pipeline: { maxEventAttempts: 4 } }, { logger: log.logger, enricher });
      const bad = falcoEvent({ uuid: 'poison-1', rule: 'Poison rule', output: 'bad <@U123> event' });
      const canary = falcoEvent({ uuid: 'canary-1' }); // the same pod: the same partition key, after the bad one
      const r = await post(`${f.url}/v1/events/falco`, JSON.stringify(bad));
      expect(r.status).toBe(202);
      expect((await post(`${f.url}/v1/events/falco`, JSON.stringify(canary))).status).toBe(202);
      await settled(f);

      expect(alertsFor(log, 'Terminal shell in container')).toHaveLength(1);
      expect(alertsFor(log, 'Poison rule')).toHaveLength(0);
      expect(calls).toBe(4);

      const parkedLines = log.messages(PARKED_LOG);
      expect(parkedLines).toHaveLength(1);
      expect(parkedLines[0]).toMatchObject({ stage: 'enrich', attempts: 4, event: { id: 'poison-1', rule: 'Poison rule' } });
      expect(await metric(f, /^falconer_events_parked_total\{stage="enrich"\}/)).toBe(
        'falconer_events_parked_total{stage="enrich"} 1',
      );
      expect(await metric(f, /^falconer_events_parked /)).toBe('falconer_events_parked 1');

      expect((await get(f, '/v1/events/dead-letters', false)).status).toBe(401);
      const listed = await get(f, '/v1/events/dead-letters');
      expect(listed.status).toBe(200);
      expect(listed.json.deadLetters).toHaveLength(1);
      const [letter] = listed.json.deadLetters;
      expect(letter).toMatchObject({
        stage: 'enrich',
        attempts: 4,
        error: 'TypeError: cannot read properties of undefined',
        replayable: true,
        event: { id: 'poison-1', source: 'falco', rule: 'Poison rule', pod: 'web-7c9f8d-abcde', namespace: 'shop' },
      });
      expect(letter.id).toMatch(/^[0-9a-f]{32}$/);
      expect(typeof letter.parkedAt).toBe('number');
      expect(letter).not.toHaveProperty('payload');

      // Redelivery would skip it: the bad event is not retried by itself, however long we wait.
      await new Promise((done) => setTimeout(done, 1_200));
      expect(calls).toBe(4);

      // Fixed: the operator replays it, and it alerts like a new event.
      broken = false;
      expect(
        (await post(`${f.url}/v1/events/dead-letters/replay`, JSON.stringify({ ids: ['not-a-letter', letter.id] }))).json,
      ).toEqual({
        replayed: 1,
        kept: 0,
      });
      await settled(f);
      expect(alertsFor(log, 'Poison rule')).toHaveLength(1);
      expect((await get(f, '/v1/events/dead-letters')).json.deadLetters).toEqual([]);
      expect(await metric(f, /^falconer_events_parked /)).toBe('falconer_events_parked 0');
    });

    it('replays everything with an empty body, and answers 400 for a bad one', async () => {
      f = await startTestFalconer({ receivers: CONSOLE }, { enricher });
      for (const n of [1, 2]) {
        const pod = { ...(falcoEvent().output_fields as object), 'k8s.pod.name': `pod-${n}` };
        await post(
          `${f.url}/v1/events/falco`,
          JSON.stringify(falcoEvent({ uuid: `p-${n}`, rule: 'Poison rule', output_fields: pod })),
        );
      }
      await settled(f);
      expect((await get(f, '/v1/events/dead-letters')).json.deadLetters.map((l: any) => l.event.pod)).toEqual(['pod-2', 'pod-1']);

      expect((await post(`${f.url}/v1/events/dead-letters/replay`, '{"ids": "all"}')).status).toBe(400);
      expect((await post(`${f.url}/v1/events/dead-letters/replay`, '{"ids": [')).status).toBe(400);
      const unauthenticated = await fetch(`${f.url}/v1/events/dead-letters/replay`, { method: 'POST' });
      expect(unauthenticated.status).toBe(401);

      // Still broken: both are tried again and parked again.
      const replay = await fetch(`${f.url}/v1/events/dead-letters/replay`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_TOKEN}` },
      });
      expect(replay.status).toBe(202);
      expect(await replay.json()).toEqual({ replayed: 2, kept: 0 });
      await settled(f);
      await eventually(async () => expect((await get(f!, '/v1/events/dead-letters')).json.deadLetters).toHaveLength(2));
      expect(calls).toBe(2 * 3 * 2); // two events, three attempts each, twice
    });
  });

  it('keeps an event too large to park whole as its summary: listed, not replayable, kept on replay', async () => {
    const enricher: Enricher = {
      observe() {},
      enrich: async () => {
        throw new Error('always');
      },
    };
    f = await startTestFalconer({ receivers: CONSOLE, pipeline: { deadLetters: { maxEventBytes: 2048 } } }, { enricher });
    await post(`${f.url}/v1/events/falco`, JSON.stringify(falcoEvent({ uuid: 'big', output: 'x'.repeat(4096) })));
    await settled(f);
    const [letter] = (await get(f, '/v1/events/dead-letters')).json.deadLetters;
    expect(letter).toMatchObject({ replayable: false, event: { id: 'big' } });
    expect((await post(`${f.url}/v1/events/dead-letters/replay`, '')).json).toEqual({ replayed: 0, kept: 1 });
    expect((await get(f, '/v1/events/dead-letters')).json.deadLetters).toEqual([letter]);
  });

  it('does not park an event while the state store is unavailable: the batch is delivered again', async () => {
    let outage = 2;
    const enricher: Enricher = {
      observe() {},
      enrich: async () => {
        if (outage-- > 0) throw new UnavailableError('redis: connection lost');
        return {};
      },
    };
    const log = capturingLogger();
    f = await startTestFalconer({ receivers: CONSOLE, pipeline: { maxEventAttempts: 1 } }, { logger: log.logger, enricher });
    expect((await post(`${f.url}/v1/events/falco`, JSON.stringify(falcoEvent()))).status).toBe(202);
    await eventually(() => expect(alertsFor(log, 'Terminal shell in container')).toHaveLength(1), 10_000);
    expect(log.messages(/pipeline batch failed/)).toHaveLength(2);
    expect(log.messages(PARKED_LOG)).toHaveLength(0);
    expect((await get(f, '/v1/events/dead-letters')).json.deadLetters).toEqual([]);
  });
});
