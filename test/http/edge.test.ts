import { mkdtempSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { RunningFalconer } from '../../src/app';
import type { MemoryBus } from '../../src/bus/memory';
import type { SecurityEvent } from '../../src/core/event';
import { PROCESSED, seenKey } from '../../src/pipeline/seen';
import { falcoEvent, sample, sampleText } from '../support/events';
import { eventually, post, startTestFalconer, TEST_TOKEN } from '../support/falconer';

/** A raw TCP client: what a hostile or broken sender does, byte by byte. */
function open(url: string): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let data = '';
    const started = Date.now();
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', () => undefined); // a reset after the answer is one way to be closed
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - started)));
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

function trickle(socket: Socket, everyMs: number): () => void {
  const timer = setInterval(() => {
    if (!socket.destroyed && socket.writable) socket.write('x');
  }, everyMs);
  return () => clearInterval(timer);
}

function auditList(items: Record<string, unknown>[]): string {
  return JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items });
}

const execEvent = () => sample<{ items: Record<string, any>[] }>('audit-eventlist.json').items[0]!;

describe('HTTP edge: errors, slow senders, connection cap', () => {
  let f: RunningFalconer;
  const logged: string[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        logged.push(String(chunk));
        done();
      },
    });
    f = await startTestFalconer(
      {
        server: { headersTimeoutSeconds: 0.4, requestTimeoutSeconds: 0.6, maxConnections: 4 },
        ingest: { falcoBodyLimitBytes: 4096, auditBodyLimitBytes: 64 * 1024 },
        pipeline: { queueCapacity: 5 },
      },
      { logger: pino({ level: 'info' }, sink) },
    );
  });
  afterAll(() => f.stop());

  it('answers GET /v1/alerts/%zz with 401 to a stranger and 400 to a caller, never a 500 or a stack trace', async () => {
    const stranger = await fetch(`${f.url}/v1/alerts/%zz`);
    expect(stranger.status).toBe(401);
    expect(await stranger.json()).toMatchObject({ error: 'unauthorized' });
    const caller = await fetch(`${f.url}/v1/alerts/%zz`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    expect(caller.status).toBe(400);
    expect(await caller.json()).toEqual({ error: 'bad_request', message: 'request URL does not decode' });
    expect(logged.join('')).not.toMatch(/request failed|URIError|stack/);
  });

  it('closes the connection right after a 401 instead of reading a body sent a byte at a time', async () => {
    const c = await open(f.url);
    c.socket.write(
      'POST /v1/events/falco HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{',
    );
    const stop = trickle(c.socket, 20);
    const closedAfter = await c.closed;
    stop();
    expect(c.received()).toMatch(/^HTTP\/1\.1 401 /);
    expect(c.received()).toMatch(/connection: close/i);
    expect(closedAfter).toBeLessThan(500); // well before the request timeout (600 ms), and nowhere near node's 300 s
  });

  it('answers 408 and closes when an authenticated body takes longer than the request timeout', async () => {
    const c = await open(f.url);
    c.socket.write(
      `POST /v1/events/falco HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_TOKEN}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n{',
    );
    const stop = trickle(c.socket, 20);
    const closedAfter = await c.closed;
    stop();
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(c.received()).toContain('{"error":"request_timeout","message":"the request was not received in time"}');
    expect(closedAfter).toBeGreaterThanOrEqual(500);
    expect(closedAfter).toBeLessThan(3000); // requestTimeout 600 ms + node's check interval
  });

  it('closes a connection whose headers never finish within the headers timeout', async () => {
    const c = await open(f.url);
    c.socket.write('POST /v1/events/falco HTTP/1.1\r\nHost: x\r\n');
    const stop = setInterval(() => c.socket.writable && c.socket.write('X-Slow: 1\r\n'), 20);
    const closedAfter = await c.closed;
    clearInterval(stop);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(closedAfter).toBeLessThan(3000);
  });

  it.each([
    ['a malformed request line', 'GARBAGE\r\n\r\n', 400, 'bad_request'],
    [
      "headers over node's limit",
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
      431,
      'headers_too_large',
    ],
  ])('answers %s from the error catalogue, as JSON, and closes', async (_n, request, status, code) => {
    const c = await open(f.url);
    c.socket.write(request);
    await c.closed;
    expect(c.received()).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(JSON.parse(c.received().split('\r\n\r\n')[1]!)).toMatchObject({ error: code });
  });

  it('answers a malformed request that follows a finished one on the same keep-alive connection', async () => {
    const c = await open(f.url);
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(() => expect(c.received()).toMatch(/^HTTP\/1\.1 200 [\s\S]*\r\n\r\n\{/));
    await new Promise((r) => setTimeout(r, 20)); // the first response is finished and closed by now
    c.socket.write('GARBAGE\r\n\r\n');
    await c.closed;
    const second = c.received().slice(c.received().lastIndexOf('HTTP/1.1 '));
    expect(second).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(second.split('\r\n\r\n')[1]!)).toMatchObject({ error: 'bad_request' });
  });

  it('caps open connections: one over maxConnections is closed on arrival, and room frees when one goes', async () => {
    const held = await Promise.all([1, 2, 3, 4].map(() => open(f.url)));
    await new Promise((r) => setTimeout(r, 50)); // let the server count them
    const extra = await open(f.url);
    extra.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await extra.closed;
    expect(extra.received()).toBe('');
    held.forEach((h) => h.socket.destroy());
    await Promise.all(held.map((h) => h.closed));
    await eventually(async () => expect((await fetch(`${f.url}/healthz`)).status).toBe(200));
  });

  it('answers 413 to a batch with more events than the queue can ever hold, and takes one that fits', async () => {
    const items = (n: number, tag: string) =>
      Array.from({ length: n }, (_, i) => ({ ...execEvent(), auditID: `${tag}-${i}`, stage: 'ResponseComplete' }));
    const tooBig = await post(`${f.url}/v1/events/audit`, auditList(items(6, 'big')));
    expect(tooBig.status).toBe(413);
    expect(tooBig.json).toMatchObject({ error: 'batch_too_large' });
    expect(tooBig.json.message).toMatch(/capacity of 5/);
    const fits = await post(`${f.url}/v1/events/audit`, auditList(items(5, 'fits')));
    expect(fits.status).toBe(202);
    expect(fits.json.accepted).toBe(5);
    // The refused batch claimed nothing: sent again in two halves it is accepted, not "duplicate".
    const half = await post(`${f.url}/v1/events/audit`, auditList(items(6, 'big').slice(0, 3)));
    expect(half.json).toMatchObject({ accepted: 3, duplicates: [] });
  });

  it('processes the same auditID+stage once, even for two pods in one batch, and says which was the duplicate', async () => {
    const first = { ...execEvent(), auditID: 'twin-1' };
    const twin = { ...execEvent(), auditID: 'twin-1', objectRef: { ...execEvent().objectRef, name: 'other-pod' } };
    const r = await post(`${f.url}/v1/events/audit`, auditList([first, twin]));
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ accepted: 1, duplicates: [{ index: 1, id: 'twin-1/ResponseStarted' }], skipped: [] });
    await eventually(() => expect(f.recent.list().some((a) => a.event.id === 'twin-1/ResponseStarted')).toBe(true));
    expect(f.recent.list().filter((a) => a.event.audit?.objectRef?.name === 'other-pod')).toHaveLength(0);
  });
});

describe('HTTP edge: one store key per event for retry dedup and processing', () => {
  let f: RunningFalconer;
  beforeAll(async () => {
    f = await startTestFalconer();
  });
  afterAll(() => f.stop());

  it('marks the claimed key processed; a retry after that is a duplicate and is not processed again', async () => {
    const body = JSON.stringify(falcoEvent({ uuid: 'one-key-1' }));
    const url = `${f.url}/v1/events/falco?cluster=one`;
    expect((await post(url, body)).json).toEqual({ accepted: 1, id: 'one-key-1' });
    const key = seenKey({ source: 'falco', id: 'one-key-1', k8s: { cluster: 'one' } } as SecurityEvent);
    await eventually(async () => expect(await f.store.get(key)).toBe(PROCESSED));
    expect((await post(url, body)).json).toEqual({ accepted: 0, duplicate: true, id: 'one-key-1' });
    await (f.bus as MemoryBus).drain();
    expect(
      f.recent
        .list()
        .filter((a) => a.event.id === 'one-key-1')
        .map((a) => a.count),
    ).toEqual([1]);
  });
});

describe('HTTP edge: a batch the durable embedded queue can never hold', () => {
  let f: RunningFalconer;
  beforeAll(async () => {
    f = await startTestFalconer({ dataDir: mkdtempSync(join(tmpdir(), 'falconer-edge-')), pipeline: { queueCapacity: 3 } });
  });
  afterAll(() => f.stop());

  it('answers 413 with a data dir too', async () => {
    const items = Array.from({ length: 4 }, (_, i) => ({ ...execEvent(), auditID: `durable-${i}` }));
    const r = await post(`${f.url}/v1/events/audit`, auditList(items));
    expect(r.status).toBe(413);
    expect(r.json.message).toMatch(/capacity of 3/);
    expect((await post(`${f.url}/v1/events/audit`, auditList(items.slice(0, 3)))).json.accepted).toBe(3);
  });
});

describe('HTTP edge: compressed bodies', () => {
  let f: RunningFalconer;
  beforeAll(async () => {
    f = await startTestFalconer({ ingest: { falcoBodyLimitBytes: 4096, auditBodyLimitBytes: 64 * 1024 } });
  });
  afterAll(() => f.stop());

  it.each(['gzip', 'x-gzip', 'GZIP'])('accepts a Content-Encoding: %s body', async (coding) => {
    const body = gzipSync(JSON.stringify(falcoEvent({ uuid: `gz-${coding}` })));
    const r = await post(`${f.url}/v1/events/falco`, body, { 'content-encoding': coding });
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ accepted: 1, id: `gz-${coding}` });
  });

  it('accepts a gzip audit batch', async () => {
    const r = await post(`${f.url}/v1/events/audit`, gzipSync(sampleText('audit-eventlist.json')), {
      'content-encoding': 'gzip',
    });
    expect(r.status).toBe(202);
    expect(r.json.accepted + r.json.duplicates.length).toBe(3);
  });

  it('refuses a zip bomb with 413: small on the wire, far over the limit inflated', async () => {
    const bomb = gzipSync(Buffer.alloc(32 * 1024 * 1024, 0x20), { level: 9 }); // 32 MiB of spaces in ~32 KB
    expect(bomb.length).toBeLessThan(64 * 1024);
    const r = await post(`${f.url}/v1/events/audit`, bomb, { 'content-encoding': 'gzip' });
    expect(r.status).toBe(413);
    expect(r.json.message).toMatch(/decompressed request body exceeds the limit of 65536 bytes/);
  });

  it('answers 400 for a body that is not gzip at all', async () => {
    const r = await post(`${f.url}/v1/events/falco`, JSON.stringify(falcoEvent()), { 'content-encoding': 'gzip' });
    expect(r.status).toBe(400);
    expect(r.json.error).toBe('invalid_gzip');
  });

  it.each(['br', 'deflate', 'gzip, gzip', 'compress'])('answers 415 for Content-Encoding: %s', async (coding) => {
    const r = await post(`${f.url}/v1/events/falco`, JSON.stringify(falcoEvent()), { 'content-encoding': coding });
    expect(r.status).toBe(415);
    expect(r.json.error).toBe('unsupported_encoding');
  });

  it('still authenticates before it looks at the encoding', async () => {
    const r = await post(`${f.url}/v1/events/falco`, 'x', {
      'content-encoding': 'br',
      authorization: 'Bearer nope-nope-nope-nope',
    });
    expect(r.status).toBe(401);
  });
});
