import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { UnauthorizedError } from '../core/errors';

/**
 * Bearer-token check in constant time: both sides are hashed first, so neither the content nor the
 * length of the configured token leaks through timing.
 */
export function bearerAuth(token: string | undefined): (req: IncomingMessage) => void {
  if (token === undefined) return () => {};
  const expected = digest(token);
  return (req) => {
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
