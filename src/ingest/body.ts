import type { IncomingMessage } from 'node:http';
import { FalconerError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../core/errors';

/** `application/json`, optionally with parameters (`; charset=utf-8`), any case. */
export function requireJson(req: IncomingMessage): void {
  const type = req.headers['content-type'];
  const base = type?.split(';', 1)[0]!.trim().toLowerCase();
  if (base !== 'application/json') throw new UnsupportedMediaTypeError(type);
}

/**
 * Reads the body as UTF-8 up to `limit` bytes. A declared Content-Length over the limit is refused
 * before reading; a stream that grows past it is cut off as soon as it does, never buffered whole.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(new PayloadTooLargeError(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume(); // discard the rest; the answer goes out with Connection: close
        reject(new PayloadTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8'));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new FalconerError('request_aborted', `request body could not be read: ${err.message}`, 400));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
