import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { constants, createGunzip, gzipSync } from 'node:zlib';
import { bodyEncoding, readBody } from '../../src/ingest/body';
import { PayloadTooLargeError } from '../../src/core/errors';

/** A request body stream with headers, fed by the test one chunk at a time. */
function fakeRequest(headers: Record<string, string>): PassThrough & IncomingMessage {
  return Object.assign(new PassThrough(), { headers }) as unknown as PassThrough & IncomingMessage;
}

describe('request bodies', () => {
  it('stops inflating a zip bomb as soon as its output passes the limit', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20), { level: 9 });
    let inflated = 0;
    const counting = () => {
      const gunzip = createGunzip();
      gunzip.on('data', (chunk: Buffer) => (inflated += chunk.length));
      return gunzip;
    };
    const req = fakeRequest({ 'content-encoding': 'gzip' });
    const outcome = readBody(req, 64 * 1024, 'gzip', counting).then(
      () => 'resolved',
      (err: unknown) => err,
    );
    req.end(bomb); // all of it at once: the sender is not the one who stops
    expect(await outcome).toBeInstanceOf(PayloadTooLargeError);
    await new Promise((r) => setTimeout(r, 50)); // anything zlib still had queued would show now
    expect(inflated).toBeGreaterThan(64 * 1024);
    expect(inflated).toBeLessThan(64 * 1024 + 2 * constants.Z_DEFAULT_CHUNK); // of 64 MiB
  });

  it('reads a gzip body split across many chunks', async () => {
    const text = JSON.stringify({ rule: 'r', padding: 'p'.repeat(50_000) });
    const zipped = gzipSync(text);
    const req = fakeRequest({ 'content-encoding': 'gzip' });
    const result = readBody(req, 64 * 1024);
    for (let i = 0; i < zipped.length; i += 7) req.write(zipped.subarray(i, i + 7));
    req.end();
    await expect(result).resolves.toBe(text);
  });

  it.each([
    [undefined, 'identity'],
    ['identity', 'identity'],
    [' Gzip ', 'gzip'],
    ['x-gzip', 'gzip'],
  ])('reads Content-Encoding %p as %s', (header, expected) => {
    expect(bodyEncoding(fakeRequest(header === undefined ? {} : { 'content-encoding': header }))).toBe(expected);
  });

  it.each(['br', 'deflate', 'gzip, identity', 'zstd'])('refuses Content-Encoding %p with 415', (header) => {
    expect(() => bodyEncoding(fakeRequest({ 'content-encoding': header }))).toThrow(expect.objectContaining({ status: 415 }));
  });
});
