import type { IncomingMessage } from 'node:http';
import { VirtualClock } from '../../src/core/clock';
import { CsrfError, UnauthorizedError } from '../../src/core/errors';
import { authenticator, digestTokens } from '../../src/ingest/auth';
import { sessionCookie, SessionStore, withSessions } from '../../src/console/session';

const TOKEN = 'reader-token-0123456789abcdef';
const tokens = digestTokens([{ name: 'reader', token: TOKEN, scopes: ['read', 'ingest'] }]);

function req(method: string, headers: Record<string, string>): IncomingMessage {
  return { method, headers, socket: {} } as unknown as IncomingMessage;
}

describe('console session store', () => {
  const clock = new VirtualClock(1_000_000);
  const store = () => new SessionStore(clock, { max: 2, idleMs: 60_000, absoluteMs: 300_000 });

  it('hands out random ids and CSRF tokens, drops ingest from the scopes', () => {
    const s = store();
    const a = s.create({ name: 'reader', scopes: ['read', 'ingest'] }, TOKEN);
    const b = s.create({ name: 'reader', scopes: ['read'] }, TOKEN);
    expect(a.id).not.toBe(b.id);
    expect(a.session.csrf).not.toBe(b.session.csrf);
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.session.scopes).toEqual(['read']);
    expect(s.lookup(a.id)?.name).toBe('reader');
    expect(s.lookup(`${a.id}x`)).toBeUndefined();
  });

  it('ends sessions on idle and absolute expiry', () => {
    const s = store();
    const { id } = s.create({ name: 'r', scopes: ['read'] }, TOKEN);
    for (let i = 0; i < 4; i++) {
      clock.advance(59_000);
      expect(s.lookup(id)).toBeDefined();
    }
    clock.advance(59_000); // 295 s after sign-in
    expect(s.lookup(id)).toBeDefined();
    clock.advance(5_000);
    expect(s.lookup(id)).toBeUndefined();
    const idle = s.create({ name: 'r', scopes: ['read'] }, TOKEN);
    clock.advance(60_000);
    expect(s.lookup(idle.id)).toBeUndefined();
    expect(s.size).toBe(0);
  });

  it('parses only its own, well-formed cookie', () => {
    const id = 'A'.repeat(43);
    expect(sessionCookie(req('GET', { cookie: `other=1; falconer_session=${id}; x=y` }))).toBe(id);
    expect(sessionCookie(req('GET', { cookie: 'falconer_session=<script>' }))).toBeUndefined();
    expect(sessionCookie(req('GET', { cookie: 'xfalconer_session=' + id }))).toBeUndefined();
    expect(sessionCookie(req('GET', {}))).toBeUndefined();
  });
});

describe('withSessions', () => {
  const clock = new VirtualClock(0);
  let live = tokens;
  const base = authenticator({ tokens: () => live, trustClientCertificates: false, open: false });
  const sessions = new SessionStore(clock, { max: 10, idleMs: 60_000, absoluteMs: 600_000 });
  const auth = withSessions(base, sessions);

  it('lets a cookie read, needs the CSRF header to write, never ingests', () => {
    const { id, session } = sessions.create({ name: 'reader', scopes: ['read', 'ingest'] }, TOKEN);
    const cookie = `falconer_session=${id}`;
    expect(auth(req('GET', { cookie }), 'read').name).toBe('reader');
    expect(() => auth(req('POST', { cookie }), 'read')).toThrow(CsrfError);
    expect(auth(req('POST', { cookie, 'x-csrf-token': session.csrf }), 'read').name).toBe('reader');
    expect(() => auth(req('POST', { cookie, 'x-csrf-token': session.csrf }), 'ingest')).toThrow(UnauthorizedError);
    expect(() => auth(req('GET', { cookie: 'falconer_session=' + 'B'.repeat(43) }), 'read')).toThrow(UnauthorizedError);
    // A bearer token goes to the bearer check, cookie or not.
    expect(auth(req('POST', { authorization: `Bearer ${TOKEN}`, cookie }), 'ingest').name).toBe('reader');
  });

  it('ends the session when its token is revoked', () => {
    const { id } = sessions.create({ name: 'reader', scopes: ['read'] }, TOKEN);
    const cookie = `falconer_session=${id}`;
    live = [];
    expect(() => auth(req('GET', { cookie }), 'read')).toThrow(UnauthorizedError);
    live = tokens;
    expect(() => auth(req('GET', { cookie }), 'read')).toThrow(UnauthorizedError); // gone for good
  });
});
