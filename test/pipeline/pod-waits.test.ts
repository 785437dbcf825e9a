import { resolve } from 'node:path';
import type { RunningFalconer } from '../../src/app';
import type { MemoryBus } from '../../src/bus/memory';
import { VirtualClock } from '../../src/core/clock';
import { ClusterStates, loadSnapshot } from '../../src/enrich/cluster-state';
import { createEnricher } from '../../src/enrich/enricher';
import { falcoEvent } from '../support/events';
import { eventually, post, startTestFalconer } from '../support/falconer';

const SNAPSHOT = resolve(__dirname, '..', 'fixtures', 'cluster', 'snapshot.json');

/**
 * An event whose enrichment waits for a pod the cluster state has not seen (enrichment.waitForStateMs)
 * waits on its own: events of other pods behind it are processed meanwhile, the clock standing still.
 */
describe('Pipeline: an event waiting for its pod does not hold up the queue', () => {
  let f: RunningFalconer;
  let clock: VirtualClock;
  beforeAll(async () => {
    clock = new VirtualClock(1_000_000);
    const states = new ClusterStates();
    states.replace(loadSnapshot(SNAPSHOT, 'prod').state);
    const enricher = createEnricher({ states, clock, waitForStateMs: 2000 });
    f = await startTestFalconer({ cluster: 'prod' }, { clock, enricher });
  });
  afterAll(() => f.stop());

  const shellIn = (pod: string, uuid: string) =>
    JSON.stringify(falcoEvent({ uuid, output_fields: { ...(falcoEvent().output_fields as object), 'k8s.pod.name': pod } }));
  const alertFor = (uuid: string) => f.recent.list().find((a) => a.evidence.includes(uuid));

  it('processes the known pods behind it at once, and the waiting event after waitForStateMs', async () => {
    expect((await post(`${f.url}/v1/events/falco`, shellIn('not-there-yet', 'wait-1'))).status).toBe(202);
    await eventually(() => expect(f.bus.progress().waitingSince).toBeDefined());
    for (let i = 0; i < 3; i++) {
      expect((await post(`${f.url}/v1/events/falco`, shellIn('web-7c9f8d-abcde', `known-${i}`))).status).toBe(202);
    }
    // Real time passes, the virtual clock does not: only a queue that moves past the wait gets here.
    await eventually(() => expect(alertFor('known-2')).toBeDefined());
    expect(alertFor('known-0')?.enrichment.pod).toMatchObject({ known: true });
    expect(alertFor('wait-1')).toBeUndefined();
    expect((f.bus as MemoryBus).depth()).toBe(4); // acknowledged in order: the waiting event holds the rest's acks

    clock.advance(2000);
    await eventually(() => expect(alertFor('wait-1')).toBeDefined());
    expect(alertFor('wait-1')?.enrichment.pod).toMatchObject({ known: false });
    await (f.bus as MemoryBus).drain();
    expect((f.bus as MemoryBus).depth()).toBe(0);
  });
});
