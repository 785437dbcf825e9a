import type { RunningFalconer } from '../../src/app';
import { falcoEvent } from '../support/events';
import { eventually, post, startTestFalconer } from '../support/falconer';
import { FakePagerDuty, HttpRecorder } from '../support/http-recorder';

const ROUTING_KEY = 'R0UT1NGKEY0123456789abcdefABCDEF';

describe('a routing tree with grouping, end to end (real clock, local receivers)', () => {
  const hook = new HttpRecorder();
  const pd = new FakePagerDuty();
  let f: RunningFalconer;
  beforeAll(async () => {
    const hookUrl = await hook.start('/alerts');
    const pdUrl = await pd.start('/v2/enqueue');
    f = await startTestFalconer({
      alerting: { externalUrl: 'https://falconer.example.com', resolveAfterSeconds: 2 },
      receivers: [
        { type: 'webhook', name: 'team-hook', url: hookUrl, format: 'alertmanager' },
        { type: 'pagerduty', name: 'pager', url: pdUrl, routingKey: ROUTING_KEY },
      ],
      route: {
        receiver: 'team-hook',
        group_by: ['namespace'],
        group_wait: '300ms',
        group_interval: '500ms',
        // The critical alert pages and (continue) also reaches the catch-all child; a matching child
        // takes the alert from its parent, so without the catch-all the webhook would not see it.
        routes: [
          { matchers: ['severity="critical"'], receiver: 'pager', group_by: ['...'], continue: true },
          { receiver: 'team-hook' },
        ],
      },
    });
  });
  afterAll(async () => {
    await f.stop();
    await Promise.all([hook.stop(), pd.stop()]);
  });

  it('groups by namespace for the webhook, pages the critical one alone, and resolves both', async () => {
    const send = (uuid: string, rule: string, priority: string, pod: string) =>
      post(
        `${f.url}/v1/events/falco`,
        JSON.stringify(
          falcoEvent({
            uuid,
            rule,
            priority,
            output_fields: { 'k8s.ns.name': 'shop', 'k8s.pod.name': pod, 'container.name': 'c', 'proc.cmdline': 'sh' },
          }),
        ),
      );
    expect((await send('u1', 'Terminal shell in container', 'Notice', 'web-1')).status).toBe(202);
    expect((await send('u2', 'Drop and execute new binary in container', 'Critical', 'web-2')).status).toBe(202);
    await eventually(() => {
      const bodies = hook.json<{ status: string; alerts: unknown[] }>();
      expect(bodies.at(-1)?.status).toBe('resolved');
      expect(pd.json<{ event_action: string }>().at(-1)?.event_action).toBe('resolve');
    }, 10_000);
    const bodies = hook.json<{ groupKey: string; status: string; groupLabels: object; alerts: { labels: { rule: string } }[] }>();
    expect(new Set(bodies.map((b) => b.groupKey)).size).toBe(1); // one group, updated in place
    expect(bodies[0]!.groupLabels).toEqual({ namespace: 'shop' });
    expect(bodies.some((b) => b.status === 'firing' && b.alerts.length === 2)).toBe(true);
    const events = pd.json<{ event_action: string; dedup_key: string; payload?: { class: string } }>();
    expect(events.map((e) => e.event_action)).toEqual(['trigger', 'resolve']);
    expect(events[0]!.payload!.class).toBe('Drop and execute new binary in container');
    expect(events[1]!.dedup_key).toBe(events[0]!.dedup_key);
    expect([...pd.incidents.values()].map((i) => i.status)).toEqual(['resolved']);
  });
});
