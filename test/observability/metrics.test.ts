import { createMetrics } from '../../src/observability/metrics';

describe('counters with bound children', () => {
  const read = async (m: ReturnType<typeof createMetrics>, name: string) =>
    (await m.registry.getSingleMetricAsString(name)).split('\n').filter((l) => !l.startsWith('#'));

  it('show what a child counted at the next read, added to what was counted with labels', async () => {
    const m = createMetrics();
    const accepted = m.eventsReceived.child({ source: 'falco', outcome: 'accepted' });
    accepted.inc();
    accepted.inc(4);
    m.eventsReceived.inc({ source: 'falco', outcome: 'accepted' }, 2);
    expect(await read(m, 'falconer_events_received_total')).toEqual([
      'falconer_events_received_total{source="falco",outcome="accepted"} 7',
    ]);
    // Read twice: nothing is counted again.
    expect(await read(m, 'falconer_events_received_total')).toEqual([
      'falconer_events_received_total{source="falco",outcome="accepted"} 7',
    ]);
    accepted.inc();
    expect((await m.eventsReceived.get()).values).toEqual([
      expect.objectContaining({ labels: { source: 'falco', outcome: 'accepted' }, value: 8 }),
    ]);
  });

  it('add no series for a child never counted, and a series at 0 for one counted by 0, as a labelled inc does', async () => {
    const m = createMetrics();
    m.ingestRequests.child({ route: 'falco', status: 202 });
    m.ingestRequests.child({ route: 'audit', status: 202 }).inc(0);
    m.ingestRequests.inc({ route: 'falco', status: 400 }, 0);
    expect(await read(m, 'falconer_ingest_requests_total')).toEqual([
      'falconer_ingest_requests_total{route="falco",status="400"} 0',
      'falconer_ingest_requests_total{route="audit",status="202"} 0',
    ]);
  });

  it('share one count between children bound to the same labels', async () => {
    const m = createMetrics();
    m.eventsDuplicate.child({ source: 'k8s_audit' }).inc(2);
    m.eventsDuplicate.child({ source: 'k8s_audit' }).inc(3);
    expect(await read(m, 'falconer_events_duplicate_total')).toEqual(['falconer_events_duplicate_total{source="k8s_audit"} 5']);
  });
});
