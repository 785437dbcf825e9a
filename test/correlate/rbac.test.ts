import { join } from 'node:path';
import { VirtualClock } from '../../src/core/clock';
import { ClusterStates, loadSnapshot } from '../../src/enrich/cluster-state';
import { createEnricher } from '../../src/enrich/enricher';
import { renderSlackMessage } from '../../src/notify/slack-message';
import { harness } from './harness';
import { runtime, session } from './streams';

it("gives the attributed user the RBAC facts an audit alert's subject gets", async () => {
  const states = new ClusterStates();
  loadSnapshot(join(__dirname, '..', 'fixtures', 'cluster', 'snapshot.json'), states.get('prod'));
  const enricher = createEnricher({ states, clock: new VirtualClock(), waitForStateMs: 0 });
  const h = harness([], {}, enricher);
  const pod = 'web-7c9f8d-abcde';
  for (const audit of session({
    id: 'e1',
    user: 'alice@example.com',
    groups: ['devs', 'system:authenticated'],
    pod,
    container: 'nginx',
    start: 0,
    end: 60_000,
  }))
    await h.feed([{ audit }]);
  await h.feed([{ falco: runtime({ id: 'r1', at: 1000, pod, container: 'nginx' }) }]);
  const alert = h.alertOf('r1')!;
  const subject = alert.attribution!.subject!;
  expect(subject.known).toBe(true);
  if (!subject.known) return;
  expect(subject.origin).toBe('attributed-user');
  expect(subject.bindings.some((b) => b.includes('shop-debuggers'))).toBe(true);
  expect(subject.findings.map((f) => f.id)).toContain('pods-exec');
  // The pod's own service account stays the alert's subject; the attributed user's permissions come first in Slack.
  expect(alert.enrichment.subject?.known && alert.enrichment.subject.origin).toBe('pod-service-account');
  const text = JSON.stringify(renderSlackMessage(alert)).replace(/\u200b/g, '');
  expect(text.indexOf('opened by alice@example.com')).toBeLessThan(text.indexOf('*Subject* alice@example.com'));
});
