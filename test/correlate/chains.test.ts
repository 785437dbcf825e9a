import { harness } from './harness';
import { CHAIN_SCENARIOS } from './chain-streams';

describe('attack chains through the pipeline', () => {
  it.each(CHAIN_SCENARIOS.map((s) => [s.name, s] as const))('%s', async (_name, s) => {
    const h = harness();
    for (const item of s.stream) await h.feed([item]);
    const incidents = await h.incidents.list(100);
    const alerts = h.recent.list();
    // Every step became an alert.
    expect(alerts.length).toBeGreaterThanOrEqual(2);
    const chained = incidents.filter((i) => i.chain !== null);
    if (s.chain) {
      expect(chained.map((i) => i.chain)).toEqual([s.chain]);
      const incident = chained[0]!;
      // Above every member's severity, and every member knows its incident.
      expect(
        ['debug', 'informational', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'].indexOf(incident.severity),
      ).toBeGreaterThan(
        ['debug', 'informational', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'].indexOf(
          incident.memberSeverity,
        ),
      );
      for (const fp of incident.chainMatch!.alerts) expect(h.recent.get(fp)?.incident?.id).toBe(incident.id);
      expect(h.recent.get(incident.chainCompletedBy!)?.labels.chain).toBe(s.chain);
    } else {
      expect(chained).toEqual([]);
    }
    for (const [event, expected] of Object.entries(s.expect)) {
      expect(h.alertOf(event)?.attribution?.user ?? null).toBe(expected && 'user' in expected ? expected.user : null);
    }
  });
});
