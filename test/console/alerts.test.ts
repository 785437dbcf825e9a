import type { Browser } from 'playwright-core';
import {
  execStoryNow,
  falcoNow,
  listedPods,
  newSession,
  openBrowser,
  screenshot,
  setField,
  setPriorities,
  signIn,
  startConsoleRig,
  unlabelledControls,
  VIEWER_TOKEN,
  type BrowserSession,
  type ConsoleRig,
} from '../support/console';
import { eventually, TEST_TOKEN } from '../support/falconer';

const HOSTILE = '<img src=x onerror=alert(1)>';

/** The alert list in headless Chromium: live updates, filters in the URL, hostile strings as text. */
describe('console: the alert list', () => {
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

  it('shows alerts posted to the ingest endpoint without a reload, newest first', async () => {
    await rig.ingest('/v1/events/falco', falcoNow('first', { namespace: 'shop', pod: 'cart-1' }));
    await signIn(s.page, VIEWER_TOKEN, 'viewer');
    await s.page.getByTestId('alert-list').waitFor();
    await eventually(async () => expect(await listedPods(s.page)).toEqual(['cart-1']), 10_000);
    await s.page.locator('[data-testid="live-status"][data-status="live"]').waitFor();
    // A reload would lose this marker: the rows below must arrive over the live stream.
    await s.page.evaluate(() => ((globalThis as unknown as { __sameDocument: number }).__sameDocument = 42));

    await rig.ingest('/v1/events/falco', falcoNow('second', { namespace: 'shop', pod: 'cart-2', priority: 'Critical' }));
    await s.page.getByTestId('alert-row').filter({ hasText: 'cart-2' }).waitFor({ timeout: 10_000 });
    await rig.ingest('/v1/events/falco', falcoNow('third', { namespace: 'store', pod: 'api', priority: 'Warning' }));
    await eventually(async () => expect(await listedPods(s.page)).toEqual(['api', 'cart-2', 'cart-1']), 10_000);
    expect(await s.page.evaluate(() => (globalThis as unknown as { __sameDocument?: number }).__sameDocument)).toBe(42);

    const row = s.page.getByTestId('alert-row').filter({ hasText: 'cart-2' });
    expect(await row.getByTestId('alert-rule').textContent()).toContain('Terminal shell in container');
    expect((await row.getByTestId('alert-priority').textContent())?.toLowerCase()).toContain('critical');
    expect(await row.getByTestId('alert-count').textContent()).toContain('1');
    expect(await row.getAttribute('data-fingerprint')).toMatch(/^[0-9a-f]{8,}$/);

    // A duplicate updates its row's count in place instead of adding a row.
    await rig.ingest('/v1/events/falco', falcoNow('second-again', { namespace: 'shop', pod: 'cart-2', priority: 'Critical' }));
    await eventually(async () => expect((await row.getByTestId('alert-count').textContent())?.trim()).toMatch(/^2\b/), 10_000);
    expect(await listedPods(s.page)).toHaveLength(3);
    await screenshot(s.page, 'alerts');
    expect(s.errors).toEqual([]);
  });

  it('narrows the list with filters that live in the URL and survive a reload', async () => {
    await rig.ingest('/v1/events/falco', falcoNow('a', { namespace: 'shop', pod: 'cart-1', priority: 'Critical' }));
    await rig.ingest('/v1/events/falco', falcoNow('b', { namespace: 'shop', pod: 'cart-2', priority: 'Warning' }));
    await rig.ingest('/v1/events/falco', falcoNow('c', { namespace: 'store', pod: 'api', priority: 'Critical' }));
    await rig.ingest(
      '/v1/events/falco',
      falcoNow('d', { namespace: 'store', pod: 'db', priority: 'Error', command: 'psql --dump-everything' }),
    );
    await signIn(s.page, VIEWER_TOKEN, 'viewer');
    await eventually(async () => expect((await listedPods(s.page)).sort()).toEqual(['api', 'cart-1', 'cart-2', 'db']), 10_000);

    await setPriorities(s.page, ['critical']);
    await setField(s.page, 'filter-namespace', 'shop');
    await s.page.getByTestId('filter-apply').click();
    await eventually(async () => expect(await listedPods(s.page)).toEqual(['cart-1']), 10_000);
    const url = new URL(s.page.url());
    expect(url.pathname).toBe('/ui/alerts');
    expect(url.searchParams.getAll('priority').join(',')).toBe('critical');
    expect(url.searchParams.get('namespace')).toBe('shop');
    await screenshot(s.page, 'alerts-filtered');

    // Live rows obey the filter too: the critical one in shop arrives, the warning one in shop does not.
    await s.page.locator('[data-testid="live-status"][data-status="live"]').waitFor();
    await rig.ingest('/v1/events/falco', falcoNow('e', { namespace: 'shop', pod: 'cart-3', priority: 'Warning' }));
    await rig.ingest('/v1/events/falco', falcoNow('f', { namespace: 'shop', pod: 'cart-4', priority: 'Critical' }));
    await eventually(async () => expect(await listedPods(s.page)).toEqual(['cart-4', 'cart-1']), 10_000);
    await s.page.waitForTimeout(300); // the warning was posted first: it would be in by now
    expect(await listedPods(s.page)).toEqual(['cart-4', 'cart-1']);

    await s.page.reload();
    await eventually(async () => expect(await listedPods(s.page)).toEqual(['cart-4', 'cart-1']), 10_000);
    expect(await s.page.getByTestId('filter-namespace').inputValue()).toBe('shop');
    // Every filter has a label a screen reader can read out.
    expect(await unlabelledControls(s.page)).toEqual([]);

    // The URL is a link someone else can open: free text over the command, two priorities.
    await s.page.goto('/ui/alerts?q=DUMP-everything');
    await eventually(async () => expect(await listedPods(s.page)).toEqual(['db']), 10_000);
    await s.page.goto('/ui/alerts?priority=critical,error&namespace=store');
    await eventually(async () => expect((await listedPods(s.page)).sort()).toEqual(['api', 'db']), 10_000);
  });

  it('pages through a few hundred alerts with Load more, each once', async () => {
    for (let i = 0; i < 230; i++) {
      await rig.ingest(
        '/v1/events/falco',
        falcoNow(`page-${i}`, { namespace: 'bulk', pod: `worker-${String(i).padStart(3, '0')}` }),
      );
    }
    await signIn(s.page, VIEWER_TOKEN, 'viewer');
    const rows = s.page.getByTestId('alert-row');
    await eventually(async () => expect(await rows.count()).toBe(100), 10_000);
    for (const shown of [200, 230]) {
      await s.page.getByTestId('load-more').click();
      await eventually(async () => expect(await rows.count()).toBe(shown), 10_000);
    }
    expect(await s.page.getByTestId('load-more').count()).toBe(0);
    const fingerprints = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-fingerprint')));
    expect(new Set(fingerprints).size).toBe(230);
    const pods = await listedPods(s.page);
    expect([...pods].sort()).toEqual(Array.from({ length: 230 }, (_, i) => `worker-${String(i).padStart(3, '0')}`));
  });

  it('renders a hostile pod name as text: no img element, no script run', async () => {
    await rig.ingest(
      '/v1/events/falco',
      falcoNow('hostile', { namespace: 'shop', pod: HOSTILE, command: '<script>alert(2)</script>' }),
    );
    await signIn(s.page, VIEWER_TOKEN, 'viewer');
    const row = s.page.getByTestId('alert-row').first();
    await row.waitFor({ timeout: 10_000 });
    expect(await row.getByTestId('alert-pod').textContent()).toContain(HOSTILE);
    expect(await s.page.locator('img[src="x"]').count()).toBe(0);
    expect(await s.page.getByTestId('alert-list').locator('img, script').count()).toBe(0);
    await screenshot(s.page, 'alerts-hostile');

    // The detail page shows the same characters, the evidence included.
    await s.page.goto(`/ui/alerts/${await row.getAttribute('data-fingerprint')}`);
    const detail = s.page.getByTestId('alert-detail');
    await detail.waitFor();
    await s.page.getByTestId('evidence').waitFor();
    expect(await detail.textContent()).toContain(HOSTILE);
    expect(await s.page.getByTestId('evidence').textContent()).toContain('<script>alert(2)</script>');
    expect(await s.page.locator('img[src="x"]').count()).toBe(0);
    expect(await detail.locator('script').count()).toBe(0);
    await screenshot(s.page, 'alert-detail-hostile');

    // The same user name in an incident (the exec's audit subject, attributed to the shell), and in a silence.
    const story = execStoryNow();
    const exec = (story.audit.items as { user: Record<string, unknown> }[])[0]!;
    exec.user = { ...exec.user, username: HOSTILE };
    await rig.ingest('/v1/events/audit', story.audit);
    await rig.ingest('/v1/events/falco', story.falco);
    await rig.falconer.silences.create({
      matchers: [{ name: 'pod', value: HOSTILE, isRegex: false, isEqual: true }],
      endsAt: new Date(Date.now() + 3_600_000).toISOString(),
      createdBy: HOSTILE,
      comment: `<script>alert(3)</script> ${HOSTILE}`,
    });
    let incident = '';
    await eventually(async () => {
      const res = await fetch(`${rig.url}/v1/incidents`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
      const { incidents } = (await res.json()) as { incidents: { id: string; alerts: unknown[] }[] };
      const joined = incidents.filter((i) => i.alerts.length === 2); // the exec and its shell
      expect(joined).toHaveLength(1);
      incident = joined[0]!.id;
    }, 10_000);
    await s.page.goto('/ui/incidents');
    await s.page.locator(`a[href="/ui/incidents/${incident}"]`).first().click();
    await s.page.getByTestId('incident-detail').waitFor();
    await eventually(async () => expect(await s.page.getByTestId('incident-attribution').textContent()).toContain(HOSTILE));
    expect(await s.page.getByTestId('incident-timeline').textContent()).toContain(HOSTILE);
    expect(await s.page.locator('img[src="x"]').count()).toBe(0);
    await screenshot(s.page, 'incident-hostile');
    await s.page.goto('/ui/silences');
    await s.page.getByTestId('silence-row').first().waitFor();
    expect(await s.page.getByTestId('silence-list').textContent()).toContain('<script>alert(3)</script>');
    expect(await s.page.locator('img[src="x"]').count()).toBe(0);
    expect(await s.page.getByTestId('silence-list').locator('script, img').count()).toBe(0);
    await s.page.waitForTimeout(200); // an onerror handler would have fired by now
    expect(s.dialogs).toEqual([]);
  });
});
