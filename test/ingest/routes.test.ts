import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryBus } from '../../src/bus/memory';
import { systemClock } from '../../src/core/clock';
import { authenticator } from '../../src/ingest/auth';
import { claimKey, storeClaims } from '../../src/ingest/claims';
import { ingestHandlers } from '../../src/ingest/routes';
import { createMetrics } from '../../src/observability/metrics';
import { MemoryStateStore } from '../../src/store/memory';
import type { SecurityEvent } from '../../src/core/event';
import { falcoEvent, sample } from '../support/events';

/**
 * What ingest answers about each event when the bus cannot take it: the real memory bus, held full
 * by not consuming, and the real memory store holding the claims.
 */
describe('ingest: duplicates and claims', () => {
  let server: Server;
  let url: string;
  let bus: MemoryBus;
  let store: MemoryStateStore;
  const handled: SecurityEvent[] = [];

  beforeEach(async () => {
    bus = new MemoryBus(systemClock, { capacity: 2, batchSize: 16, retryDelayMs: 10 });
    store = new MemoryStateStore(systemClock);
    const handlers = ingestHandlers(
      {
        bus,
        authenticate: authenticator({ tokens: () => [], trustClientCertificates: false, open: true }),
        claims: storeClaims(store, { ttlMs: 60_000, onError: () => undefined }),
        metrics: createMetrics(),
      },
      { cluster: 'c', falcoBodyLimitBytes: 1 << 20, auditBodyLimitBytes: 1 << 20, maxJsonDepth: 64, maxFieldLength: 4096 },
    );
    server = createServer((req, res) => void (req.url!.startsWith('/falco') ? handlers.falco : handlers.audit)(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise((r) => server.close(r));
    await store.close();
  });

  const send = async (path: string, body: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    return { status: res.status, json: await res.json() };
  };
  const drain = async () => {
    await bus.consume(async (events) => void handled.push(...events));
    await bus.drain();
  };
  const audit = (auditID: string) => ({ ...sample<{ items: object[] }>('audit-eventlist.json').items[1], auditID });

  it('releases the claim of a Falco event the bus refused, so the retry is accepted, and only then a duplicate', async () => {
    expect((await send('/falco', falcoEvent({ uuid: 'a' }))).status).toBe(202);
    expect((await send('/falco', falcoEvent({ uuid: 'b' }))).status).toBe(202);
    const refused = await send('/falco', falcoEvent({ uuid: 'c' }));
    expect(refused.status).toBe(503);
    await drain();
    expect(await send('/falco', falcoEvent({ uuid: 'c' }))).toEqual({ status: 202, json: { accepted: 1, id: 'c' } });
    expect(await send('/falco', falcoEvent({ uuid: 'c' }))).toEqual({
      status: 202,
      json: { accepted: 0, duplicate: true, id: 'c' },
    });
    await bus.drain();
    expect(handled.filter((e) => e.id === 'c')).toHaveLength(1);
  });

  it('releases only the claims the refused batch made: a retry is accepted except what was already there', async () => {
    expect((await send('/audit', [audit('x')])).json).toMatchObject({ accepted: 1 });
    expect((await send('/audit', [audit('fill')])).json).toMatchObject({ accepted: 1 });
    const refused = await send('/audit', [audit('x'), audit('y')]); // x is a duplicate, y does not fit
    expect(refused.status).toBe(503);
    await drain();
    const retry = await send('/audit', [audit('x'), audit('y')]);
    expect(retry).toEqual({
      status: 202,
      json: { accepted: 1, duplicates: [{ index: 0, id: 'x/ResponseComplete' }], skipped: [] },
    });
  });

  it('accepts a retry that arrives while the first attempt is still publishing (it may fail), then calls it a duplicate', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const publish = bus.publish.bind(bus);
    bus.publish = async (events) => {
      await gate;
      return publish(events);
    };
    const first = send('/falco', falcoEvent({ uuid: 'slow' }));
    await new Promise((r) => setTimeout(r, 50));
    const meanwhile = send('/falco', falcoEvent({ uuid: 'slow' }));
    await new Promise((r) => setTimeout(r, 50));
    open();
    expect(await first).toEqual({ status: 202, json: { accepted: 1, id: 'slow' } });
    expect(await meanwhile).toEqual({ status: 202, json: { accepted: 1, id: 'slow' } });
    await new Promise((r) => setTimeout(r, 10)); // the confirmation follows the answer
    expect((await send('/falco', falcoEvent({ uuid: 'slow' }))).json).toEqual({ accepted: 0, duplicate: true, id: 'slow' });
  });

  it('accepts events when the store cannot record claims (the pipeline still drops redeliveries)', async () => {
    const errors: unknown[] = [];
    const failing = new MemoryStateStore(systemClock);
    failing.setIfAbsent = () => Promise.reject(new Error('store down'));
    const claims = storeClaims(failing, { ttlMs: 1000, onError: (err) => errors.push(err) });
    expect((await claims.claim({ source: 'falco', id: 'z', k8s: { cluster: 'c' } } as SecurityEvent)).outcome).toBe('claimed');
    expect(errors).toHaveLength(1);
    await failing.close();
  });

  it('keys a claim by a fixed-size hash of the id, whatever its length', () => {
    const key = claimKey({ source: 'falco', id: 'u'.repeat(1 << 20), k8s: { cluster: 'c' } } as SecurityEvent);
    expect(key).toMatch(/^ingested:falco:[A-Za-z0-9_-]{22}$/);
  });
});
