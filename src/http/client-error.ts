import { STATUS_CODES, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { BadRequestError, HeadersTooLargeError, RequestTimeoutError, type FalconerError } from '../core/errors';
import { errorBody } from '../ingest/routes';

/**
 * The last response begun on each connection, so a late client error never writes into one still in
 * progress. A finished one is left in place until the next request replaces it (or the connection
 * goes): deleting it on its `close` and setting the key again with the next request cost 15–20 µs
 * of CPU per Falco event in the server (docs/performance.md § edge-again), far more than the listener
 * itself; overwriting the value costs next to nothing.
 */
const responding = new WeakMap<object, ServerResponse>();

/** Wraps the request listener to remember which response each connection began last. */
export function trackResponses(listener: RequestListener): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    responding.set(req.socket, res);
    listener(req, res);
  };
}

/** The response in progress on `socket`, if any: begun and neither finished nor closed. */
function inProgress(socket: Duplex): ServerResponse | undefined {
  const res = responding.get(socket);
  return res && !res.writableFinished && !res.closed ? res : undefined;
}

/**
 * The server's `clientError` listener: errors node's HTTP parser and timers raise before a request
 * reaches Falconer (a malformed request line, headers too large, a request too slow) are answered
 * from the error catalogue, as JSON, like every other error, and the connection is closed.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  const res = inProgress(socket);
  if (err.code === 'ECONNRESET' || !socket.writable || res?.headersSent) {
    socket.destroy();
    return;
  }
  const e = clientErrorOf(err);
  const body = errorBody(e);
  const head =
    `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}\r\n` +
    `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
  socket.end(head + body, () => socket.destroy());
}

function clientErrorOf(err: Error & { code?: string }): FalconerError {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new RequestTimeoutError();
  if (err.code === 'HPE_HEADER_OVERFLOW') return new HeadersTooLargeError();
  return new BadRequestError('malformed HTTP request');
}
