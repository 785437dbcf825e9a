import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Clock } from '../core/clock';
import { CsrfError, UnauthorizedError } from '../core/errors';
import type { Authenticate, Principal, Scope } from '../ingest/auth';

export const SESSION_COOKIE = 'falconer_session';
export const CSRF_HEADER = 'x-csrf-token';

export interface SessionOptions {
  max: number;
  idleMs: number;
  absoluteMs: number;
}

export interface Session {
  name: string;
  /** The token's scopes at sign-in, without `ingest` (a cookie never ingests). */
  scopes: Scope[];
  csrf: string;
  /** The token signed in with: every request re-checks it, so a revoked token ends its sessions. Never logged. */
  token: string;
  createdAt: number;
  usedAt: number;
}

/**
 * Console sessions, server-side: the cookie holds only a random id (256 bits); this keeps what it
 * stands for, keyed by the id's hash. Bounded: beyond `max` the least recently used session ends.
 * A session ends when unused for `idleMs` or `absoluteMs` after sign-in, whichever comes first.
 */
export class SessionStore {
  private readonly byHash = new Map<string, Session>();

  constructor(
    private readonly clock: Clock,
    private readonly options: SessionOptions,
  ) {}

  create(principal: Principal, token: string): { id: string; session: Session } {
    const id = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const session: Session = {
      name: principal.name,
      scopes: principal.scopes.filter((s) => s !== 'ingest'),
      csrf: randomBytes(32).toString('base64url'),
      token,
      createdAt: now,
      usedAt: now,
    };
    this.byHash.set(hashOf(id), session);
    while (this.byHash.size > this.options.max) this.byHash.delete(this.byHash.keys().next().value as string);
    return { id, session };
  }

  /** The live session for a cookie value, marked as used now; expired ones are removed. */
  lookup(id: string): Session | undefined {
    const key = hashOf(id);
    const session = this.byHash.get(key);
    if (!session) return undefined;
    const now = this.clock.now();
    if (now - session.usedAt >= this.options.idleMs || now - session.createdAt >= this.options.absoluteMs) {
      this.byHash.delete(key);
      return undefined;
    }
    session.usedAt = now;
    this.byHash.delete(key); // re-insert: Map order is least recently used first
    this.byHash.set(key, session);
    return session;
  }

  delete(id: string): boolean {
    return this.byHash.delete(hashOf(id));
  }

  get size(): number {
    return this.byHash.size;
  }
}

function hashOf(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

/** The session cookie's value, if the request carries exactly a plausible one. */
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

export function csrfMatches(req: Pick<IncomingMessage, 'headers'>, session: Session): boolean {
  const got = req.headers[CSRF_HEADER];
  if (typeof got !== 'string') return false;
  const a = Buffer.from(got);
  const b = Buffer.from(session.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** The bearer check of a token on behalf of a request (a sign-in, or a session re-checking its token). */
export function authenticateToken(authenticate: Authenticate, req: IncomingMessage, token: string, scope: Scope): Principal {
  const asBearer = { headers: { authorization: `Bearer ${token}` }, socket: req.socket } as unknown as IncomingMessage;
  return authenticate(asBearer, scope);
}

/**
 * The existing authenticator, plus the console's session cookie: a request with an Authorization
 * header, or one that needs `ingest`, goes to the bearer check unchanged (a cookie never ingests);
 * one with only a session cookie is its session's token, re-checked for the scope, and must carry
 * the CSRF header unless it only reads.
 */
export function withSessions(authenticate: Authenticate, sessions: SessionStore): Authenticate {
  return (req, scope) => {
    if (req.headers.authorization !== undefined || scope === 'ingest') return authenticate(req, scope);
    const id = sessionCookie(req);
    if (id === undefined) return authenticate(req, scope);
    const session = sessions.lookup(id);
    if (!session) throw new UnauthorizedError('the console session has ended: sign in again');
    if (!SAFE_METHODS.has(req.method ?? '') && !csrfMatches(req, session)) throw new CsrfError();
    try {
      return authenticateToken(authenticate, req, session.token, scope);
    } catch (err) {
      if (err instanceof UnauthorizedError) sessions.delete(id); // the token was revoked
      throw err;
    }
  };
}
