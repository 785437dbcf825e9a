import type { Browser } from 'playwright-core';
import {
  falcoNow,
  newSession,
  openBrowser,
  screenshot,
  setField,
  signIn,
  startConsoleRig,
  VIEWER_TOKEN,
  type BrowserSession,
  type ConsoleRig,
} from '../support/console';
import { eventually } from '../support/falconer';

const attr = async (s: BrowserSession, name: string): Promise<unknown> =>
  JSON.parse((await s.page.getByTestId('network-graph').getAttribute(name)) ?? 'null');

/** Charts, posture and the network graph of the sample namespace (test/fixtures/console/store-network.json). */
describe('console: charts, posture and the network graph', () => {
  let browser: Browser;
  let rig: ConsoleRig;
  let s: BrowserSession;
  beforeAll(async () => {
    browser = await openBrowser();
    rig = await startConsoleRig();
  });
  afterAll(async () => {
    await rig?.stop();
    await browser?.close();
  });
  beforeEach(async () => {
    s = await newSession(browser, rig.url);
    await signIn(s.page, VIEWER_TOKEN, 'viewer');
  });
  afterEach(() => s?.context.close());

  it('draws the store namespace: who may talk to whom, what outside, and the pod isolated in neither direction', async () => {
    await s.page.getByTestId('nav-network').click();
    await setField(s.page, 'network-namespace', 'store');
    await s.page.getByTestId('network-namespace').press('Enter');
    await s.page.waitForURL(/\/ui\/network\?namespace=store/);
    await eventually(async () => expect(await attr(s, 'data-nodes')).toEqual(expect.arrayContaining(['pod:store/db'])), 10_000);
    const nodes = (await attr(s, 'data-nodes')) as string[];
    const edges = (await attr(s, 'data-edges')) as string[];
    // Reasoned from the fixture's three policies (and what `netpol peers` answers for it): the four pods,
    // the outside (frontend takes 0.0.0.0/0, debug has no policy), and shop, whose egress is open to debug.
    const ANY = 'external:0.0.0.0-255.255.255.255';
    expect([...nodes].sort()).toEqual(
      ['namespace:shop', ANY, 'pod:store/api', 'pod:store/db', 'pod:store/debug', 'pod:store/frontend'].sort(),
    );
    expect([...edges].sort()).toEqual(
      [
        `${ANY}->pod:store/debug`,
        `${ANY}->pod:store/frontend`,
        'namespace:shop->pod:store/debug',
        'pod:store/api->pod:store/db', // TCP 5432, and nothing else reaches db
        `pod:store/debug->${ANY}`,
        'pod:store/frontend->pod:store/api', // TCP 8080
      ].sort(),
    );
    // debug is isolated in neither direction: highlighted and listed.
    const exposed = await s.page.getByTestId('network-exposed').textContent();
    expect(exposed).toContain('debug');
    expect(exposed).not.toMatch(/frontend|\bapi\b|\bdb\b/);
    await screenshot(s.page, 'network');
    // The same answer as the API the page draws from.
    const api = await (await s.page.request.get('/v1/posture/network/graph?namespace=store')).json();
    expect((api.nodes as { id: string }[]).map((n) => n.id).sort()).toEqual([...nodes].sort());
    expect(api.edges).toEqual(expect.arrayContaining([{ from: 'pod:store/api', to: 'pod:store/db', ports: ['TCP 5432'] }]));
  });

  it('shows the posture reports with the top fixes', async () => {
    await s.page.getByTestId('nav-posture').click();
    await s.page.waitForURL(/\/ui\/posture/);
    for (const id of ['posture-rbac', 'posture-pss', 'posture-network', 'posture-top-fixes']) {
      await s.page.getByTestId(id).waitFor();
    }
    // The store namespace of the fixture: three policies, none a default-deny, four pods, debug open both ways.
    const store = s.page
      .getByTestId('posture-network')
      .locator('tr')
      .filter({ has: s.page.locator('td', { hasText: /^store$/ }) });
    const cells = (await store.locator('td').allTextContents()).map((c) => c.trim());
    expect(cells.slice(0, 6)).toEqual(['store', '3', 'no', 'no', '4', '1']);
    const fixes = await s.page.getByTestId('posture-top-fixes').textContent();
    expect(fixes).toContain('Pod store/debug: 1 pod isolated in neither direction');
    expect(fixes).toContain('namespace store has no default-deny ingress NetworkPolicy');
    // …and the shop namespace's exec RoleBinding for Group devs, from the other snapshot.
    expect(fixes).toContain('Group devs can exec into pods in namespace shop');
    await screenshot(s.page, 'posture');
  });

  it('charts alerts over time and the top rules, namespaces and users', async () => {
    await rig.ingest('/v1/events/falco', falcoNow('chart-1', { namespace: 'shop', pod: 'cart-1', priority: 'Critical' }));
    await rig.ingest('/v1/events/falco', falcoNow('chart-2', { namespace: 'store', pod: 'api', priority: 'Warning' }));
    await rig.ingest(
      '/v1/events/falco',
      falcoNow('chart-3', { namespace: 'store', pod: 'db', priority: 'Warning', rule: 'Read sensitive file untrusted' }),
    );
    await s.page.getByTestId('nav-charts').click();
    await s.page.waitForURL(/\/ui\/charts/);
    for (const id of ['chart-over-time', 'chart-top-rules', 'chart-top-namespaces', 'chart-top-users']) {
      await s.page.getByTestId(id).locator('canvas').waitFor();
    }
    await s.page.waitForTimeout(500); // Chart.js animates the first draw
    await screenshot(s.page, 'charts');
    // Each chart's numbers, as its "Show as a table" gives them (what the canvas draws).
    const table = async (id: string) => {
      const rows = s.page.getByTestId(id).locator('tbody tr');
      return Object.fromEntries(
        await rows.evaluateAll((trs) =>
          trs.map((tr) => {
            const t = tr as unknown as { querySelector(q: string): { textContent: string | null } | null };
            return [t.querySelector('th')?.textContent?.trim(), t.querySelector('td')?.textContent?.trim()];
          }),
        ),
      ) as Record<string, string>;
    };
    await eventually(async () => expect(await table('chart-top-namespaces')).toEqual({ store: '2', shop: '1' }), 10_000);
    expect(await table('chart-top-rules')).toEqual({ 'Terminal shell in container': '2', 'Read sensitive file untrusted': '1' });
    expect(await table('chart-top-users')).toEqual({ root: '3' });
  });
});
