import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningFalconer } from '../../src/app';
import { VirtualClock } from '../../src/core/clock';
import { falcoEvent, sampleText } from '../support/events';
import { startTestFalconer, TEST_TOKEN } from '../support/falconer';

const TOKENS = {
  ingest: 'ingest-only-token-0123456789',
  read: 'read-only-token-0123456789ab',
  admin: 'admin-only-token-0123456789a',
  all: TEST_TOKEN, // the quick start's single token: every scope
  unknown: 'not-a-configured-token-0123',
};
type Caller = keyof typeof TOKENS | 'none';

let uuid = 0;
const ROUTES: Record<string, { method: string; path: string; body?: () => string; ok: number }> = {
  'POST /v1/events/falco': {
    method: 'POST',
    path: '/v1/events/falco',
    body: () => JSON.stringify(falcoEvent({ uuid: `scope-${++uuid}` })),
    ok: 202,
  },
  'POST /v1/events/audit': { method: 'POST', path: '/v1/events/audit', body: () => sampleText('audit-eventlist.json'), ok: 202 },
  'POST /v1/events/falco/{cluster}': {
    method: 'POST',
    path: '/v1/events/falco/eu-1',
    body: () => JSON.stringify(falcoEvent({ uuid: `scope-${++uuid}` })),
    ok: 202,
  },
  'POST /v1/events/audit/{cluster}': {
    method: 'POST',
    path: '/v1/events/audit/eu-1',
    body: () => sampleText('audit-eventlist.json'),
    ok: 202,
  },
  'GET /v1/alerts': { method: 'GET', path: '/v1/alerts', ok: 200 },
  'GET /v1/alerts/{fingerprint}': { method: 'GET', path: '/v1/alerts/nope', ok: 404 },
  'GET /v1/dead-letters': { method: 'GET', path: '/v1/dead-letters', ok: 200 },
  'POST /v1/dead-letters/replay': { method: 'POST', path: '/v1/dead-letters/replay', ok: 202 },
  'GET /v1/events/dead-letters': { method: 'GET', path: '/v1/events/dead-letters', ok: 200 },
  'POST /v1/events/dead-letters/replay': { method: 'POST', path: '/v1/events/dead-letters/replay', ok: 202 },
  'GET /v1/silences': { method: 'GET', path: '/v1/silences', ok: 200 },
  'POST /v1/silences': {
    method: 'POST',
    path: '/v1/silences',
    body: () =>
      JSON.stringify({
        matchers: [{ name: 'pod', value: 'p', isRegex: false, isEqual: true }],
        endsAt: new Date(Date.now() + 3_600_000).toISOString(),
        createdBy: 'scopes',
        comment: 'test',
      }),
    ok: 200,
  },
  'DELETE /v1/silences/{id}': { method: 'DELETE', path: '/v1/silences/nope', ok: 404 },
  // Public (Slack signs it instead of a token); not configured here, so no such endpoint.
  'POST /v1/slack/interactivity': { method: 'POST', path: '/v1/slack/interactivity', body: () => 'payload=%7B%7D', ok: 404 },
  'GET /v1/console/alerts': { method: 'GET', path: '/v1/console/alerts', ok: 200 },
  'GET /v1/console/alerts/{fingerprint}': { method: 'GET', path: '/v1/console/alerts/nope', ok: 404 },
  'GET /v1/console/stats': { method: 'GET', path: '/v1/console/stats', ok: 200 },
  'POST /v1/console/silences/preview': {
    method: 'POST',
    path: '/v1/console/silences/preview',
    body: () => JSON.stringify({ matchers: [{ name: 'pod', value: 'p', isRegex: false, isEqual: true }] }),
    ok: 200,
  },
  'GET /v1/posture/network/graph': { method: 'GET', path: '/v1/posture/network/graph?namespace=shop&cluster=nowhere', ok: 404 },
  // The console's sign-in checks the token in its body; without a cookie GET answers 401 to anyone.
  'GET /ui/session': { method: 'GET', path: '/ui/session', ok: 401 },
  'GET /metrics': { method: 'GET', path: '/metrics', ok: 200 },
  'GET /healthz': { method: 'GET', path: '/healthz', ok: 200 },
};

/** route → status for each caller: none, unknown, ingest, read, admin, all. */
const TABLE: [string, number, number, number, number, number, number][] = [
  //                              none unknown ingest read admin all
  ['POST /v1/events/falco', 401, 401, 202, 403, 403, 202],
  ['POST /v1/events/audit', 401, 401, 202, 403, 403, 202],
  ['POST /v1/events/falco/{cluster}', 401, 401, 202, 403, 403, 202],
  ['POST /v1/events/audit/{cluster}', 401, 401, 202, 403, 403, 202],
  ['GET /v1/alerts', 401, 401, 403, 200, 403, 200],
  ['GET /v1/alerts/{fingerprint}', 401, 401, 403, 404, 403, 404],
  ['GET /v1/dead-letters', 401, 401, 403, 200, 403, 200],
  ['POST /v1/dead-letters/replay', 401, 401, 403, 403, 202, 202],
  ['GET /v1/events/dead-letters', 401, 401, 403, 200, 403, 200],
  ['POST /v1/events/dead-letters/replay', 401, 401, 403, 403, 202, 202],
  ['GET /v1/silences', 401, 401, 403, 200, 403, 200],
  ['POST /v1/silences', 401, 401, 403, 403, 200, 200],
  ['DELETE /v1/silences/{id}', 401, 401, 403, 403, 404, 404],
  ['POST /v1/slack/interactivity', 404, 404, 404, 404, 404, 404],
  ['GET /v1/console/alerts', 401, 401, 403, 200, 403, 200],
  ['GET /v1/console/alerts/{fingerprint}', 401, 401, 403, 404, 403, 404],
  ['GET /v1/console/stats', 401, 401, 403, 200, 403, 200],
  ['POST /v1/console/silences/preview', 401, 401, 403, 403, 200, 200],
  ['GET /v1/posture/network/graph', 401, 401, 403, 404, 403, 404],
  ['GET /ui/session', 401, 401, 401, 401, 401, 401],
  ['GET /metrics', 200, 200, 200, 200, 200, 200],
  ['GET /healthz', 200, 200, 200, 200, 200, 200],
];
const CALLERS: Caller[] = ['none', 'unknown', 'ingest', 'read', 'admin', 'all'];

describe('API token scopes: every route × every scope', () => {
  let f: RunningFalconer;
  beforeAll(async () => {
    f = await startTestFalconer({
      auth: {
        tokens: [
          { name: 'falco', token: TOKENS.ingest, scopes: ['ingest'] },
          { name: 'dashboard', token: TOKENS.read, scopes: ['read'] },
          { name: 'ops', token: TOKENS.admin, scopes: ['admin'] },
        ],
      },
    });
  });
  afterAll(() => f.stop());

  const call = async (route: string, caller: Caller) => {
    const r = ROUTES[route]!;
    const res = await fetch(`${f.url}${r.path}`, {
      method: r.method,
      ...(r.body ? { body: r.body() } : {}),
      headers: {
        'content-type': 'application/json',
        ...(caller === 'none' ? {} : { authorization: `Bearer ${TOKENS[caller]}` }),
      },
    });
    const text = await res.text();
    return { status: res.status, text };
  };

  it.each(TABLE.flatMap(([route, ...statuses]) => CALLERS.map((caller, i) => [route, caller, statuses[i]!] as const)))(
    '%s with %s token → %i',
    async (route, caller, expected) => {
      const { status, text } = await call(route, caller);
      expect(status).toBe(expected);
      if (status === 403) expect(JSON.parse(text)).toMatchObject({ error: 'forbidden', message: expect.stringMatching(/scope/) });
      if (status === 401) expect(JSON.parse(text)).toMatchObject({ error: 'unauthorized' });
    },
  );

  it('never says which token was close: unknown and malformed tokens get the same 401', async () => {
    for (const authorization of ['Bearer ', `Bearer ${TOKENS.read}x`, `Basic ${TOKENS.read}`, 'Bearer']) {
      const res = await fetch(`${f.url}/v1/alerts`, { headers: { authorization } });
      expect(res.status).toBe(401);
    }
  });

  it('does not mistake a differently cased or slashed path for a public one', async () => {
    for (const path of ['/V1/alerts', '/v1/alerts/', '/v1/ALERTS', '/Metrics/../v1/alerts']) {
      const res = await fetch(`${f.url}${path}`, { headers: { authorization: `Bearer ${TOKENS.ingest}` } });
      expect([403, 404]).toContain(res.status);
    }
  });
});

describe('API tokens from files: rotation without downtime', () => {
  const dir = mkdtempSync(join(tmpdir(), 'falconer-tokens-'));
  const file = join(dir, 'falco.token');
  const OLD = 'old-rotating-token-0123456789';
  const NEW = 'new-rotating-token-0123456789';
  const clock = new VirtualClock(Date.now());
  const onGeneratedToken = jest.fn();
  let f: RunningFalconer;
  beforeAll(async () => {
    writeFileSync(file, `${OLD}\n`);
    f = await startTestFalconer(
      {
        ingest: { token: undefined },
        auth: { tokens: [{ name: 'falco', tokenFile: file, scopes: ['ingest'] }], tokenFileCheckSeconds: 5 },
      },
      { clock, onGeneratedToken },
    );
  });
  afterAll(() => f.stop());

  const send = async (token: string) =>
    (
      await fetch(`${f.url}/v1/events/falco`, {
        method: 'POST',
        body: JSON.stringify(falcoEvent({ uuid: `rot-${++uuid}` })),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      })
    ).status;

  it('takes old and new while the file lists both, then only the new one, re-reading it on the configured period', async () => {
    expect([await send(OLD), await send(NEW)]).toEqual([202, 401]);
    writeFileSync(file, `# rotating falco's token\n${OLD}\n${NEW}\n`);
    expect(await send(NEW)).toBe(401); // not re-read yet
    clock.advance(5000);
    expect([await send(OLD), await send(NEW)]).toEqual([202, 202]);
    writeFileSync(file, `${NEW}\n`);
    clock.advance(5000);
    expect([await send(OLD), await send(NEW)]).toEqual([401, 202]);
  });

  it('keeps the last good tokens when the file is emptied or half-written', async () => {
    writeFileSync(file, '\n');
    clock.advance(5000);
    expect(await send(NEW)).toBe(202);
    writeFileSync(file, 'short\n');
    clock.advance(5000);
    expect(await send(NEW)).toBe(202);
  });

  it('generates no token when named tokens are configured', () => {
    expect(f.token).toBeUndefined();
    expect(onGeneratedToken).not.toHaveBeenCalled();
  });
});

describe('no token required (ingest.requireToken: false, nothing configured)', () => {
  let f: RunningFalconer;
  beforeAll(async () => {
    f = await startTestFalconer({ ingest: { token: undefined, requireToken: false } });
  });
  afterAll(() => f.stop());

  it('lets every caller use every route, as before scopes', async () => {
    expect(f.token).toBeUndefined();
    const ingest = await fetch(`${f.url}/v1/events/falco`, {
      method: 'POST',
      body: JSON.stringify(falcoEvent({ uuid: 'open-1' })),
      headers: { 'content-type': 'application/json' },
    });
    expect(ingest.status).toBe(202);
    expect((await fetch(`${f.url}/v1/alerts`)).status).toBe(200);
    expect((await fetch(`${f.url}/v1/dead-letters/replay`, { method: 'POST' })).status).toBe(202);
  });
});

describe('no token required, but named tokens configured', () => {
  let f: RunningFalconer;
  beforeAll(async () => {
    f = await startTestFalconer({
      ingest: { token: undefined, requireToken: false },
      auth: { tokens: [{ name: 'reader', token: TOKENS.read, scopes: ['read'] }] },
    });
  });
  afterAll(() => f.stop());

  it('still needs a token: configuring one means callers are told apart', async () => {
    expect((await fetch(`${f.url}/v1/alerts`)).status).toBe(401);
    expect((await fetch(`${f.url}/v1/alerts`, { headers: { authorization: `Bearer ${TOKENS.read}` } })).status).toBe(200);
  });
});
