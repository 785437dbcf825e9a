import { renderSlackMessage } from '../../src/notify/slack-message';
import { escapeMrkdwn } from '../../src/notify/mrkdwn';
import { alertOf, falcoSecurityEvent } from '../support/alerts';

/** Every mrkdwn text in the message (plain_text is not parsed by Slack). */
function mrkdwnTexts(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => mrkdwnTexts(n, out));
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o.type === 'mrkdwn' && typeof o.text === 'string') out.push(o.text);
    Object.values(o).forEach((v) => mrkdwnTexts(v, out));
  }
  return out;
}

describe('Slack message', () => {
  const hostile = '<!channel> <https://evil.example|click> & <@U123>';
  const event = falcoSecurityEvent({
    output_fields: { 'proc.cmdline': hostile, 'k8s.ns.name': 'shop', 'k8s.pod.name': '<!here>', 'container.name': 'c' },
  });
  const message = renderSlackMessage(alertOf(event, { count: 3, firstSeen: 0, lastSeen: 60_000 }));

  it('escapes every event-derived string in mrkdwn: no ping, no spoofed link', () => {
    const texts = mrkdwnTexts(message.attachments).join('\n') + message.text;
    expect(texts).not.toMatch(/<!channel>|<!here>|<https?:|<@U/);
    expect(texts).toContain('&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; &lt;@U123&gt;');
    expect(texts).toContain('&lt;!here&gt;');
  });

  it('shows rule, priority colour, where, the command, the count, and a runbook button', () => {
    const [attachment] = message.attachments;
    expect(attachment!.color).toBe('#2979ff');
    const blocks = attachment!.blocks as Record<string, any>[];
    expect(blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Terminal shell in container', emoji: false } });
    const fields = blocks.find((b) => b.fields)!.fields.map((f: { text: string }) => f.text);
    expect(fields).toEqual(
      expect.arrayContaining(['*Priority*\nNotice', '*Namespace*\nshop', '*Container*\nc', '*Host*\nnode-a', expect.stringMatching(/^\*Occurrences\*\n3 \(first 1970/)]),
    );
    const actions = blocks.find((b) => b.type === 'actions')!;
    expect(actions.elements[0]).toMatchObject({ type: 'button', url: 'https://runbooks.example.com/terminal-shell-in-container' });
    expect(mrkdwnTexts(blocks).some((t) => t.startsWith('*Command*\n`'))).toBe(true);
  });

  it('keeps within Slack limits for huge values', () => {
    const big = falcoSecurityEvent({ rule: 'R'.repeat(400), output: 'o'.repeat(10_000), output_fields: { 'proc.cmdline': 'c'.repeat(10_000) } });
    const m = renderSlackMessage(alertOf(big));
    const blocks = m.attachments[0]!.blocks as Record<string, any>[];
    expect(blocks[0]!.text.text.length).toBeLessThanOrEqual(150);
    for (const t of mrkdwnTexts(blocks)) expect(t.length).toBeLessThanOrEqual(3000);
    expect(blocks[1]!.text.text.length).toBeLessThanOrEqual(3000);
  });

  it('escapes exactly the three control characters', () => {
    expect(escapeMrkdwn('a&b<c>d *e* _f_')).toBe('a&amp;b&lt;c&gt;d *e* _f_');
  });
});
