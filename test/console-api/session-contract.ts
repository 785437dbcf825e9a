import type { IncomingMessage } from 'node:http';
import { VirtualClock } from '../../src/core/clock';
import { CsrfError, ForbiddenError, UnauthorizedError } from '../../src/core/errors';
import { digestTokens, type DigestedToken } from '../../src/ingest/auth';
import type { SessionBackend, SessionBounds } from '../../src/console/session-backends';
import { SessionStore, tokenCheck } from '../../src/console/session';

export const TOKEN = 'reader-token-0123456789abcdef';
const OTHER = 'other-reader-token-0123456789';
const TOKENS = digestTokens([
  { name: 'reader', token: TOKEN, scopes: ['read', 'ingest'] },
  { name: 'other', token: OTHER, scopes: ['read'] },
]);

export function req(method: string, headers: Record<string, string>): IncomingMessage {
  return { method, headers, socket: {} } as unknown as IncomingMessage;
}

/** What every session backend must do, through the session store; `make` gives a fresh, empty backend. */
export function sessionContract(name: string, make: (bounds: SessionBounds) => SessionBackend): void {
  describe(`console sessions: ${name}`, () => {
    const bounds = { max: 3, maxPerToken: 3, idleMs: 60_000, absoluteMs: 300_000 };
    let clock: VirtualClock;
    let live: readonly DigestedToken[];
    let store: SessionStore;
    beforeEach(() => {
      clock = new VirtualClock(1_000_000);
      live = TOKENS;
      store = new SessionStore(
        make(bounds),
        clock,
        bounds,
        tokenCheck(() => live, false),
      );
    });

    it('hands out random ids and CSRF tokens, and drops ingest from the scopes', async () => {
      const a = await store.create({ name: 'reader', scopes: ['read', 'ingest'] }, TOKEN);
      const b = await store.create({ name: 'reader', scopes: ['read'] }, TOKEN);
      expect(a.id).not.toBe(b.id);
      expect(a.session.csrf).not.toBe(b.session.csrf);
      expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(a.session.scopes).toEqual(['read']);
      expect((await store.lookup(a.id))?.name).toBe('reader');
      expect(await store.lookup(`${a.id}x`)).toBeUndefined();
      expect(await store.size()).toBe(2);
    });

    it('ends a session when idle, and at the absolute time however busy', async () => {
      const busy = await store.create({ name: 'r', scopes: ['read'] }, TOKEN);
      for (let i = 0; i < 5; i++) {
        clock.advance(59_000);
        expect(await store.lookup(busy.id)).toBeDefined();
      }
      clock.advance(5_000); // 300 s after sign-in
      expect(await store.lookup(busy.id)).toBeUndefined();
      const idle = await store.create({ name: 'r', scopes: ['read'] }, TOKEN);
      clock.advance(60_000);
      expect(await store.lookup(idle.id)).toBeUndefined();
      expect(await store.size()).toBe(0);
    });

    it('keeps at most max sessions: the least recently used ends', async () => {
      const s = [];
      for (let i = 0; i < 3; i++) {
        s.push(await store.create({ name: `r${i}`, scopes: ['read'] }, TOKEN));
        clock.advance(1000);
      }
      expect(await store.lookup(s[0]!.id)).toBeDefined();
      clock.advance(1000);
      await store.create({ name: 'r3', scopes: ['read'] }, TOKEN);
      expect(await store.lookup(s[1]!.id)).toBeUndefined();
      expect(await store.lookup(s[0]!.id)).toBeDefined();
      expect(await store.lookup(s[2]!.id)).toBeDefined();
      expect(await store.size()).toBe(3);
    });

    it("keeps at most maxPerToken sessions of one token: that token's least recently used ends, no one else's", async () => {
      const tight = { max: 4, maxPerToken: 2, idleMs: 60_000, absoluteMs: 300_000 };
      const own = new SessionStore(
        make(tight),
        clock,
        tight,
        tokenCheck(() => live, false),
      );
      const signIn = () => own.create({ name: 'reader', scopes: ['read'] }, TOKEN);
      const other = await own.create({ name: 'other', scopes: ['read'] }, OTHER);
      clock.advance(1000);
      const a = await signIn();
      clock.advance(1000);
      const b = await signIn();
      clock.advance(1000);
      expect(await own.lookup(a.id)).toBeDefined(); // a is now used more recently than b
      clock.advance(1000);
      const c = await signIn();
      expect(await own.lookup(b.id)).toBeUndefined();
      expect(await own.lookup(a.id)).toBeDefined();
      expect(await own.lookup(c.id)).toBeDefined();
      for (let i = 0; i < 6; i++) {
        clock.advance(1000);
        await signIn();
      }
      expect(await own.lookup(other.id)).toBeDefined(); // never pushed out by the other token's sign-ins
      expect(await own.size()).toBe(3);
      await own.delete(other.id);
      const again = await own.create({ name: 'other', scopes: ['read'] }, OTHER); // a sign-out is not counted
      expect(await own.lookup(again.id)).toBeDefined();
      expect(await own.size()).toBe(3);
    });

    it('authenticates a cookie: reads, needs the CSRF header to write, never ingests, follows its token', async () => {
      const { id, session } = await store.create({ name: 'reader', scopes: ['read', 'ingest'] }, TOKEN);
      const cookie = `falconer_session=${id}`;
      expect((await store.authenticate(req('GET', { cookie }), 'read'))?.name).toBe('reader');
      await expect(store.authenticate(req('POST', { cookie }), 'read')).rejects.toThrow(CsrfError);
      expect((await store.authenticate(req('POST', { cookie, 'x-csrf-token': session.csrf }), 'read'))?.name).toBe('reader');
      await expect(store.authenticate(req('POST', { cookie, 'x-csrf-token': session.csrf }), 'admin')).rejects.toThrow(
        ForbiddenError,
      );
      expect(store.authenticate(req('POST', { cookie, 'x-csrf-token': session.csrf }), 'ingest')).toBeUndefined();
      expect(store.authenticate(req('GET', { cookie, authorization: `Bearer ${TOKEN}` }), 'read')).toBeUndefined();
      expect(store.authenticate(req('GET', {}), 'read')).toBeUndefined();
      await expect(store.authenticate(req('GET', { cookie: `falconer_session=${'B'.repeat(43)}` }), 'read')).rejects.toThrow(
        UnauthorizedError,
      );
      live = []; // the token is revoked: the session ends with it
      await expect(store.authenticate(req('GET', { cookie }), 'read')).rejects.toThrow(UnauthorizedError);
      live = TOKENS;
      await expect(store.authenticate(req('GET', { cookie }), 'read')).rejects.toThrow(UnauthorizedError);
    });

    it('signs out', async () => {
      const { id } = await store.create({ name: 'r', scopes: ['read'] }, TOKEN);
      expect(await store.delete(id)).toBe(true);
      expect(await store.lookup(id)).toBeUndefined();
      expect(await store.delete(id)).toBe(false);
    });
  });
}
