import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip, type Gunzip } from 'node:zlib';
import { FalconerError, PayloadTooLargeError, UnsupportedEncodingError, UnsupportedMediaTypeError } from '../core/errors';

/** `application/json`, optionally with parameters (`; charset=utf-8`), any case. */
export function requireJson(req: IncomingMessage): void {
  const type = req.headers['content-type'];
  if (type === 'application/json') return; // what senders send: no need to take it apart
  const base = type?.split(';', 1)[0]!.trim().toLowerCase();
  if (base !== 'application/json') throw new UnsupportedMediaTypeError(type);
}

export type BodyEncoding = 'identity' | 'gzip';

/** The body's `Content-Encoding`: none/`identity`, or `gzip` (`x-gzip`); anything else (and stacked codings) is a 415. */
export function bodyEncoding(req: IncomingMessage): BodyEncoding {
  const header = req.headers['content-encoding'];
  if (header === undefined) return 'identity';
  const coding = header.trim().toLowerCase();
  if (coding === '' || coding === 'identity') return 'identity';
  if (coding === 'gzip' || coding === 'x-gzip') return 'gzip';
  throw new UnsupportedEncodingError(header);
}

/**
 * Reads the body as UTF-8 up to `limit` bytes, both on the wire and after decompression. A declared
 * Content-Length over the limit is refused before reading; a stream that grows past it is cut off as
 * soon as it does, never buffered whole. A gzip body is inflated as it streams in and abandoned the
 * moment its output passes the limit, so a zip bomb costs at most `limit` plus one zlib chunk.
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  encoding: BodyEncoding = bodyEncoding(req),
  gunzip: () => Gunzip = createGunzip,
): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(new PayloadTooLargeError(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let wire = 0;
    let settled = false;
    const inflate = encoding === 'gzip' ? gunzip() : undefined;
    const finish = (err: FalconerError | undefined) => {
      if (settled) return;
      settled = true;
      req.off('data', onWire);
      req.off('end', onWireEnd);
      req.off('error', onError);
      if (inflate) {
        inflate.off('data', onData);
        inflate.off('end', onEnd);
        inflate.off('error', onInflateError);
        if (err) inflate.destroy();
      }
      if (!err) {
        resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8'));
        return;
      }
      req.resume(); // discard the rest; the answer goes out with Connection: close
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return finish(new PayloadTooLargeError(limit, inflate ? 'decompressed request body' : 'request body'));
      chunks.push(chunk);
    };
    const onEnd = () => finish(undefined);
    const onError = (err: Error) =>
      finish(new FalconerError('request_aborted', `request body could not be read: ${err.message}`, 400));
    const onInflateError = (err: Error) =>
      finish(new FalconerError('invalid_gzip', `gzip body does not inflate: ${err.message}`, 400));
    const onWire = (chunk: Buffer) => {
      wire += chunk.length;
      if (wire > limit) return finish(new PayloadTooLargeError(limit));
      if (!inflate) return onData(chunk);
      // Back-pressure: stop reading the socket while zlib works through what it has.
      if (!inflate.write(chunk)) {
        req.pause();
        inflate.once('drain', () => settled || req.resume());
      }
    };
    const onWireEnd = () => (inflate ? inflate.end() : onEnd());
    if (inflate) {
      inflate.on('data', onData);
      inflate.on('end', onEnd);
      inflate.on('error', onInflateError);
    }
    req.on('data', onWire);
    req.on('end', onWireEnd);
    req.on('error', onError);
  });
}

/**
 * An answer sent before the request body was read in full (401, 403, 413, 415...) closes the
 * connection once it is out: node would otherwise read, and wait for, the rest of a body nobody
 * wants before the connection could serve another request, however slowly the sender trickles it.
 */
export function closeIfUnread(req: IncomingMessage, res: ServerResponse): void {
  if (!req.complete && !res.headersSent) res.setHeader('connection', 'close');
}
