import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { bodyEncoding, readBody } from '../../src/ingest/body';
import { PayloadTooLargeError } from '../../src/core/errors';

/** A request body stream with headers, fed by the test one chunk at a time. */
function fakeRequest(headers: Record<string, string>): PassThrough & IncomingMessage {
  return Object.assign(new PassThrough(), { headers }) as unknown as PassThrough & IncomingMessage;
}

describe('request bodies', () => {
  it('stops inflating a zip bomb as soon as its output passes the limit, long before its input ends', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20), { level: 9 });
    const req = fakeRequest({ 'content-encoding': 'gzip' });
    let settled = false;
    const outcome = readBody(req, 64 * 1024).then(
      () => 'resolved',
      (err: unknown) => err,
    );
    void outcome.then(() => (settled = true));
    let fed = 0;
    while (!settled && fed < bomb.length) {
      const more = req.write(bomb.subarray(fed, fed + 1024)); // a socket honours back-pressure: so does this sender

      fed += 1024;
      if (!more) await Promise.race([new Promise((r) => req.once('drain', r)), outcome]);
      else await new Promise((r) => setImmediate(r));
    }
    expect(await outcome).toBeInstanceOf(PayloadTooLargeError);
    expect(fed).toBeLessThan(bomb.length / 2); // it gave up after the first buffers' worth of ~64 KB
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
