import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { ForbiddenError, UnauthorizedError } from '../core/errors';

/** What a caller may do: send events, read alerts and dead letters, or change things (replay...). */
export const SCOPES = ['ingest', 'read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiToken {
  name: string;
  token: string;
  scopes: readonly Scope[];
}

/** Who a request was authenticated as; `name` is safe to log (it is never the token). */
export interface Principal {
  name: string;
  scopes: readonly Scope[];
}

export interface AuthOptions {
  /** The tokens valid right now (token files can change while running: this is read on every request). */
  tokens: () => readonly DigestedToken[];
  /** Accept a caller whose TLS client certificate the server verified (mutual TLS), with the `ingest` scope. */
  trustClientCertificates: boolean;
  /** No token is required at all (no token configured and `ingest.requireToken: false`): every caller has every scope. */
  open: boolean;
}

/** Throws 401 (no or unknown credentials) or 403 (valid, but without `scope`); returns who it was. */
export type Authenticate = (req: IncomingMessage, scope: Scope) => Principal;

export interface DigestedToken {
  name: string;
  digest: Buffer;
  scopes: readonly Scope[];
}

export const CLIENT_CERTIFICATE: Principal = { name: 'client-certificate', scopes: ['ingest'] };
const ANYONE: Principal = { name: 'anonymous', scopes: SCOPES };

export function digestTokens(tokens: readonly ApiToken[]): DigestedToken[] {
  return tokens.map(({ name, token, scopes }) => ({ name, digest: digest(token), scopes }));
}

/**
 * Authenticates a request and checks its scope: a verified client certificate (when mutual TLS is
 * configured) may ingest; otherwise the bearer token names the caller and its scopes. Tokens are
 * compared in constant time: both sides are hashed first, so neither the content nor the length of
 * a configured token leaks through timing, and every configured token is compared, so neither does
 * which one matched.
 */
export function authenticator({ tokens, trustClientCertificates, open }: AuthOptions): Authenticate {
  return (req, scope) => {
    const certified = trustClientCertificates && (req.socket as TLSSocket).authorized === true;
    if (certified && scope === 'ingest') return CLIENT_CERTIFICATE;
    if (open) return ANYONE;
    const header = req.headers.authorization;
    if (header === undefined) {
      if (certified) throw new ForbiddenError(scope);
      if (trustClientCertificates && tokens().length === 0)
        throw new UnauthorizedError('a verified client certificate is required');
      throw new UnauthorizedError();
    }
    if (header.length < 8 || header.slice(0, 7).toLowerCase() !== 'bearer ') throw new UnauthorizedError();
    const presented = digest(header.slice(7).trim());
    let match: DigestedToken | undefined;
    for (const t of tokens()) if (timingSafeEqual(presented, t.digest) && !match) match = t;
    if (!match) throw new UnauthorizedError();
    if (!match.scopes.includes(scope)) throw new ForbiddenError(scope);
    return match;
  };
}

/**
 * SHA-256 of a token, as a Buffer for `timingSafeEqual`. Taken as a binary (latin1) string and copied into a
 * Buffer: the one-shot `hash` with `'buffer'` output allocates its result in C++ and costs about
 * 1.1 µs per request against 0.45 µs this way (the same 32 bytes).
 */
function digest(s: string): Buffer {
  return Buffer.from(hash('sha256', s, 'binary'), 'binary');
}
