import type { Alert } from '../../src/core/alert';
import { SlackNotifier } from '../../src/notify/slack';
import { inlineCode, mrkdwnValue, plainText, truncate } from '../../src/notify/mrkdwn';
import { FakeSlack } from '../support/slack-server';
import { alertOf, falcoSecurityEvent } from '../support/alerts';

type Text = { type: 'mrkdwn' | 'plain_text'; text: string };

/** Every text object in a message as Slack received it, plus the fallback `text`. */
function texts(args: Record<string, unknown>): Text[] {
  const out: Text[] = [{ type: 'mrkdwn', text: String(args.text) }];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      const o = node as Record<string, unknown>;
      if ((o.type === 'mrkdwn' || o.type === 'plain_text') && typeof o.text === 'string') out.push(o as Text);
      Object.values(o).forEach(walk);
    }
  };
  walk(args.attachments);
  return out;
}

const blocksOf = (args: Record<string, unknown>) => (args.attachments as { blocks: Record<string, any>[] }[])[0]!.blocks;
const fieldsOf = (args: Record<string, unknown>): string[] =>
  blocksOf(args)
    .find((b) => b.fields)!
    .fields.map((f: Text) => f.text);
const commandOf = (args: Record<string, unknown>): string =>
  blocksOf(args).find((b) => b.text?.text?.startsWith('*Command*'))!.text.text;
/** Text as a reader sees it: the zero-width spaces that break auto-linking are invisible. */
const visible = (s: string) => s.replace(/\u200b/g, '');

/**
 * Hostile values sent through the real @slack/web-api client to the local Slack-compatible server:
 * what is asserted is what Slack would have received.
 */
describe('Slack layout cannot be forged by event values', () => {
  let slack: FakeSlack;
  let notifier: SlackNotifier;
  beforeAll(async () => {
    slack = new FakeSlack();
    const apiUrl = await slack.start();
    notifier = new SlackNotifier({ name: 's', token: 'xoxb-t', channel: 'C1', apiUrl, minPriority: 'debug' });
  });
  afterAll(() => slack.stop());

  const deliver = async (alert: Alert) => {
    await notifier.send(alert);
    return slack.posts.at(-1)!.args;
  };
  const hostile = (fields: Record<string, unknown>, top: Record<string, unknown> = {}) =>
    alertOf(
      falcoSecurityEvent({
        ...top,
        output_fields: { 'k8s.ns.name': 'shop', 'k8s.pod.name': 'web', 'container.name': 'c', 'proc.cmdline': 'bash', ...fields },
      }),
    );

  it('keeps *, _, ~ and backticks in values from formatting: no bold, italics, strike or code', async () => {
    const args = await deliver(hostile({ 'user.name': '*bold* _italic_ ~strike~ `code`', 'k8s.pod.name': 'a_b_c SYS_ADMIN' }));
    const fields = fieldsOf(args);
    const user = fields.find((f) => f.startsWith('*User*\n'))!.slice('*User*\n'.length);
    expect(user).not.toMatch(/[*~`]/);
    expect(user).not.toMatch(/(^|[^\p{L}\p{N}])_|_([^\p{L}\p{N}]|$)/u);
    expect(visible(user)).toBe('∗bold∗ ˍitalicˍ ∼strike∼ ˋcodeˋ');
    expect(fields).toContain('*Pod*\na_b_c SYS_ADMIN'); // intra-word underscores cannot format: left alone
  });

  it('turns a newline in a value into ⏎, so it cannot forge a field', async () => {
    const args = await deliver(hostile({ 'user.name': 'root\n*Priority*\nInformational' }));
    const user = fieldsOf(args).find((f) => f.startsWith('*User*'))!;
    expect(user.split('\n')).toHaveLength(2);
    expect(visible(user)).toBe('*User*\nroot⏎∗Priority∗⏎Informational');
    expect(fieldsOf(args).filter((f) => f.startsWith('*Priority*'))).toEqual(['*Priority*\nNotice']);
  });

  it('keeps the command inside its code span, whatever newlines and backticks it holds', async () => {
    const args = await deliver(hostile({ 'proc.cmdline': 'sh -c "x"\n`*Priority*`\r\nInformational ```' }));
    expect(commandOf(args)).toMatch(/^\*Command\*\n`[^`\n\r]*`$/);
    expect(visible(commandOf(args))).toBe('*Command*\n`sh -c "x"⏎ˋ*Priority*ˋ⏎Informational ˋˋˋ`');
  });

  it('drops bidi overrides and isolates everywhere, plain_text included', async () => {
    const rlo = 'evil\u202Etxt.exe\u2066x\u2069\u200f';
    const args = await deliver(hostile({ 'k8s.pod.name': rlo, 'proc.cmdline': rlo }, { rule: `Rule ${rlo}`, output: rlo }));
    for (const t of texts(args)) expect(t.text).not.toMatch(/[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/);
    expect(fieldsOf(args).map(visible)).toContain('*Pod*\neviltxt.exex');
  });

  it('breaks auto-linking of URLs, e-mail addresses and domains in every text', async () => {
    const linky = 'see https://evil.example/login or mail bob@evil.example, www.evil.example';
    const args = await deliver(
      hostile({ 'user.name': linky, 'proc.cmdline': `curl ${linky}` }, { rule: linky, output: linky, hostname: 'evil.example' }),
    );
    for (const { text } of texts(args)) {
      expect(text).not.toMatch(/https?:\/\//);
      expect(text).not.toMatch(/[\p{L}\p{N}]@[\p{L}\p{N}]/u);
      expect(text).not.toMatch(/[\p{L}\p{N}]\.[\p{L}\p{N}]/u);
    }
    expect(visible(commandOf(args))).toContain('curl see https://evil.example/login or mail bob@evil.example');
  });

  it('keeps emoji codes and a leading ">" in values from rendering', async () => {
    const args = await deliver(hostile({ 'user.name': '> :skull: quoted' }));
    const user = fieldsOf(args).find((f) => f.startsWith('*User*'))!;
    expect(user).not.toMatch(/\n&gt;/);
    expect(user).not.toContain(':skull:');
    expect(visible(user)).toBe('*User*\n› :skull: quoted');
  });

  it('replaces lone surrogates and never splits a surrogate pair when it cuts', async () => {
    const emoji = '😀'.repeat(1600);
    const args = await deliver({
      ...hostile({ 'user.name': `x\ud800y` }),
      rule: 'a' + emoji,
      summary: emoji,
    });
    const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
    for (const { text } of texts(args)) expect(text).not.toMatch(loneSurrogate);
    expect(fieldsOf(args)).toContain('*User*\nx\ufffdy');
    expect(blocksOf(args)[0]!.text.text.length).toBeLessThanOrEqual(150);
    expect(blocksOf(args)[1]!.text.text.length).toBeLessThanOrEqual(3000);
  });

  it('keeps every text within Slack limits, even when escaping multiplies its length', async () => {
    const amps = '&<>'.repeat(4000);
    const args = await deliver({
      ...hostile({ 'user.name': amps, 'proc.cmdline': amps, 'k8s.ns.name': amps }),
      rule: amps,
      summary: amps,
    });
    for (const t of texts(args)) {
      expect(t.text.length).toBeLessThanOrEqual(3000);
      expect(t.text).not.toMatch(/&[a-z]{0,3}…/); // no entity cut in half
    }
    for (const f of fieldsOf(args)) expect(f.length).toBeLessThanOrEqual(2000);
    expect(blocksOf(args)[0]!.text.text.length).toBeLessThanOrEqual(150);
    expect(String(args.text).length).toBeLessThanOrEqual(300);
    expect(commandOf(args)).toMatch(/`$/); // cut inside the span: it is still closed
  });

  it('leaves out a runbook button whose URL Slack would refuse, and keeps the alert', async () => {
    const long = `https://runbooks.example.com/${'%C3%A9'.repeat(600)}`;
    for (const runbookUrl of [long, 'javascript:alert(1)', 'not a url']) {
      const args = await deliver({ ...hostile({}), runbookUrl });
      expect(blocksOf(args).some((b) => b.type === 'actions')).toBe(false);
      expect(blocksOf(args)[0]!.type).toBe('header');
    }
    const ok = await deliver({ ...hostile({}), runbookUrl: 'https://runbooks.example.com/x' });
    expect(blocksOf(ok).find((b) => b.type === 'actions')!.elements[0].url).toBe('https://runbooks.example.com/x');
  });
});

describe('mrkdwn helpers', () => {
  it('truncates by code point, marker included', () => {
    expect(truncate('ab😀cd', 4)).toBe('ab…');
    expect(truncate('ab😀cd', 5)).toBe('ab😀…');
    expect(truncate('abc', 3)).toBe('abc');
  });

  it('never cuts an entity in half', () => {
    expect(truncate('ab&amp;cd', 6)).toBe('ab…');
    expect(truncate('ab&lt;cd', 7)).toBe('ab&lt;…');
  });

  it('closes a code span it had to cut', () => {
    const code = inlineCode('x'.repeat(100), 20);
    expect(code).toHaveLength(20);
    expect(code).toMatch(/^`x+…`$/);
  });

  it('leaves ordinary values readable', () => {
    expect(mrkdwnValue('shop')).toBe('shop');
    expect(visible(mrkdwnValue('system:serviceaccount:kube-system:default'))).toBe('system:serviceaccount:kube-system:default');
    expect(plainText('tab\there')).toBe('tab here');
  });
});
