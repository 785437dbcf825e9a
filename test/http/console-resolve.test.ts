import type { RunningFalconer } from '../../src/app';
import { VirtualClock } from '../../src/core/clock';
import { falcoEvent } from '../support/events';
import { eventually, post, startTestFalconer, TEST_TOKEN } from '../support/falconer';

const auth = { authorization: `Bearer ${TEST_TOKEN}` };

describe('console alert status over time', () => {
  let f: RunningFalconer;
  const clock = new VirtualClock(Date.parse('2026-02-01T08:00:00Z'));
  beforeAll(async () => {
    f = await startTestFalconer({ alerting: { recentAlerts: 1, resolveAfterSeconds: 60 } }, { clock });
  });
  afterAll(() => f.stop());

  const statuses = async () => {
    const res = await fetch(`${f.url}/v1/console/alerts`, { headers: auth });
    const body = (await res.json()) as { items: { pod: string; status: string }[] };
    return Object.fromEntries(body.items.map((r) => [r.pod, r.status]));
  };

  it('resolves alerts after the quiet period, also those the recent alerts no longer hold', async () => {
    for (const [i, pod] of ['old-0', 'new-1'].entries()) {
      const event = falcoEvent({
        uuid: `c0a5a1e0-0000-4000-8000-00000000050${i}`,
        output_fields: { ...(falcoEvent().output_fields as object), 'k8s.pod.name': pod },
      });
      expect((await post(`${f.url}/v1/events/falco`, JSON.stringify(event))).status).toBe(202);
      await eventually(async () => expect(Object.keys(await statuses())).toContain(pod));
    }
    expect(f.recent.list().map((a) => a.labels.pod)).toEqual(['new-1']); // old-0 left the recent alerts
    expect(await statuses()).toEqual({ 'old-0': 'firing', 'new-1': 'firing' });
    clock.advance(59_000);
    expect(await statuses()).toEqual({ 'old-0': 'firing', 'new-1': 'firing' });
    clock.advance(20_000); // past the quiet period and the reconciler's next pass
    await eventually(async () => expect(await statuses()).toEqual({ 'old-0': 'resolved', 'new-1': 'resolved' }));
    const [row] = ((await (await fetch(`${f.url}/v1/console/alerts?pod=new-1`, { headers: auth })).json()) as any).items;
    const stored = await f.recent.get(row.fingerprint);
    expect(stored?.resolvedAt).toBeDefined(); // the reconciler resolved this one; the history heard it
  });
});
