import type { Alert } from '../../src/core/alert';
import { SlackNotifier } from '../../src/notify/slack';
import { renderSlackGroup } from '../../src/notify/slack-group';
import { alertOf, falcoSecurityEvent } from '../support/alerts';
import { FakeSlack } from '../support/slack-server';

function groupAlert(reason: NonNullable<Alert['group']>['reason'], resolved: string[] = []): Alert {
  const members = ['a', 'b'].map((fp) =>
    alertOf(falcoSecurityEvent(), { fingerprint: fp, rule: fp === 'a' ? '<!channel> rule' : 'Other rule', count: 2 }),
  );
  return alertOf(falcoSecurityEvent(), {
    fingerprint: 'g1',
    count: 4,
    group: {
      key: '{}:{namespace="shop"}',
      receiver: 'sec',
      labels: { namespace: 'shop' },
      alerts: members,
      truncated: 3,
      resolvedAt: Object.fromEntries(resolved.map((fp) => [fp, 1000])),
      reason,
    },
  });
}

describe('Slack group messages', () => {
  it('lists the alerts with escaped values and counts what the bound left out', () => {
    const m = renderSlackGroup(groupAlert('first notification'));
    const section = (m.attachments[0]!.blocks[1] as { text: { text: string } }).text.text;
    expect(section).toContain('&lt;!channel&gt; rule');
    expect(section).not.toContain('<!channel>');
    expect(section).toContain('…and 3 more');
    expect(m.text).toBe('[Notice] 5 alerts · namespace=shop');
  });

  it('updates the one message in place, replies in its thread for new alerts, and marks it resolved', async () => {
    const slack = new FakeSlack();
    const apiUrl = await slack.start();
    try {
      const n = new SlackNotifier({ name: 'sec', token: 'xoxb-t', channel: 'C1', apiUrl, minPriority: 'debug' });
      const ref = await n.send(groupAlert('first notification'));
      await n.update(groupAlert('new alerts added'), ref);
      await n.update(groupAlert('some alerts resolved', ['a']), ref);
      await n.resolve(groupAlert('all alerts resolved', ['a', 'b']), ref, 2000);
      expect(slack.calls.map((c) => [c.method, c.args.ts ?? null, c.args.thread_ts ?? null])).toEqual([
        ['chat.postMessage', null, null],
        ['chat.update', ref.ts, null],
        ['chat.postMessage', null, ref.ts],
        ['chat.update', ref.ts, null],
        ['chat.update', ref.ts, null],
      ]);
      expect(String(slack.calls[2]!.args.text)).toContain('New alerts in this group: 2 firing');
      expect(String(slack.calls[4]!.args.text)).toMatch(/^\[Resolved\] 5 alerts/);
    } finally {
      await slack.stop();
    }
  });
});
