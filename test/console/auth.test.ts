import type { Browser } from 'playwright-core';
import {
  ADMIN_TOKEN,
  INGEST_ONLY_TOKEN,
  newSession,
  openBrowser,
  screenshot,
  signIn,
  startConsoleRig,
  VIEWER_TOKEN,
  falcoNow,
  type BrowserSession,
  type ConsoleRig,
} from '../support/console';

/** Sign-in, the session cookie, logout and CSRF, in headless Chromium against a running Falconer. */
describe('console: signing in and out', () => {
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

  const sessionCookie = async () => (await s.context.cookies()).find((c) => c.name === 'falconer_session');

  it('signs in (by keyboard) with a read token under the strict CSP: an HttpOnly, SameSite=Strict session cookie, the name in the header', async () => {
    const page = await s.page.goto('/ui/');
    // The page runs under the strict policy (and a CSP violation would show up in s.errors below).
    const headers = page!.headers();
    expect(headers['content-security-policy']).toContain("script-src 'self'");
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['x-content-type-options']).toBe('nosniff');
    await s.page.getByTestId('signin-token').waitFor();
    await screenshot(s.page, 'signin');
    // By keyboard alone: the token field has the focus or is one Tab away, Enter submits.
    const focused = () =>
      s.page.evaluate(() =>
        (
          globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string | null } | null } }
        ).document.activeElement?.getAttribute('data-testid'),
      );
    for (let i = 0; i < 5 && (await focused()) !== 'signin-token'; i++) await s.page.keyboard.press('Tab');
    expect(await focused()).toBe('signin-token');
    await s.page.keyboard.type(VIEWER_TOKEN);
    await s.page.keyboard.press('Enter');
    await s.page.getByTestId('whoami').filter({ hasText: 'viewer' }).waitFor();
    await s.page.waitForURL(/\/ui\/alerts/);
    const cookie = await sessionCookie();
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/', secure: false });
    expect(cookie!.value).not.toContain(VIEWER_TOKEN); // a random session id, not the token
    // The page's scripts cannot read it.
    expect(
      await s.page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie),
    ).not.toContain('falconer_session');
    const me = await s.page.request.get('/ui/session');
    expect(me.status()).toBe(200);
    expect(await me.json()).toMatchObject({ name: 'viewer', scopes: ['read'] });
    expect(s.errors).toEqual([]);
  });

  it('refuses a bad token and a token without the read scope, and stays on the sign-in page', async () => {
    await s.page.goto('/ui/');
    await s.page.getByTestId('signin-token').fill('not-a-token-of-this-falconer');
    await s.page.getByTestId('signin-submit').click();
    await s.page.getByTestId('signin-error').waitFor();
    await screenshot(s.page, 'signin-refused');
    expect(await sessionCookie()).toBeUndefined();
    expect(await s.page.getByTestId('whoami').count()).toBe(0);

    await s.page.getByTestId('signin-token').fill(INGEST_ONLY_TOKEN);
    await s.page.getByTestId('signin-submit').click();
    await s.page.getByTestId('signin-error').waitFor();
    expect(await sessionCookie()).toBeUndefined();
    // The API behind the form answers as the contract says.
    const bad = await s.page.request.post('/ui/session', { data: { token: 'not-a-token-of-this-falconer' } });
    const scopeless = await s.page.request.post('/ui/session', { data: { token: INGEST_ONLY_TOKEN } });
    expect([bad.status(), scopeless.status()]).toEqual([401, 403]);
    // Without a session the API is closed to the browser.
    expect((await s.page.request.get('/v1/console/alerts')).status()).toBe(401);
  });

  it('logs out: back to sign-in, the cookie cleared, and the old session dead on the server', async () => {
    await signIn(s.page, VIEWER_TOKEN, 'viewer');
    const cookie = await sessionCookie();
    expect(cookie).toBeDefined();
    await s.page.getByTestId('logout').click();
    await s.page.getByTestId('signin-token').waitFor();
    expect(await sessionCookie()).toBeUndefined();
    // Replaying the old cookie from outside the browser gets nothing.
    const replay = await fetch(`${rig.url}/v1/console/alerts`, { headers: { cookie: `falconer_session=${cookie!.value}` } });
    expect(replay.status).toBe(401);
    await s.page.goto('/ui/alerts');
    await s.page.getByTestId('signin-token').waitFor();
  });

  it('refuses a cookie-authenticated POST without the X-CSRF-Token header, accepts it with, and never lets a cookie ingest', async () => {
    await signIn(s.page, ADMIN_TOKEN, 'admin');
    const silence = {
      matchers: [{ name: 'namespace', value: 'csrf-test', isRegex: false, isEqual: true }],
      startsAt: new Date().toISOString(),
      endsAt: new Date(Date.now() + 3_600_000).toISOString(),
      createdBy: 'console-e2e',
      comment: 'csrf test',
    };
    const without = await s.page.request.post('/v1/silences', { data: silence });
    expect(without.status()).toBe(403);
    expect((await without.json()).error).toBe('csrf');
    const wrong = await s.page.request.post('/v1/silences', { data: silence, headers: { 'x-csrf-token': 'guess' } });
    expect(wrong.status()).toBe(403);
    expect(await rig.falconer.silences.list()).toHaveLength(0);

    const { csrf } = (await (await s.page.request.get('/ui/session')).json()) as { csrf: string };
    const withHeader = await s.page.request.post('/v1/silences', { data: silence, headers: { 'x-csrf-token': csrf } });
    expect(withHeader.status()).toBeLessThan(300);
    const listed = await (await s.page.request.get('/v1/silences')).json();
    expect(JSON.stringify(listed)).toContain('csrf-test');

    // The session is an admin's, yet ingest stays bearer-only.
    const ingest = await s.page.request.post('/v1/events/falco', {
      data: falcoNow('cookie-ingest', { namespace: 'shop', pod: 'x' }),
      headers: { 'x-csrf-token': csrf },
    });
    expect([401, 403]).toContain(ingest.status());
  });
});
