import { createHmac } from 'node:crypto';
import pino from 'pino';
import type { Alert } from '../../src/core/alert';
import { VirtualClock } from '../../src/core/clock';
import { Dispatcher } from '../../src/notify/dispatcher';
import type { Notifier } from '../../src/notify/port';
import { WebhookNotifier, type WebhookOptions } from '../../src/notify/webhook';
import { PagerDutyNotifier } from '../../src/notify/pagerduty';
import { createMetrics } from '../../src/observability/metrics';
import { MemoryStateStore } from '../../src/store/memory';
import { alertOf, falcoSecurityEvent } from '../support/alerts';
import { FakePagerDuty, HttpRecorder } from '../support/http-recorder';
import { testCertificates } from '../support/certs';

const ROUTING_KEY = 'R0UT1NGKEY0123456789abcdefABCDEF';
const alert = (overrides: Partial<Alert> = {}) =>
  alertOf(falcoSecurityEvent(), {
    labels: { rule: 'Terminal shell in container', namespace: 'shop', priority: 'notice' },
    ...overrides,
  });

/** A dispatcher on a virtual clock whose backoff timers the test drives, with real HTTP in between. */
function dispatch(notifier: Notifier) {
  const clock = new VirtualClock(1_000_000);
  const store = new MemoryStateStore(clock);
  const dispatcher = new Dispatcher([notifier], store, clock, createMetrics(), pino({ level: 'silent' }), {
    maxAttempts: 3,
    baseDelayMs: 1000,
    maxDelayMs: 60_000,
    updateDebounceMs: 1000,
    windowMs: 3_600_000,
    queueCapacity: 10,
    deadLetterCapacity: 10,
  });
  const advance = async (ms: number) => {
    const target = clock.now() + ms;
    await dispatcher.settled();
    for (let at = clock.nextTimerAt(); at !== undefined && at <= target; at = clock.nextTimerAt()) {
      clock.advance(at - clock.now());
      await dispatcher.settled();
    }
    clock.advance(target - clock.now());
    await dispatcher.settled();
  };
  return { clock, dispatcher, advance };
}

function webhook(url: string, overrides: Partial<WebhookOptions> = {}) {
  return new WebhookNotifier({
    name: 'hook',
    url,
    format: 'alertmanager',
    headers: {},
    signatureHeader: 'X-Falconer-Signature',
    timeoutSeconds: 5,
    minPriority: 'debug',
    externalUrl: 'https://falconer.example.com',
    ...overrides,
  });
}

describe('webhook receiver (against a local recording server)', () => {
  const server = new HttpRecorder();
  let url: string;
  beforeAll(async () => (url = await server.start('/hook')));
  afterAll(() => server.stop());
  beforeEach(() => server.requests.splice(0));

  it('posts Alertmanager webhook v4 JSON with custom headers, bearer auth and an HMAC-SHA256 signature of the body', async () => {
    const secret = 'a-shared-secret-of-some-length';
    const n = webhook(url, { headers: { 'X-Team': 'sec' }, bearerToken: 'tok-123', hmacSecret: secret });
    await n.send(alert());
    const [req] = server.requests;
    expect(req!.method).toBe('POST');
    expect(req!.path).toBe('/hook');
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.headers['x-team']).toBe('sec');
    expect(req!.headers.authorization).toBe('Bearer tok-123');
    const expected = `sha256=${createHmac('sha256', secret).update(req!.body).digest('hex')}`;
    expect(req!.headers['x-falconer-signature']).toBe(expected);
    const body = JSON.parse(req!.body);
    expect(body).toMatchObject({
      version: '4',
      groupKey: 'fp:fp-1',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'hook',
      groupLabels: {},
      commonLabels: { rule: 'Terminal shell in container', namespace: 'shop' },
      externalURL: 'https://falconer.example.com',
      notification_reason: 'first notification',
    });
    expect(body.alerts).toEqual([
      {
        status: 'firing',
        labels: { rule: 'Terminal shell in container', namespace: 'shop', priority: 'notice' },
        annotations: {
          summary: 'Terminal shell in container',
          description: alert().summary,
          runbook_url: 'https://runbooks.example.com/terminal-shell-in-container',
        },
        startsAt: '1970-01-01T00:00:00.000Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'https://falconer.example.com/v1/alerts/fp-1',
        fingerprint: 'fp-1',
      },
    ]);
  });

  it('uses basic auth when configured, and the native format with enrichment', async () => {
    const n = webhook(url, { basicAuth: { username: 'u', password: 'p:w' }, format: 'falconer' });
    await n.send(alert({ enrichment: { pod: { known: false, reason: 'not seen', namespace: 'shop', name: 'web' } } }));
    const [req] = server.requests;
    expect(req!.headers.authorization).toBe(`Basic ${Buffer.from('u:p:w').toString('base64')}`);
    const body = JSON.parse(req!.body);
    expect(body).toMatchObject({
      kind: 'falconer.notification/v1',
      groupKey: 'fp:fp-1',
      status: 'firing',
      counts: { alerts: 1, firing: 1 },
    });
    expect(body.alerts[0].enrichment.pod).toEqual({ known: false, reason: 'not seen', namespace: 'shop', name: 'web' });
    expect(body.alerts[0].event).not.toHaveProperty('raw');
  });

  it('re-posts an update with the same groupKey and posts the resolve with status resolved', async () => {
    const n = webhook(url);
    const ref = await n.send(alert());
    await n.update(alert({ count: 4 }));
    await n.resolve(alert({ count: 4 }), ref, Date.UTC(2026, 0, 1));
    const bodies = server.json<{
      groupKey: string;
      status: string;
      notification_reason: string;
      alerts: { status: string; endsAt: string }[];
    }>();
    expect(bodies.map((b) => [b.groupKey, b.status, b.notification_reason])).toEqual([
      ['fp:fp-1', 'firing', 'first notification'],
      ['fp:fp-1', 'firing', 'new alerts added'],
      ['fp:fp-1', 'resolved', 'all alerts resolved'],
    ]);
    expect(bodies[2]!.alerts[0]).toMatchObject({ status: 'resolved', endsAt: '2026-01-01T00:00:00.000Z' });
  });

  it('retries a 503 after its Retry-After on its own lane, and dead-letters a 4xx', async () => {
    const n = webhook(url);
    const { dispatcher, advance } = dispatch(n);
    server.next({ status: 503, headers: { 'retry-after': '20' } });
    void dispatcher.announce(alert());
    await advance(0);
    expect(server.requests).toHaveLength(1);
    await advance(19_999);
    expect(server.requests).toHaveLength(1); // backoff alone would have retried after 1 s
    await advance(1);
    expect(server.requests).toHaveLength(2);
    server.next({ status: 422, body: { error: 'nope' } });
    void dispatcher.announce(alert({ fingerprint: 'fp-2' }));
    await advance(10_000);
    expect(server.requests).toHaveLength(3);
    expect(dispatcher.deadLetters().map((d) => [d.receiver, d.fingerprint, d.error])).toEqual([
      ['hook', 'fp-2', 'webhook hook HTTP 422: {"error":"nope"}'],
    ]);
  });
});

describe('webhook receiver over mutual TLS', () => {
  const certs = testCertificates();
  const server = new HttpRecorder({
    cert: certs.read('server.crt'),
    key: certs.read('server.key'),
    ca: certs.read('ca.crt'),
    requestCert: true,
    rejectUnauthorized: true,
  });
  let url: string;
  beforeAll(async () => (url = await server.start('/secure')));
  afterAll(() => server.stop());

  it('presents the client certificate and trusts the private CA', async () => {
    const n = webhook(url, {
      tls: {
        caFile: certs.path('ca.crt'),
        certFile: certs.path('falconer.crt'),
        keyFile: certs.path('falconer.key'),
        rejectUnauthorized: true,
      },
    });
    await n.send(alert());
    await n.close();
    expect(server.requests.map((r) => r.clientCn)).toEqual(['falconer']);
  });

  it('fails (retryably) without a client certificate', async () => {
    const n = webhook(url, { tls: { caFile: certs.path('ca.crt'), rejectUnauthorized: true } });
    await expect(n.send(alert())).rejects.toMatchObject({ retryable: true });
    await n.close();
    expect(server.requests).toHaveLength(1);
  });
});

describe('PagerDuty receiver (against a local Events API v2 server)', () => {
  const pd = new FakePagerDuty();
  let url: string;
  beforeAll(async () => (url = await pd.start('/v2/enqueue')));
  afterAll(() => pd.stop());
  beforeEach(() => {
    pd.requests.splice(0);
    pd.incidents.clear();
  });
  const pagerduty = () =>
    new PagerDutyNotifier({
      name: 'pd',
      routingKey: ROUTING_KEY,
      url,
      timeoutSeconds: 5,
      minPriority: 'debug',
      externalUrl: 'https://falconer.example.com',
    });

  it('triggers, updates and resolves one incident with a stable dedup_key', async () => {
    const n = pagerduty();
    const a = alert({ priority: 'critical' });
    const ref = await n.send(a);
    await n.update({ ...a, count: 3 });
    await n.resolve(a, ref, 5000);
    const events = pd.json<{ event_action: string; dedup_key: string; payload?: Record<string, any>; links?: unknown }>();
    expect(events.map((e) => e.event_action)).toEqual(['trigger', 'trigger', 'resolve']);
    expect(new Set(events.map((e) => e.dedup_key)).size).toBe(1);
    expect(events[0]!.dedup_key).toBe(ref.dedupKey);
    expect(events[0]!.payload).toMatchObject({
      severity: 'critical',
      source: 'prod/shop/web-7c9f8d-abcde',
      class: 'Terminal shell in container',
      group: 'shop',
    });
    expect(events[0]!.links).toEqual([
      { href: 'https://runbooks.example.com/terminal-shell-in-container', text: 'Runbook' },
      { href: 'https://falconer.example.com/v1/alerts/fp-1', text: 'Falconer alert' },
    ]);
    expect(events[1]!.payload!.custom_details.alerts[0].count).toBe(3);
    expect([...pd.incidents.values()]).toEqual([{ status: 'resolved', triggers: 2, summary: events[0]!.payload!.summary }]);
  });

  it('retries a 429 after Retry-After and a 500, and dead-letters a 400 without retrying', async () => {
    const n = pagerduty();
    const { dispatcher, advance } = dispatch(n);
    pd.next({ status: 429, headers: { 'retry-after': '30' } }, { status: 500 });
    void dispatcher.announce(alert());
    await advance(29_999);
    expect(pd.requests).toHaveLength(1);
    await advance(1);
    expect(pd.requests).toHaveLength(2); // the 500
    await advance(2000); // second backoff: 2 s
    expect(pd.requests).toHaveLength(3);
    expect(pd.incidents.size).toBe(1);
    pd.next({ status: 400, body: { status: 'invalid event', errors: ['bad'] } });
    void dispatcher.announce(alert({ fingerprint: 'fp-2' }));
    await advance(60_000);
    expect(pd.requests).toHaveLength(4);
    expect(dispatcher.deadLetters()).toHaveLength(1);
    expect(dispatcher.deadLetters()[0]!.error).toContain('PagerDuty rejected the event (400)');
  });

  it('keeps within the summary and payload limits the real API enforces', async () => {
    const n = pagerduty();
    const huge = alert({ summary: '🦅'.repeat(3000), evidence: Array.from({ length: 20 }, (_, i) => `${i}`.repeat(40_000)) });
    await n.send(huge);
    expect(pd.requests[0]!.body.length).toBeLessThanOrEqual(512 * 1024);
    const [event] = pd.json<{ payload: { summary: string; custom_details: { truncated?: string } } }>();
    expect([...event!.payload.summary]).toHaveLength(1024);
    expect(event!.payload.custom_details.truncated).toContain('512 KB');
    expect([...pd.incidents.values()][0]!.status).toBe('triggered');
  });
});
