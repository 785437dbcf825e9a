import type { RunningFalconer } from '../../src/app';
import type { MemoryBus } from '../../src/bus/memory';
import type { Detection } from '../../src/core/alert';
import { systemClock } from '../../src/core/clock';
import { ClusterStates } from '../../src/enrich/cluster-state';
import { createEnricher } from '../../src/enrich/enricher';
import type { Enricher } from '../../src/enrich/port';
import { sampleText } from '../support/events';
import { post, startTestFalconer } from '../support/falconer';

describe('the enrich stage, once per event', () => {
  let f: RunningFalconer | undefined;
  afterEach(async () => {
    await f?.stop();
    f = undefined;
  });

  it("asks the enricher once for an event with several detections, and gives every detection's alert that answer", async () => {
    const real = createEnricher({ states: new ClusterStates(), clock: systemClock });
    const asked: Detection[] = [];
    const enricher: Enricher = {
      observe: (event) => real.observe(event),
      enrich: (detection) => {
        asked.push(detection);
        return real.enrich(detection);
      },
    };
    f = await startTestFalconer({ receivers: [{ type: 'console', name: 'console' }] }, { enricher });
    // The sample EventList: an exec (one detection), a cluster-admin binding by a person (three), a
    // privileged pod (four).
    expect((await post(`${f.url}/v1/events/audit`, sampleText('audit-eventlist.json'))).status).toBe(202);
    await (f.bus as MemoryBus).drain();

    const alerts = f.recent.list();
    const byEvent = new Map<string, typeof alerts>();
    for (const a of alerts) byEvent.set(a.event.id, [...(byEvent.get(a.event.id) ?? []), a]);
    expect([...byEvent.values()].map((list) => list.length).sort()).toEqual([1, 3, 4]);
    expect(asked.map((d) => d.event.id).sort()).toEqual([...byEvent.keys()].sort());
    for (const list of byEvent.values()) {
      for (const a of list) expect(a.enrichment).toEqual(list[0]!.enrichment);
    }
    const pod = [...byEvent.values()].find((list) => list.length === 4)!;
    expect(pod[0]!.enrichment.pod).toMatchObject({ known: true });
  });
});
