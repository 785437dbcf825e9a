import { request } from 'node:http';
import type { RunningFalconer } from '../../src/app';
import { MemoryBus } from '../../src/bus/memory';
import { falcoEvent, sampleText } from '../support/events';
import { post, startTestFalconer, TEST_TOKEN } from '../support/falconer';

describe('ingest HTTP contract', () => {
  let f: RunningFalconer;
  beforeAll(async () => {
    f = await startTestFalconer({ ingest: { falcoBodyLimitBytes: 4096, auditBodyLimitBytes: 64 * 1024, maxJsonDepth: 32 } });
  });
  afterAll(() => f.stop());

  const falco = (body: string | Buffer, headers?: Record<string, string>) => post(`${f.url}/v1/events/falco`, body, headers);
  const audit = (body: string | Buffer, headers?: Record<string, string>) => post(`${f.url}/v1/events/audit`, body, headers);

  it('accepts a Falcosidekick event with 202', async () => {
    const r = await falco(sampleText('falco-terminal-shell.json'));
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ accepted: 1, id: '5b1f0c2e-8a44-4c3e-9d1a-2f6f3b7e9a10' });
  });

  it('accepts an audit EventList and reports what it accepted', async () => {
    const r = await audit(sampleText('audit-eventlist.json'));
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ accepted: 3, duplicates: [], skipped: [] });
  });

  it.each([
    ['no Authorization header', {}],
    ['a wrong token', { authorization: 'Bearer wrong-token-wrong-token' }],
    ['a token with a different case of scheme and an extra char', { authorization: `Basic ${TEST_TOKEN}` }],
    ['a prefix of the token', { authorization: `Bearer ${TEST_TOKEN.slice(0, -1)}` }],
  ])('answers 401 for %s', async (_n, headers) => {
    const res = await fetch(`${f.url}/v1/events/falco`, {
      method: 'POST',
      body: JSON.stringify(falcoEvent()),
      headers: { 'content-type': 'application/json', ...headers },
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'unauthorized' });
  });

  it('accepts the bearer scheme in any case', async () => {
    expect((await falco(JSON.stringify(falcoEvent()), { authorization: `bearer ${TEST_TOKEN}` })).status).toBe(202);
  });

  it.each([['text/plain'], ['application/x-www-form-urlencoded'], ['']])('answers 415 for content-type %p', async (type) => {
    const r = await falco(JSON.stringify(falcoEvent()), { 'content-type': type });
    expect(r.status).toBe(415);
    expect(r.json.error).toBe('unsupported_media_type');
  });

  it('accepts application/json with a charset', async () => {
    expect((await falco(JSON.stringify(falcoEvent()), { 'content-type': 'Application/JSON; charset=utf-8' })).status).toBe(202);
  });

  it('answers 413 for a declared body over the limit', async () => {
    const r = await falco(JSON.stringify(falcoEvent({ output: 'x'.repeat(5000) })));
    expect(r.status).toBe(413);
    expect(r.json.error).toBe('payload_too_large');
  });

  it('answers 413 for a chunked body that grows over the limit, without reading it all', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(`${f.url}/v1/events/falco`);
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on('error', reject);
      req.write('{"output":"');
      const chunk = 'y'.repeat(1024);
      let sent = 0;
      const pump = () => {
        while (sent < 64) {
          sent++;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end('"}');
      };
      pump();
    });
    expect(status).toBe(413);
  });

  it.each([
    ['invalid JSON', '{"rule": ', 'invalid_json'],
    ['a JSON array for Falco', '[]', 'invalid_event'],
    ['a string', '"hello"', 'invalid_event'],
    ['a missing rule', JSON.stringify(falcoEvent({ rule: undefined })), 'invalid_event'],
    ['an unknown priority', JSON.stringify(falcoEvent({ priority: 'Loud' })), 'invalid_event'],
    ['deep nesting', '{"a":' + '['.repeat(100) + ']'.repeat(100) + '}', 'invalid_json'],
  ])('answers 400 with a reason for %s', async (_n, body, code) => {
    const r = await falco(body);
    expect(r.status).toBe(400);
    expect(r.json.error).toBe(code);
    expect(typeof r.json.message).toBe('string');
  });

  it('does not let __proto__ pollute anything', async () => {
    const r = await falco('{"__proto__":{"polluted":"yes"},' + JSON.stringify(falcoEvent()).slice(1));
    expect(r.status).toBe(202);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps the good events of an audit batch and says which were skipped', async () => {
    const list = JSON.parse(sampleText('audit-eventlist.json'));
    for (const item of list.items) item.auditID = `skip-${item.auditID}`; // not the ones an earlier test sent
    list.items.splice(1, 0, { auditID: 'bad', stage: 'Nope' }, 42);
    const r = await audit(JSON.stringify(list));
    expect(r.status).toBe(202);
    expect(r.json.accepted).toBe(3);
    expect(r.json.skipped).toEqual([
      { index: 1, auditID: 'bad', error: expect.stringMatching(/stage/) },
      { index: 2, error: 'event must be an object' },
    ]);
    const metrics = await f.metrics.registry.getSingleMetricAsString('falconer_events_received_total');
    expect(metrics).toMatch(/source="k8s_audit",outcome="rejected"} [1-9]/);
  });

  it('answers 400 when no event of a batch is valid', async () => {
    const r = await audit(JSON.stringify({ kind: 'EventList', items: [{}, {}] }));
    expect(r.status).toBe(400);
    expect(r.json.details.skipped).toHaveLength(2);
  });

  it('takes the cluster from ?cluster= and refuses a malformed one', async () => {
    expect((await post(`${f.url}/v1/events/falco?cluster=eu-prod-1`, JSON.stringify(falcoEvent()))).status).toBe(202);
    const bad = await post(`${f.url}/v1/events/falco?cluster=${encodeURIComponent('<x>')}`, JSON.stringify(falcoEvent()));
    expect(bad.status).toBe(400);
  });

  // The apiserver's webhook client drops the query of its kubeconfig's server URL and adds its own
  // (?timeout=30s): the cluster name has to travel in the path.
  it('takes the cluster from the path, before ?cluster=, and falls back to the default', async () => {
    const clusters: string[] = [];
    const publish = f.bus.publish.bind(f.bus);
    f.bus.publish = async (events) => {
      clusters.push(...events.map((e) => e.k8s.cluster));
      return publish(events);
    };
    try {
      const batch = JSON.stringify({
        kind: 'EventList',
        items: [JSON.parse(sampleText('audit-eventlist.json')).items[0]],
      });
      expect((await post(`${f.url}/v1/events/audit/eu-prod-2?timeout=30s`, batch)).status).toBe(202);
      expect((await post(`${f.url}/v1/events/falco/eu-prod-3`, JSON.stringify(falcoEvent({ uuid: 'p-1' })))).status).toBe(202);
      expect((await post(`${f.url}/v1/events/falco?cluster=eu-prod-4`, JSON.stringify(falcoEvent({ uuid: 'p-2' })))).status).toBe(
        202,
      );
      expect((await post(`${f.url}/v1/events/audit/eu-prod-5?cluster=other`, batch)).status).toBe(202);
      expect((await post(`${f.url}/v1/events/falco`, JSON.stringify(falcoEvent({ uuid: 'p-3' })))).status).toBe(202);
      expect(clusters).toEqual(['eu-prod-2', 'eu-prod-3', 'eu-prod-4', 'eu-prod-5', 'default']);
      expect((await post(`${f.url}/v1/events/audit/${encodeURIComponent('<x>')}`, batch)).status).toBe(400);
      expect((await post(`${f.url}/v1/events/audit/a/b`, batch)).status).toBe(404);
    } finally {
      f.bus.publish = publish;
    }
  });

  it('never answers 5xx to a barrage of hostile bodies', async () => {
    const hostile = [
      '\u0000\u0001',
      '{"rule":' + '"'.repeat(3) + '}',
      JSON.stringify(falcoEvent({ output_fields: { a: { b: { c: [1, { d: null }] } } } })),
      JSON.stringify(falcoEvent({ tags: 'not-a-list' })),
      JSON.stringify(falcoEvent({ time: 12 })),
      JSON.stringify(falcoEvent({ hostname: { evil: true } })),
      '{"rule":"r","priority":"info","time":"2025-11-10T12:00:00Z","output_fields":{"evt.time":99999999999999999999999999}}',
      Buffer.from([0xff, 0xfe, 0x7b, 0x7d]),
    ];
    for (const body of hostile) {
      const r = await falco(body);
      expect(r.status).toBeLessThan(500);
    }
    const auditHostile = ['{"kind":"EventList","items":null}', '[[[]]]', '{"items":[{"auditID":{"$ne":1}}]}', 'null'];
    for (const body of auditHostile) expect((await audit(body)).status).toBeLessThan(500);
  });

  it('answers 404 as JSON for unknown paths, to an authenticated caller only', async () => {
    const res = await fetch(`${f.url}/nope`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
    expect((await fetch(`${f.url}/nope`)).status).toBe(401);
  });
});

describe('ingest when the bus is full', () => {
  it('answers 503 with Retry-After instead of accepting what it cannot keep', async () => {
    const f = await startTestFalconer({ pipeline: { queueCapacity: 2, batchSize: 1, queueWaitSeconds: 0.1 } });
    try {
      // Hold the consumer so the queue fills: the memory bus handler is the pipeline; block it.
      const bus = f.bus as MemoryBus;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const original = (bus as unknown as { handler: (e: unknown[]) => Promise<void> }).handler;
      (bus as unknown as { handler: (e: unknown[]) => Promise<void> }).handler = async (e) => {
        await gate;
        return original(e);
      };
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await post(`${f.url}/v1/events/falco`, JSON.stringify(falcoEvent({ uuid: `u-${i}` })));
        statuses.push(r.status);
        if (r.status === 503) expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
      }
      expect(statuses.filter((s) => s === 202).length).toBeGreaterThanOrEqual(2);
      expect(statuses).toContain(503);
      const ready = await fetch(`${f.url}/readyz`);
      expect(ready.status).toBe(503);
      release();
    } finally {
      await f.stop();
    }
  });
});
