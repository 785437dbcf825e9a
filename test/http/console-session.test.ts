import { request } from 'node:https';
import type { RunningFalconer } from '../../src/app';
import { VirtualClock } from '../../src/core/clock';
import { falcoEvent } from '../support/events';
import { eventually, startTestFalconer } from '../support/falconer';
import { testCertificates } from '../support/certs';

const TOKENS = {
  ingest: 'ingest-only-token-0123456789',
  read: 'read-only-token-0123456789ab',
  admin: 'admin-and-read-token-0123456',
};
const AUTH = {
  tokens: [
    { name: 'falco', token: TOKENS.ingest, scopes: ['ingest'] },
    { name: 'dashboard', token: TOKENS.read, scopes: ['read'] },
    { name: 'ops', token: TOKENS.admin, scopes: ['read', 'admin'] },
  ],
};

interface Reply {
  status: number;
  json: any;
  text: string;
  headers: Headers;
}

async function call(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Reply> {
  const { method = 'GET', headers = {}, body } = init;
  const res = await fetch(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

async function signIn(f: RunningFalconer, token: string) {
  const res = await call(`${f.url}/ui/session`, { method: 'POST', body: { token } });
  const setCookie = res.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0]!;
  return { res, setCookie, cookie, csrf: res.json?.csrf as string };
}

const silence = () => ({
  matchers: [{ name: 'namespace', value: 'shop', isRegex: false, isEqual: true }],
  endsAt: new Date(Date.now() + 3_600_000).toISOString(),
  createdBy: 'console',
  comment: 'from the console',
});

describe('console sessions', () => {
  let f: RunningFalconer;
  const clock = new VirtualClock(Date.parse('2026-01-10T10:00:00Z'));
  beforeAll(async () => {
    f = await startTestFalconer({ auth: AUTH, console: { sessions: { idleMinutes: 30, absoluteHours: 2, max: 3 } } }, { clock });
  });
  afterAll(() => f.stop());

  it('signs in with a read token: HttpOnly, SameSite=Strict cookie, no Secure without TLS, the CSRF token in the body', async () => {
    const { res, setCookie, cookie } = await signIn(f, TOKENS.read);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ name: 'dashboard', scopes: ['read'], csrf: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(setCookie).toMatch(/^falconer_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(setCookie).not.toContain(TOKENS.read);
    const again = await call(`${f.url}/ui/session`, { headers: { cookie } });
    expect(again.status).toBe(200);
    expect(again.json).toEqual(res.json);
    expect(again.headers.get('cache-control')).toBe('no-store');
  });

  it('refuses a bad token with 401 and a token without read with 403', async () => {
    const bad = await signIn(f, 'not-a-configured-token-0123');
    expect(bad.res.status).toBe(401);
    expect(bad.res.json.error).toBe('unauthorized');
    expect(bad.setCookie).toBe('');
    const ingestOnly = await signIn(f, TOKENS.ingest);
    expect(ingestOnly.res.status).toBe(403);
    expect(ingestOnly.res.json.error).toBe('forbidden');
    expect((await call(`${f.url}/ui/session`, { method: 'POST', body: { token: 42 } })).status).toBe(401);
    expect((await call(`${f.url}/ui/session`, { method: 'POST', body: '{not json' })).status).toBe(400);
    expect((await call(`${f.url}/ui/session`)).status).toBe(401);
    expect(
      (await call(`${f.url}/ui/session`, { headers: { cookie: 'falconer_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } }))
        .status,
    ).toBe(401);
  });

  it('reads with the cookie; writes need the CSRF header and the admin scope', async () => {
    const reader = await signIn(f, TOKENS.read);
    expect((await call(`${f.url}/v1/console/alerts`, { headers: { cookie: reader.cookie } })).status).toBe(200);
    expect((await call(`${f.url}/v1/console/alerts`)).status).toBe(401);

    const ops = await signIn(f, TOKENS.admin);
    expect(ops.res.json.scopes).toEqual(['read', 'admin']);
    const noCsrf = await call(`${f.url}/v1/silences`, { method: 'POST', headers: { cookie: ops.cookie }, body: silence() });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.json.error).toBe('csrf');
    const wrongCsrf = await call(`${f.url}/v1/silences`, {
      method: 'POST',
      headers: { cookie: ops.cookie, 'x-csrf-token': reader.csrf },
      body: silence(),
    });
    expect(wrongCsrf.json.error).toBe('csrf');
    const readerWrite = await call(`${f.url}/v1/silences`, {
      method: 'POST',
      headers: { cookie: reader.cookie, 'x-csrf-token': reader.csrf },
      body: silence(),
    });
    expect(readerWrite.status).toBe(403);
    expect(readerWrite.json.error).toBe('forbidden');
    const created = await call(`${f.url}/v1/silences`, {
      method: 'POST',
      headers: { cookie: ops.cookie, 'x-csrf-token': ops.csrf },
      body: silence(),
    });
    expect(created.status).toBe(200);
    expect(created.json.silenceID).toEqual(expect.any(String));
  });

  it('never lets a cookie ingest, whatever the token behind it', async () => {
    const ops = await signIn(f, TOKENS.admin);
    for (const path of ['/v1/events/falco', '/v1/events/audit', '/v1/events/falco/eu-1']) {
      const res = await call(`${f.url}${path}`, {
        method: 'POST',
        headers: { cookie: ops.cookie, 'x-csrf-token': ops.csrf },
        body: falcoEvent({ uuid: `cookie-${path}` }),
      });
      expect(res.status).toBe(401);
    }
    // Nor does a bearer token lose anything: the ingest token still ingests.
    const ok = await call(`${f.url}/v1/events/falco`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.ingest}` },
      body: falcoEvent({ uuid: 'bearer-still-works' }),
    });
    expect(ok.status).toBe(202);
  });

  it('signs out: the CSRF header is needed, the cookie is cleared and the session is gone server-side', async () => {
    const s = await signIn(f, TOKENS.read);
    expect((await call(`${f.url}/ui/session`, { method: 'DELETE', headers: { cookie: s.cookie } })).status).toBe(403);
    const out = await call(`${f.url}/ui/session`, { method: 'DELETE', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^falconer_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0$/);
    expect((await call(`${f.url}/ui/session`, { headers: { cookie: s.cookie } })).status).toBe(401);
    expect((await call(`${f.url}/v1/console/alerts`, { headers: { cookie: s.cookie } })).status).toBe(401);
  });

  it('ends a session after the idle time and after the absolute time, on the virtual clock', async () => {
    const idle = await signIn(f, TOKENS.read);
    clock.advance(29 * 60_000);
    expect((await call(`${f.url}/ui/session`, { headers: { cookie: idle.cookie } })).status).toBe(200);
    clock.advance(29 * 60_000); // used 29 min ago: still alive
    expect((await call(`${f.url}/ui/session`, { headers: { cookie: idle.cookie } })).status).toBe(200);
    clock.advance(30 * 60_000);
    expect((await call(`${f.url}/ui/session`, { headers: { cookie: idle.cookie } })).status).toBe(401);

    const busy = await signIn(f, TOKENS.read);
    for (let i = 0; i < 7; i++) {
      clock.advance(15 * 60_000);
      expect((await call(`${f.url}/v1/console/alerts`, { headers: { cookie: busy.cookie } })).status).toBe(200);
    }
    clock.advance(15 * 60_000); // 2 h after sign-in
    expect((await call(`${f.url}/v1/console/alerts`, { headers: { cookie: busy.cookie } })).status).toBe(401);
  });

  it('keeps at most console.sessions.max sessions: the least recently used one ends', async () => {
    const sessions = [];
    for (let i = 0; i < 3; i++) sessions.push(await signIn(f, TOKENS.read));
    await call(`${f.url}/ui/session`, { headers: { cookie: sessions[0]!.cookie } }); // now the most recently used
    const fourth = await signIn(f, TOKENS.read);
    const alive = async (c: string) => (await call(`${f.url}/ui/session`, { headers: { cookie: c } })).status;
    expect(await alive(sessions[1]!.cookie)).toBe(401);
    expect(await alive(sessions[0]!.cookie)).toBe(200);
    expect(await alive(sessions[2]!.cookie)).toBe(200);
    expect(await alive(fourth.cookie)).toBe(200);
  });

  it('returns hostile event strings as JSON data only', async () => {
    const hostile = '<img src=x onerror=alert(1)>';
    const res = await call(`${f.url}/v1/events/falco`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.ingest}` },
      body: falcoEvent({
        uuid: 'hostile-pod-0001',
        output_fields: {
          ...(falcoEvent().output_fields as object),
          'k8s.pod.name': hostile,
          'proc.cmdline': '</script><script>x()</script>',
        },
      }),
    });
    expect(res.status).toBe(202);
    const reader = await signIn(f, TOKENS.read);
    let list: Reply | undefined;
    await eventually(async () => {
      list = await call(`${f.url}/v1/console/alerts?pod=${encodeURIComponent(hostile)}`, { headers: { cookie: reader.cookie } });
      expect(list.json.items).toHaveLength(1);
    });
    expect(list!.headers.get('content-type')).toMatch(/^application\/json/);
    expect(list!.headers.get('x-content-type-options')).toBe('nosniff');
    expect(list!.json.items[0].pod).toBe(hostile);
    const detail = await call(`${f.url}/v1/console/alerts/${list!.json.items[0].fingerprint}`, {
      headers: { cookie: reader.cookie },
    });
    expect(detail.headers.get('content-type')).toMatch(/^application\/json/);
    expect(detail.json.alert.labels.pod).toBe(hostile);
    expect(detail.json.evidence[0].output_fields['k8s.pod.name']).toBe(hostile);
  });
});

describe('console sessions under TLS', () => {
  it('marks the cookie Secure', async () => {
    const certs = testCertificates();
    const f = await startTestFalconer({
      auth: AUTH,
      server: { tls: { certFile: certs.path('server.crt'), keyFile: certs.path('server.key') } },
    });
    try {
      const body = JSON.stringify({ token: TOKENS.read });
      const setCookie = await new Promise<string>((resolve, reject) => {
        const req = request(
          `${f.url}/ui/session`,
          { method: 'POST', ca: certs.read('ca.crt'), headers: { 'content-type': 'application/json' } },
          (res) => {
            res.resume();
            resolve(String(res.headers['set-cookie']?.[0] ?? ''));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      expect(setCookie).toMatch(/; HttpOnly; SameSite=Strict; Secure$/);
    } finally {
      await f.stop();
    }
  });
});
