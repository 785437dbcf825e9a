import { SlackNotifier } from '../../src/notify/slack';
import { FakeSlack } from '../support/slack-server';
import { harness, type Harness } from './harness';
import { runtime, session } from './streams';

/** Moves the virtual clock in steps, letting the real HTTP calls to the fake Slack finish in between. */
async function drive(h: Harness, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 250) {
    h.clock.advance(250);
    await h.dispatcher.settled();
  }
}

/** A call's arguments as text, without the zero-width spaces that keep Slack from auto-linking values. */
const text = (call: { args: Record<string, unknown> }) => JSON.stringify(call.args).replace(/\u200b/g, '');
/** The rule a post is about (its header). */
const header = (call: { args: Record<string, unknown> }) => {
  const attachments = typeof call.args.attachments === 'string' ? JSON.parse(call.args.attachments) : call.args.attachments;
  return (attachments as { blocks: { text: { text: string } }[] }[])[0]!.blocks[0]!.text.text;
};

describe('correlation in Slack (real @slack/web-api against the local Slack server)', () => {
  let slack: FakeSlack;
  let apiUrl: string;
  beforeEach(async () => {
    slack = new FakeSlack();
    apiUrl = await slack.start();
  });
  afterEach(() => slack.stop());

  const withSlack = (config: Record<string, unknown> = {}) =>
    harness(
      [new SlackNotifier({ name: 'slack', token: 'xoxb-test', channel: 'C0FALCONER', apiUrl, minPriority: 'debug' })],
      config,
    );

  it('posts the shell as a reply in the exec incident, leading with who opened it, and updates the parent', async () => {
    const h = withSlack();
    for (const audit of session({ id: 'e1', user: 'alice@example.com', container: 'app', start: 0, end: 60_000 }))
      await h.feed([{ audit }]);
    await h.feed([{ falco: runtime({ id: 'r1', at: 1000 }) }]);
    await drive(h, 5000);
    expect(slack.posts).toHaveLength(2);
    const [parent, reply] = slack.posts;
    expect(parent!.args.thread_ts).toBeUndefined();
    expect(reply!.args.thread_ts).toBe('1700000000.000001');
    expect(reply!.args.reply_broadcast).toBeUndefined();
    expect(text(reply!)).toContain('*opened by alice@example.com* (kubectl, 203.0.113.7)');
    // The parent was updated in place to show the incident's two alerts.
    const parentUpdates = slack.updates.filter((u) => u.args.ts === '1700000000.000001');
    expect(parentUpdates).toHaveLength(1);
    expect(text(parentUpdates[0]!)).toContain('2 alerts');
    // …with the incident's timeline across sources.
    expect(text(parentUpdates[0]!)).toMatch(
      /audit · Attach\/Exec Pod · alice@example.com\\n[^"]*runtime · Terminal shell in container · alice@example.com/,
    );
  });

  it('holds a runtime alert briefly for its audit event, posts it attributed, and threads the exec that came meanwhile', async () => {
    const h = withSlack({ correlation: { waitForAuditMs: 2000 } });
    await h.feed([{ falco: runtime({ id: 'r1', at: 1000 }) }]);
    await drive(h, 1000);
    expect(slack.posts).toHaveLength(0); // held for 2 s
    for (const audit of session({ id: 'e1', user: 'alice@example.com', container: 'app', start: 0, end: 60_000 }))
      await h.feed([{ audit }]);
    await drive(h, 4000);
    const shell = slack.posts.filter((p) => header(p) === 'Terminal shell in container');
    expect(shell).toHaveLength(1);
    expect(text(shell[0]!)).toContain('opened by alice@example.com');
    // The shell is the incident's parent; the exec alert that came in meanwhile waited for it and went into its thread.
    expect(slack.posts.indexOf(shell[0]!)).toBe(0);
    expect(slack.posts).toHaveLength(2);
    expect(slack.posts[1]!.args.thread_ts).toBe('1700000000.000001');
    expect(slack.updates.filter((u) => u.args.ts === '1700000000.000001' && text(u).includes('2 alerts'))).toHaveLength(1);
  });

  it('updates an announced alert in place when the audit batch arrives 30 s later', async () => {
    const h = withSlack();
    await h.feed([{ falco: runtime({ id: 'r1', at: 1000 }) }]);
    await drive(h, 3000);
    expect(slack.posts).toHaveLength(1);
    expect(text(slack.posts[0]!)).not.toContain('opened by');
    await drive(h, 27_000);
    for (const audit of session({ id: 'e1', user: 'alice@example.com', container: 'app', start: 0, end: 60_000 }))
      await h.feed([{ audit }]);
    await drive(h, 3000);
    const ts = slack.posts[0]!.args.ts ?? '1700000000.000001';
    const updates = slack.updates.filter((u) => u.args.ts === '1700000000.000001');
    expect(ts).toBe('1700000000.000001');
    expect(updates.some((u) => text(u).includes('*opened by alice@example.com* (kubectl, 203.0.113.7)'))).toBe(true);
    // The exec alert joined the runtime alert's incident: a thread reply, not a new channel message.
    expect(slack.posts).toHaveLength(2);
    expect(slack.posts[1]!.args.thread_ts).toBe('1700000000.000001');
  });

  it('broadcasts the reply that completes a chain, and escapes hostile user names', async () => {
    const h = withSlack();
    const user = 'mallory <!channel> <https://evil|x>';
    for (const audit of session({ id: 'e1', user, container: 'app', start: 0, end: 60_000 })) await h.feed([{ audit }]);
    await h.feed([
      {
        falco: runtime({
          id: 'r1',
          at: 5000,
          proc: 'cat',
          pname: 'bash',
          rule: 'Read sensitive file untrusted',
          priority: 'Warning',
          tags: ['mitre_credential_access'],
        }),
      },
    ]);
    await drive(h, 5000);
    expect(slack.posts).toHaveLength(2);
    expect(String(slack.posts[1]!.args.reply_broadcast)).toBe('true');
    // Every text Slack parses as mrkdwn (plain_text is shown as is) has the hostile name escaped.
    const mrkdwn: string[] = [];
    const collect = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(collect);
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if (o.type === 'mrkdwn' && typeof o.text === 'string') mrkdwn.push(o.text);
        Object.values(o).forEach(collect);
      }
    };
    for (const call of slack.calls) {
      mrkdwn.push(String(call.args.text));
      collect(typeof call.args.attachments === 'string' ? JSON.parse(call.args.attachments) : call.args.attachments);
    }
    const all = mrkdwn.join('\n').replace(/\u200b/g, '');
    expect(all).toContain('opened by mallory &lt;!channel&gt; &lt;https://evil|x&gt;');
    expect(all).not.toContain('<!channel>');
    expect(all).not.toContain('<https://evil');
    expect(all).toContain('exec-then-credential-access');
  });
});
