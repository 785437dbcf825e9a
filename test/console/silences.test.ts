import type { Browser } from 'playwright-core';
import {
  ADMIN_TOKEN,
  falcoNow,
  newSession,
  openBrowser,
  screenshot,
  setField,
  signIn,
  startConsoleRig,
  unlabelledControls,
  type BrowserSession,
  type ConsoleRig,
} from '../support/console';
import { eventually } from '../support/falconer';
import type { SlackCall } from '../support/slack-server';

/** Whether a Slack call is about the pod (the pod name is in its text; zero-width spaces dropped). */
const about = (pod: string) => (c: SlackCall) =>
  JSON.stringify(c.args)
    .replace(/\u200b/g, '')
    .includes(pod);

/** A silence made in the console is the same object the pipeline mutes with: checked at the Slack server. */
describe('console: silences', () => {
  let browser: Browser;
  let rig: ConsoleRig;
  let s: BrowserSession;
  beforeAll(async () => {
    browser = await openBrowser();
  });
  afterAll(() => browser?.close());
  beforeEach(async () => {
    rig = await startConsoleRig();
    s = await newSession(browser, rig.url);
  });
  afterEach(async () => {
    await s?.context.close();
    await rig?.stop();
  });

  it('a silence created in the UI (with a preview) keeps the next matching alert from Slack; others still reach it', async () => {
    // Before the silence: this one reaches Slack, and is what the preview will list.
    await rig.ingest('/v1/events/falco', falcoNow('before', { namespace: 'store', pod: 'checkout-before-silence' }));
    await eventually(() => expect(rig.slack.posts.filter(about('checkout-before-silence'))).toHaveLength(1), 10_000);

    await signIn(s.page, ADMIN_TOKEN, 'admin');
    await s.page.getByTestId('nav-silences').click();
    await s.page.getByTestId('silence-list').waitFor();
    await s.page.goto('/ui/silences/new');
    const form = s.page.getByTestId('silence-form');
    await form.waitFor();
    const matchers: [string, string][] = [
      ['namespace', 'store'],
      ['rule', 'Terminal shell in container'],
    ];
    for (let i = 0; i < matchers.length; i++) {
      if ((await s.page.getByTestId('matcher-row').count()) <= i) await s.page.getByTestId('matcher-add').click();
      const row = s.page.getByTestId('matcher-row').nth(i);
      await row.getByTestId('matcher-name').fill(matchers[i]![0]);
      await row.getByTestId('matcher-value').fill(matchers[i]![1]);
      await row.getByTestId('matcher-regex').setChecked(false);
      await row.getByTestId('matcher-equal').setChecked(true);
    }
    await setField(s.page, 'silence-duration', '2h');
    await setField(s.page, 'silence-comment', 'store is being rebuilt');
    await setField(s.page, 'silence-created-by', 'console-e2e');
    // The preview lists the stored alert the matchers would silence (and nothing else).
    const preview = s.page.getByTestId('silence-preview').getByTestId('preview-row');
    await eventually(async () => {
      expect(await preview.count()).toBe(1);
      expect(await preview.first().textContent()).toContain('checkout-before-silence');
    }, 10_000);
    expect(await unlabelledControls(s.page)).toEqual([]);
    await screenshot(s.page, 'silence-new');
    await s.page.getByTestId('silence-submit').click();

    await s.page.waitForURL(/\/ui\/silences$/);
    const row = s.page.getByTestId('silence-row');
    await row.first().waitFor();
    expect(await row.count()).toBe(1);
    expect(await row.first().textContent()).toContain('store is being rebuilt');
    await screenshot(s.page, 'silences');
    const stored = await rig.falconer.silences.list();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ createdBy: 'console-e2e', comment: 'store is being rebuilt' });
    expect(stored[0]!.matchers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'namespace', value: 'store', isRegex: false, isEqual: true }),
        expect.objectContaining({ name: 'rule', value: 'Terminal shell in container', isRegex: false, isEqual: true }),
      ]),
    );
    const hours = (Date.parse(stored[0]!.endsAt) - Date.parse(stored[0]!.startsAt)) / 3_600_000;
    expect(hours).toBeCloseTo(2, 1);

    // The next alert in store is silenced; the same rule in shop is not, and is the proof Slack was listening.
    await rig.ingest('/v1/events/falco', falcoNow('after', { namespace: 'store', pod: 'checkout-after-silence' }));
    await rig.ingest('/v1/events/falco', falcoNow('elsewhere', { namespace: 'shop', pod: 'web-unsilenced' }));
    await eventually(() => expect(rig.slack.posts.filter(about('web-unsilenced'))).toHaveLength(1), 10_000);
    await rig.falconer.dispatcher.settled();
    expect(rig.slack.calls.filter(about('checkout-after-silence'))).toEqual([]);
    // The console says so too.
    const status = await s.page.evaluate(async () => {
      const res = await fetch('/v1/console/alerts?pod=checkout-after-silence');
      return ((await res.json()) as { items: { status: string }[] }).items.map((i) => i.status);
    });
    expect(status).toEqual(['silenced']);

    // Expiring it in the UI lets the next one through.
    await s.page.getByTestId('silence-row').first().getByTestId('silence-expire').click();
    await eventually(async () => expect((await rig.falconer.silences.list())[0]!.status.state).toBe('expired'), 10_000);
    await rig.ingest('/v1/events/falco', falcoNow('expired', { namespace: 'store', pod: 'checkout-after-expiry' }));
    await eventually(() => expect(rig.slack.posts.filter(about('checkout-after-expiry'))).toHaveLength(1), 10_000);
  });

  it('prefills a silence from an alert: its labels as matchers, the alert in the preview', async () => {
    await rig.ingest('/v1/events/falco', falcoNow('prefill', { namespace: 'store', pod: 'api' }));
    await signIn(s.page, ADMIN_TOKEN, 'admin');
    const row = s.page.getByTestId('alert-row').filter({ hasText: 'api' });
    await row.waitFor({ timeout: 10_000 });
    const fp = await row.getAttribute('data-fingerprint');
    await s.page.goto(`/ui/alerts/${fp}`);
    await s.page.getByTestId('silence-from-alert').click();
    await s.page.waitForURL(new RegExp(`/ui/silences/new\\?fromAlert=${fp}`));
    await s.page.getByTestId('silence-form').waitFor();
    await eventually(async () => {
      const names = await s.page
        .getByTestId('matcher-name')
        .evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value));
      const values = await s.page
        .getByTestId('matcher-value')
        .evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value));
      const pairs = Object.fromEntries(names.map((n, i) => [n, values[i]]));
      expect(pairs).toMatchObject({ rule: 'Terminal shell in container', namespace: 'store', pod: 'api' });
    }, 10_000);
    await eventually(async () => expect(await s.page.getByTestId('preview-row').count()).toBe(1), 10_000);
    await screenshot(s.page, 'silence-from-alert');
  });
});
