import type { RunningFalconer } from '../../src/app';
import { slackSignature, verifySlackRequest } from '../../src/notify/slack-signature';
import { falcoEvent } from '../support/events';
import { eventually, post, startTestFalconer } from '../support/falconer';
import { FakeSlack } from '../support/slack-server';

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';

describe('Slack signature (v0)', () => {
  // Slack's documented example request (api.slack.com/authentication/verifying-requests-from-slack).
  const body =
    'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
  const ts = '1531420618';
  const now = Number(ts) * 1000;

  it("agrees with Slack's published example", () => {
    expect(slackSignature(SECRET, ts, body)).toBe('v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503');
    expect(verifySlackRequest(SECRET, { timestamp: ts, signature: slackSignature(SECRET, ts, body) }, body, now)).toBeUndefined();
  });

  it.each([
    [{ timestamp: ts, signature: 'v0=' + '0'.repeat(64) }, now, 'signature mismatch'],
    [{ timestamp: ts, signature: 'v0=short' }, now, 'signature mismatch'],
    [{ timestamp: ts, signature: undefined }, now, 'missing X-Slack-Signature'],
    [{ timestamp: 'yesterday', signature: 'v0=x' }, now, 'malformed'],
    [{ timestamp: ts, signature: 'sig' }, now + 5 * 60_000 + 1000, 'outside the 5-minute window'],
  ])('refuses %j', (headers, at, reason) => {
    const h = headers.signature === 'sig' ? { ...headers, signature: slackSignature(SECRET, ts, body) } : headers;
    expect(verifySlackRequest(SECRET, h, body, at)).toContain(reason);
  });

  it('refuses a body that was changed after signing', () => {
    expect(verifySlackRequest(SECRET, { timestamp: ts, signature: slackSignature(SECRET, ts, body) }, body + 'x', now)).toBe(
      'signature mismatch',
    );
  });
});

describe('the "Silence 1h" button (Slack interactivity)', () => {
  const slack = new FakeSlack();
  let f: RunningFalconer;
  let apiUrl: string;
  beforeAll(async () => {
    apiUrl = await slack.start();
    f = await startTestFalconer({
      interactivity: { slackSigningSecret: SECRET },
      receivers: [{ type: 'slack', name: 'sec', token: 'xoxb-test', channel: 'C1', apiUrl }],
    });
  });
  afterAll(async () => {
    await f.stop();
    await slack.stop();
  });

  async function press(
    value: string,
    sign: (ts: string, body: string) => string = (ts, body) => slackSignature(SECRET, ts, body),
  ) {
    const payload = {
      type: 'block_actions',
      user: { id: 'U1', username: 'dana' },
      actions: [{ action_id: 'falconer_silence_1h', block_id: 'b', value }],
      response_url: `${new URL(apiUrl).origin}/respond`,
    };
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const ts = String(Math.floor(Date.now() / 1000));
    const started = Date.now();
    const res = await fetch(`${f.url}/v1/slack/interactivity`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': ts,
        'x-slack-signature': sign(ts, body),
      },
      body,
    });
    return { status: res.status, ms: Date.now() - started };
  }

  it('puts the button on the alert message; a signed press silences the alert for an hour, within 3 s', async () => {
    expect((await post(`${f.url}/v1/events/falco`, JSON.stringify(falcoEvent({ uuid: 's1' })))).status).toBe(202);
    await eventually(() => expect(slack.posts).toHaveLength(1));
    const blocks = (slack.posts[0]!.args.attachments as { blocks: { type: string; elements?: any[] }[] }[])[0]!.blocks;
    const button = blocks.find((b) => b.type === 'actions')!.elements!.find((e) => e.action_id === 'falconer_silence_1h');
    expect(button.text.text).toBe('Silence 1h');
    expect(JSON.parse(button.value)).toEqual({
      rule: 'Terminal shell in container',
      cluster: 'default',
      namespace: 'shop',
      pod: 'web-7c9f8d-abcde',
      container: 'nginx',
    });

    const { status, ms } = await press(button.value);
    expect(status).toBe(200);
    expect(ms).toBeLessThan(3000);
    const list = (await (
      await fetch(`${f.url}/v1/silences`, { headers: { authorization: 'Bearer test-token-0123456789abcdef' } })
    ).json()) as any;
    expect(list.silences).toHaveLength(1);
    const silence = list.silences[0];
    expect(silence.createdBy).toBe('slack:dana');
    expect(silence.matchers).toEqual(
      expect.arrayContaining([{ name: 'pod', value: 'web-7c9f8d-abcde', isRegex: false, isEqual: true }]),
    );
    // An hour from the press; the store starts it when it is stored, a moment (real clock here) after.
    const lasts = Date.parse(silence.endsAt) - Date.parse(silence.startsAt);
    expect(lasts).toBeLessThanOrEqual(3_600_000);
    expect(lasts).toBeGreaterThan(3_600_000 - 1000);
    await eventually(() =>
      expect(
        slack.calls.some((c) => c.method === '/respond' && String(c.args.text).includes('Silenced for 60 min by dana')),
      ).toBe(true),
    );
  });

  it('refuses a press with a bad signature (401) and creates nothing', async () => {
    const before = (
      (await (
        await fetch(`${f.url}/v1/silences`, { headers: { authorization: 'Bearer test-token-0123456789abcdef' } })
      ).json()) as any
    ).silences.length;
    const { status } = await press(JSON.stringify({ pod: 'x' }), (ts, body) => slackSignature('the-wrong-secret-0000', ts, body));
    expect(status).toBe(401);
    const after = (
      (await (
        await fetch(`${f.url}/v1/silences`, { headers: { authorization: 'Bearer test-token-0123456789abcdef' } })
      ).json()) as any
    ).silences.length;
    expect(after).toBe(before);
  });
});
