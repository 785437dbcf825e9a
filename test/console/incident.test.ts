import type { Browser } from 'playwright-core';
import {
  execStoryNow,
  falcoNow,
  newSession,
  openBrowser,
  screenshot,
  signIn,
  startConsoleRig,
  VIEWER_TOKEN,
  type BrowserSession,
  type ConsoleRig,
} from '../support/console';
import { eventually, TEST_TOKEN } from '../support/falconer';

/** An incident across sources: alice's kubectl exec (audit) and the shell it opened (Falco). */
describe('console: an incident', () => {
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

  it('shows who opened the shell and the timeline across sources, linked from the alert', async () => {
    const story = execStoryNow();
    await rig.ingest('/v1/events/audit', story.audit);
    await rig.ingest('/v1/events/falco', story.falco);
    let id = '';
    await eventually(async () => {
      const res = await fetch(`${rig.url}/v1/incidents`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
      const { incidents: items } = (await res.json()) as { incidents: { id: string; alerts: unknown[] }[] };
      expect(items).toHaveLength(1);
      expect(items[0]!.alerts).toHaveLength(2);
      id = items[0]!.id;
    }, 10_000);

    await signIn(s.page, VIEWER_TOKEN, 'viewer');
    await s.page.getByTestId('nav-incidents').click();
    await s.page.waitForURL(/\/ui\/incidents$/);
    await s.page
      .getByText(id)
      .or(s.page.locator(`a[href$="/ui/incidents/${id}"]`))
      .first()
      .waitFor();
    await screenshot(s.page, 'incidents');

    await s.page.goto(`/ui/incidents/${encodeURIComponent(id)}`);
    await s.page.getByTestId('incident-detail').waitFor();
    expect(await s.page.getByTestId('incident-attribution').textContent()).toContain('alice@example.com');
    const items = s.page.getByTestId('incident-timeline').getByTestId('timeline-item');
    await eventually(async () => expect(await items.count()).toBe(2));
    const [first, second] = await items.allTextContents();
    // Oldest first: the exec came a second before the shell.
    expect(first).toContain('Attach/Exec Pod');
    expect(first).toContain('alice@example.com');
    expect(second).toContain('Terminal shell in container');
    expect(await s.page.getByTestId('incident-severity').textContent()).toMatch(/\w/);
    await screenshot(s.page, 'incident-detail');

    // The shell alert's own page names alice too, with its enrichment, and links back to the incident.
    const fp = await s.page.evaluate(async () => {
      const res = await fetch('/v1/console/alerts?q=Terminal%20shell');
      return ((await res.json()) as { items: { fingerprint: string }[] }).items[0]!.fingerprint;
    });
    await s.page.goto(`/ui/alerts/${fp}`);
    await s.page.getByTestId('alert-detail').waitFor();
    expect(await s.page.getByTestId('attribution').textContent()).toContain('alice@example.com');
    expect(await s.page.getByTestId('enrichment-pod').textContent()).toContain('web-7c9f8d-abcde');
    expect(await s.page.getByTestId('runbook-link').getAttribute('href')).toBeTruthy();
    await screenshot(s.page, 'alert-detail');
    await s.page.getByTestId('incident-link').click();
    await s.page.waitForURL(new RegExp(`/ui/incidents/${encodeURIComponent(id)}$`));
    await s.page.getByTestId('incident-detail').waitFor();

    // The list as a person sees it afterwards: the shell attributed to alice, and what else happened.
    await rig.ingest('/v1/events/audit', story.rest);
    await rig.ingest(
      '/v1/events/falco',
      falcoNow('overview', {
        namespace: 'store',
        pod: 'db',
        priority: 'Warning',
        rule: 'Read sensitive file untrusted',
        command: 'cat /etc/shadow',
      }),
    );
    await s.page.getByTestId('nav-alerts').click();
    const rows = s.page.getByTestId('alert-row');
    for (const rule of ['Create Privileged Pod', 'Read sensitive file untrusted', 'Attach/Exec Pod']) {
      await rows.filter({ hasText: rule }).first().waitFor({ timeout: 10_000 });
    }
    const shell = rows.filter({ hasText: 'Terminal shell in container' });
    expect(await shell.getByTestId('alert-user').textContent()).toContain('alice@example.com');
    await screenshot(s.page, 'alerts-overview');
    expect(s.errors).toEqual([]);
  });
});
