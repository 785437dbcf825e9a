import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Clock } from '../core/clock';
import { CsrfError, ForbiddenError, UnauthorizedError } from '../core/errors';
import { SCOPES, type DigestedToken, type Principal, type Scope } from '../ingest/auth';
import type { SessionBackend, SessionBounds, StoredSession } from './session-backends';

export const SESSION_COOKIE = 'falconer_session';
export const CSRF_HEADER = 'x-csrf-token';

export interface Session {
  name: string;
  /** The token's scopes at sign-in, without `ingest` (a cookie never ingests). */
  scopes: Scope[];
  csrf: string;
}

/**
 * Whether the token with this digest is configured right now and has the scope: the same answer the
 * bearer check gives, so a session whose token is revoked or rotated away stops working at once.
 */
export type TokenCheck = (digest: Buffer, scope: Scope) => Principal;

/** The bearer check's rules over a digest (src/ingest/auth.ts): constant-time, every token compared. */
export function tokenCheck(tokens: () => readonly DigestedToken[], open: boolean): TokenCheck {
  return (digest, scope) => {
    if (open) return { name: 'anonymous', scopes: SCOPES };
    let match: DigestedToken | undefined;
    for (const t of tokens()) if (timingSafeEqual(digest, t.digest) && !match) match = t;
    if (!match) throw new UnauthorizedError('the token of this console session is no longer valid: sign in again');
    if (!match.scopes.includes(scope)) throw new ForbiddenError(scope);
    return match;
  };
}

/** sha256 of a token, as the bearer check digests it. */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/**
 * Console sessions, server-side: the cookie holds only a random id (256 bits); the backend keeps
 * what it stands for under the id's hash, with the token's digest (never the token). Bounded by
 * count (the least recently used ends), and ended when unused for the idle time or at the absolute
 * time after sign-in, whichever comes first; both on the clock, so tests drive them virtually.
 */
export class SessionStore {
  constructor(
    private readonly backend: SessionBackend,
    private readonly clock: Clock,
    private readonly bounds: SessionBounds,
    private readonly check: TokenCheck,
  ) {}

  async create(principal: Principal, token: string): Promise<{ id: string; session: Session }> {
    const id = randomBytes(32).toString('base64url');
    const stored: StoredSession = {
      name: principal.name,
      scopes: principal.scopes.filter((s) => s !== 'ingest'),
      csrf: randomBytes(32).toString('base64url'),
      tokenDigest: tokenDigest(token).toString('base64url'),
      createdAt: this.clock.now(),
    };
    await this.backend.create(keyOf(id), stored, this.clock.now());
    return { id, session: view(stored) };
  }

  /** The live session for a cookie value, marked as used now. */
  async lookup(id: string): Promise<(Session & { tokenDigest: Buffer }) | undefined> {
    const now = this.clock.now();
    const stored = await this.backend.use(keyOf(id), now);
    if (!stored) return undefined;
    if (now - stored.createdAt >= this.bounds.absoluteMs) {
      await this.backend.delete(keyOf(id));
      return undefined;
    }
    return { ...view(stored), tokenDigest: Buffer.from(stored.tokenDigest, 'base64url') };
  }

  delete(id: string): Promise<boolean> {
    return this.backend.delete(keyOf(id));
  }

  size(): Promise<number> {
    return this.backend.size(this.clock.now());
  }

  /**
   * The cookie path of authentication, or undefined when it does not apply: a request with an
   * Authorization header, or one that needs `ingest`, goes to the bearer check unchanged (a cookie
   * never ingests). A cookie request is its session's token, re-checked for the scope, and must
   * carry the session's CSRF header unless it only reads.
   */
  authenticate(req: IncomingMessage, scope: Scope): Promise<Principal> | undefined {
    if (req.headers.authorization !== undefined || scope === 'ingest') return undefined;
    const id = sessionCookie(req);
    if (id === undefined) return undefined;
    return this.lookup(id).then(async (session) => {
      if (!session) throw new UnauthorizedError('the console session has ended: sign in again');
      if (!SAFE_METHODS.has(req.method ?? '') && !csrfMatches(req, session)) throw new CsrfError();
      try {
        return this.check(session.tokenDigest, scope);
      } catch (err) {
        if (err instanceof UnauthorizedError) await this.delete(id); // the token was revoked
        throw err;
      }
    });
  }
}

function view(s: StoredSession): Session {
  return { name: s.name, scopes: s.scopes as Scope[], csrf: s.csrf };
}

function keyOf(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

/** The session cookie's value, if the request carries a plausible one. */
export function sessionCookie(req: Pick<IncomingMessage, 'headers'>): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    return /^[A-Za-z0-9_-]{16,128}$/.test(value) ? value : undefined;
  }
  return undefined;
}

export function csrfMatches(req: Pick<IncomingMessage, 'headers'>, session: Pick<Session, 'csrf'>): boolean {
  const got = req.headers[CSRF_HEADER];
  if (typeof got !== 'string') return false;
  const a = Buffer.from(got);
  const b = Buffer.from(session.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The bearer check of a token on behalf of a request (a sign-in). */
export function authenticateToken(
  authenticate: (req: IncomingMessage, scope: Scope) => Principal,
  req: IncomingMessage,
  token: string,
  scope: Scope,
): Principal {
  const asBearer = { headers: { authorization: `Bearer ${token}` }, socket: req.socket } as unknown as IncomingMessage;
  return authenticate(asBearer, scope);
}
