import { resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RunningFalconer } from '../../src/app';
import { launchBrowser, screenshot } from './browser';
import { falcoEvent, sample } from './events';
import { post, startTestFalconer, TEST_TOKEN } from './falconer';
import { FakeSlack } from './slack-server';

const FIXTURES = resolve(__dirname, '..', 'fixtures');

/** Tokens the console is signed in with: `read` only, `read` + `admin`, and one that may only ingest. */
export const VIEWER_TOKEN = 'viewer-token-0123456789abcdef';
export const ADMIN_TOKEN = 'admin-token-0123456789abcdef0';
export const INGEST_ONLY_TOKEN = 'ingest-token-0123456789abcdef';

/**
 * What the browser tests run against: a real Falconer on a loopback port (the console at /ui, served
 * from dist/ui), its Slack receiver pointed at the local Slack-compatible server, and a cluster state
 * from snapshots: the shop namespace the sample events happen in and the `store` namespace with four
 * pods and their NetworkPolicies (test/fixtures/console/store-network.json) for the network graph.
 */
export interface ConsoleRig {
  falconer: RunningFalconer;
  slack: FakeSlack;
  url: string;
  /** POSTs a body to an ingest path (`/v1/events/falco`, `/v1/events/audit`) with the ingest token. */
  ingest(path: string, body: unknown): Promise<void>;
  stop(): Promise<void>;
}

export async function startConsoleRig(config: Record<string, unknown> = {}): Promise<ConsoleRig> {
  const slack = new FakeSlack();
  const apiUrl = await slack.start();
  const falconer = await startTestFalconer({
    cluster: 'prod',
    auth: {
      tokens: [
        { name: 'viewer', token: VIEWER_TOKEN, scopes: ['read'] },
        { name: 'admin', token: ADMIN_TOKEN, scopes: ['read', 'admin'] },
        { name: 'shipper', token: INGEST_ONLY_TOKEN, scopes: ['ingest'] },
      ],
    },
    receivers: [{ type: 'slack', name: 'sec', token: 'xoxb-console-test', channel: '#security', apiUrl }],
    enrichment: {
      snapshots: [resolve(FIXTURES, 'cluster', 'snapshot.json'), resolve(FIXTURES, 'console', 'store-network.json')],
      waitForStateMs: 0, // every pod the tests name is in the snapshots, or nowhere
    },
    ...config,
  });
  return {
    falconer,
    slack,
    url: falconer.url,
    async ingest(path, body) {
      const res = await post(`${falconer.url}${path}`, typeof body === 'string' ? body : JSON.stringify(body), {
        authorization: `Bearer ${TEST_TOKEN}`,
      });
      if (res.status !== 202) throw new Error(`POST ${path} answered ${res.status}: ${JSON.stringify(res.json)}`);
    },
    async stop() {
      await falconer.stop();
      await slack.stop();
    },
  };
}

/** One browser per suite, a new context (cookies, storage) per test. */
export interface BrowserSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** alert() / confirm() dialogs the page opened: an injected script would show up here. */
  dialogs: string[];
  /** Uncaught page errors and console errors (a CSP violation is one), failed requests with their URL. */
  errors: string[];
}

export async function openBrowser(): Promise<Browser> {
  return launchBrowser();
}

export async function newSession(browser: Browser, baseURL: string): Promise<BrowserSession> {
  const context = await browser.newContext({ baseURL, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const dialogs: string[] = [];
  const errors: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // Failed requests are reported below with their URL.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    const url = new URL(r.url());
    // The SPA asks whether it has a session at load; before sign-in the answer is 401.
    if (r.status() === 401 && url.pathname === '/ui/session' && r.request().method() === 'GET') return;
    if (r.status() >= 400) errors.push(`${r.status()} ${r.request().method()} ${url.pathname}${url.search}`);
  });
  return { browser, context, page, dialogs, errors };
}

/** Signs in through the form on /ui/ and waits for the header to name the token. */
export async function signIn(page: Page, token: string, name: string): Promise<void> {
  await page.goto('/ui/');
  await page.getByTestId('signin-token').fill(token);
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('whoami').filter({ hasText: name }).waitFor();
}

export { screenshot };

/** A Falco event (as Falcosidekick posts it) that happened just now, in `namespace/pod`. */
export function falcoNow(
  id: string,
  where: { namespace: string; pod: string; rule?: string; priority?: string; command?: string },
): Record<string, unknown> {
  const now = Date.now();
  return falcoEvent({
    uuid: `console-${id}`,
    time: new Date(now).toISOString(),
    rule: where.rule ?? 'Terminal shell in container',
    priority: where.priority ?? 'Notice',
    output: `A shell was spawned in a container with an attached terminal (pod ${where.pod})`,
    output_fields: {
      'container.id': '734cfc07ae4d',
      'container.name': 'app',
      'evt.time': now * 1e6,
      'k8s.ns.name': where.namespace,
      'k8s.pod.name': where.pod,
      'proc.cmdline': where.command ?? 'bash',
      'proc.name': 'bash',
      'proc.pname': 'runc',
      'proc.tty': 34816,
      'user.name': 'root',
    },
  });
}

/**
 * The two halves of the samples' story, moved to just now: alice's `kubectl exec` into
 * shop/web-7c9f8d-abcde (the audit EventList's first item) and the Falco shell it opened a second later.
 */
export function execStoryNow(): {
  audit: Record<string, unknown>;
  falco: Record<string, unknown>;
  /** The EventList's other two items (a ClusterRoleBinding to cluster-admin, a privileged pod), a few seconds later. */
  rest: Record<string, unknown>;
} {
  const list = sample<{ items: Record<string, unknown>[] }>('audit-eventlist.json');
  const execAt = Date.now() - 1500;
  const exec = {
    ...list.items[0],
    auditID: `console-exec-${execAt}`,
    requestReceivedTimestamp: new Date(execAt).toISOString(),
    stageTimestamp: new Date(execAt + 30).toISOString(),
  };
  const falco = sample<Record<string, unknown>>('falco-terminal-shell.json');
  const shellAt = execAt + 1000;
  const rest = list.items.slice(1).map((item, i) => {
    const at = execAt + 3000 + i * 1000;
    return {
      ...item,
      auditID: `console-rest-${i}-${at}`,
      requestReceivedTimestamp: new Date(at).toISOString(),
      stageTimestamp: new Date(at + 20).toISOString(),
    };
  });
  return {
    rest: { ...list, items: rest },
    audit: { ...list, items: [exec] },
    falco: {
      ...falco,
      uuid: `console-shell-${shellAt}`,
      time: new Date(shellAt).toISOString(),
      output_fields: { ...(falco.output_fields as object), 'evt.time': shellAt * 1e6 },
    },
  };
}

/** Fills an input, or picks an option when the test id names a select. */
export async function setField(page: Page, testId: string, value: string, nth = 0): Promise<void> {
  const el = page.getByTestId(testId).nth(nth);
  if ((await el.evaluate((e) => e.tagName)) === 'SELECT') await el.selectOption(value);
  else await el.fill(value);
}

/** Picks priorities in `filter-priority`, a multiple select or a group of checkboxes with values. */
export async function setPriorities(page: Page, priorities: string[]): Promise<void> {
  const filter = page.getByTestId('filter-priority');
  if ((await filter.evaluate((e) => e.tagName)) === 'SELECT') {
    await filter.selectOption(priorities);
    return;
  }
  const boxes = filter.locator('input[type=checkbox]');
  for (let i = 0; i < (await boxes.count()); i++) {
    const box = boxes.nth(i);
    await box.setChecked(priorities.includes((await box.getAttribute('value')) ?? ''));
  }
}

/** The pod cell of every row in the alert list, in order. */
export async function listedPods(page: Page): Promise<string[]> {
  return page.getByTestId('alert-row').getByTestId('alert-pod').allTextContents();
}

/** Form controls on the page without an accessible name (a <label>, aria-label or aria-labelledby). */
export async function unlabelledControls(page: Page): Promise<string[]> {
  return page.locator('input:not([type=hidden]), select, textarea').evaluateAll((els) =>
    els
      .filter((e) => {
        const c = e as unknown as { labels?: { length: number } | null; getAttribute(n: string): string | null };
        return !(c.labels && c.labels.length > 0) && !c.getAttribute('aria-label') && !c.getAttribute('aria-labelledby');
      })
      .map((e) => (e as unknown as { outerHTML: string }).outerHTML.slice(0, 120)),
  );
}
