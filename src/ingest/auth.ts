import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { UnauthorizedError } from '../core/errors';

export interface AuthOptions {
  /** The bearer token callers present; undefined when tokens are not required. */
  token: string | undefined;
  /** Accept a caller whose TLS client certificate the server verified (mutual TLS) without a token. */
  trustClientCertificates: boolean;
}

/**
 * Authenticates a request: a verified client certificate (when mutual TLS is configured), else the
 * bearer token, compared in constant time — both sides are hashed first, so neither the content nor
 * the length of the configured token leaks through timing.
 */
export function authenticator({ token, trustClientCertificates }: AuthOptions): (req: IncomingMessage) => void {
  const expected = token === undefined ? undefined : digest(token);
  return (req) => {
    if (trustClientCertificates && (req.socket as TLSSocket).authorized === true) return;
    if (expected === undefined) {
      if (trustClientCertificates) throw new UnauthorizedError('a verified client certificate is required');
      return;
    }
    const header = req.headers.authorization;
    if (typeof header !== 'string' || header.length < 8 || header.slice(0, 7).toLowerCase() !== 'bearer ') {
      throw new UnauthorizedError();
    }
    if (!timingSafeEqual(digest(header.slice(7).trim()), expected)) throw new UnauthorizedError();
  };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
