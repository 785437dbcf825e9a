import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningFalconer } from '../../src/app';
import { falcoEvent } from '../support/events';
import { eventually, post, startTestFalconer, TEST_TOKEN } from '../support/falconer';

const auth = { authorization: `Bearer ${TEST_TOKEN}` };

async function get(url: string, headers: Record<string, string> = auth) {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers, text };
}

function shellEvent(i: number, pod: string, ns = 'shop', priority = 'Notice', rule = 'Terminal shell in container') {
  return falcoEvent({
    uuid: `c0a5a1e0-0000-4000-8000-${String(i).padStart(12, '0')}`,
    priority,
    rule,
    output_fields: { ...(falcoEvent().output_fields as object), 'k8s.pod.name': pod, 'k8s.ns.name': ns },
  });
}

describe('console API over HTTP', () => {
  let f: RunningFalconer;
  const uiDir = mkdtempSync(join(tmpdir(), 'falconer-ui-'));
  beforeAll(async () => {
    mkdirSync(join(uiDir, 'assets'));
    writeFileSync(
      join(uiDir, 'index.html'),
      '<!doctype html><title>Falconer</title><script type="module" src="/ui/assets/app-abc123.js"></script>',
    );
    writeFileSync(join(uiDir, 'assets', 'app-abc123.js'), 'console.log(1)');
    f = await startTestFalconer({ console: { uiDir } });
    for (let i = 0; i < 5; i++) {
      const r = await post(`${f.url}/v1/events/falco`, JSON.stringify(shellEvent(i, `web-${i}`)));
      expect(r.status).toBe(202);
    }
    await post(`${f.url}/v1/events/falco`, JSON.stringify(shellEvent(10, 'db-0', 'data', 'Critical')));
    await eventually(async () => expect((await get(`${f.url}/v1/console/alerts`)).json.total).toBe(6));
  });
  afterAll(() => f.stop());

  it('lists alert rows newest first, filters them and pages with a cursor', async () => {
    const all = await get(`${f.url}/v1/console/alerts`);
    expect(all.status).toBe(200);
    expect(all.json.items[0]).toEqual(
      expect.objectContaining({
        pod: 'db-0',
        namespace: 'data',
        priority: 'critical',
        rule: 'Terminal shell in container',
        source: 'falco',
        count: 1,
        status: 'firing',
        incidentId: expect.any(String),
        user: 'root',
      }),
    );
    const lastSeen = all.json.items.map((r: { lastSeen: string }) => Date.parse(r.lastSeen));
    expect([...lastSeen].sort((a, b) => b - a)).toEqual(lastSeen);

    const critical = await get(`${f.url}/v1/console/alerts?priority=critical,error`);
    expect(critical.json.items.map((r: { pod: string }) => r.pod)).toEqual(['db-0']);
    expect((await get(`${f.url}/v1/console/alerts?namespace=shop`)).json.total).toBe(5);
    expect((await get(`${f.url}/v1/console/alerts?q=WEB-3`)).json.items.map((r: { pod: string }) => r.pod)).toEqual(['web-3']);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await get(`${f.url}/v1/console/alerts?namespace=shop&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.json.total).toBe(5);
      expect(page.json.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.json.items.map((r: { pod: string }) => r.pod));
      cursor = page.json.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['web-4', 'web-3', 'web-2', 'web-1', 'web-0']);
    const metrics = await (await fetch(`${f.url}/metrics`)).text();
    expect(metrics).toMatch(/^falconer_console_history_alerts 6$/m);
    expect(metrics).toMatch(/^falconer_console_history_bytes \d{4,}$/m);
  });

  it('answers bad filters with a 400 that says which', async () => {
    const bad = await get(`${f.url}/v1/console/alerts?priority=loud`);
    expect(bad.status).toBe(400);
    expect(bad.json.error).toBe('bad_request');
    expect(bad.json.message).toContain('priority');
    expect((await get(`${f.url}/v1/console/alerts?limit=501`)).status).toBe(400);
    expect((await get(`${f.url}/v1/console/alerts?since=yesterday`)).status).toBe(400);
    expect((await get(`${f.url}/v1/console/alerts?cursor=bm9wZQ`)).status).toBe(400);
  });

  it('shows one alert with its labels and evidence, 404 for an unknown one', async () => {
    const [row] = (await get(`${f.url}/v1/console/alerts?pod=web-2`)).json.items;
    const detail = await get(`${f.url}/v1/console/alerts/${row.fingerprint}`);
    expect(detail.status).toBe(200);
    expect(detail.json.alert.labels).toEqual(expect.objectContaining({ pod: 'web-2', namespace: 'shop', rule: row.rule }));
    expect(detail.json.alert.enrichment).toBeDefined();
    expect(detail.json.alert.runbookUrl).toEqual(expect.any(String));
    expect(detail.json.evidence).toEqual([expect.objectContaining({ uuid: expect.stringMatching(/0002$/), rule: row.rule })]);
    expect(detail.json.incidentId).toBe(row.incidentId);
    expect((await get(`${f.url}/v1/console/alerts/nope`)).status).toBe(404);
  });

  it('counts alerts per bucket and priority, and the top rules, namespaces and users', async () => {
    const now = Date.now();
    const since = new Date(now - 3_600_000).toISOString();
    const until = new Date(now + 60_000).toISOString();
    const stats = await get(`${f.url}/v1/console/stats?since=${since}&until=${until}&buckets=10`);
    expect(stats.status).toBe(200);
    expect(stats.json.series).toHaveLength(10);
    const sum = (p: string) =>
      stats.json.series.reduce((n: number, b: { counts: Record<string, number> }) => n + (b.counts[p] ?? 0), 0);
    expect(sum('notice')).toBe(5);
    expect(sum('critical')).toBe(1);
    expect(stats.json.topNamespaces).toEqual([
      { key: 'shop', count: 5 },
      { key: 'data', count: 1 },
    ]);
    expect(stats.json.topRules).toEqual([{ key: 'Terminal shell in container', count: 6 }]);
    expect(stats.json.topUsers).toEqual([{ key: 'root', count: 6 }]);
    expect((await get(`${f.url}/v1/console/stats?since=${until}&until=${since}`)).status).toBe(400);
  });

  it('previews what a silence would mute', async () => {
    const res = await fetch(`${f.url}/v1/console/silences/preview`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ matchers: [{ name: 'pod', value: 'web-[12]', isRegex: true, isEqual: true }] }),
    });
    const body = (await res.json()) as any;
    expect(res.status).toBe(200);
    expect(body.total).toBe(2);
    expect(body.items.map((r: { pod: string }) => r.pod).sort()).toEqual(['web-1', 'web-2']);
    const bad = await fetch(`${f.url}/v1/console/silences/preview`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ matchers: [{ name: 'pod', value: '(', isRegex: true, isEqual: true }] }),
    });
    expect(bad.status).toBe(400);
  });

  it('streams new and updated alerts as server-sent events', async () => {
    const controller = new AbortController();
    const res = await fetch(`${f.url}/v1/console/stream?namespace=stream`, { headers: auth, signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    await post(`${f.url}/v1/events/falco`, JSON.stringify(shellEvent(20, 'live-0', 'stream')));
    await post(`${f.url}/v1/events/falco`, JSON.stringify(shellEvent(21, 'other', 'elsewhere')));
    await post(`${f.url}/v1/events/falco`, JSON.stringify(shellEvent(22, 'live-0', 'stream')));
    // Another rule on the same pod joins the pod's incident: the incident grew.
    await post(
      `${f.url}/v1/events/falco`,
      JSON.stringify(shellEvent(23, 'live-0', 'stream', 'Warning', 'Read sensitive file untrusted')),
    );
    while ((text.match(/event: alert/g) ?? []).length < 3 || !text.includes('event: incident')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    controller.abort();
    const rows = [...text.matchAll(/event: alert\ndata: (.*)\n\n/g)].map((m) => JSON.parse(m[1]!));
    expect(rows.map((r) => [r.pod, r.rule, r.count])).toEqual([
      ['live-0', 'Terminal shell in container', 1],
      ['live-0', 'Terminal shell in container', 2],
      ['live-0', 'Read sensitive file untrusted', 1],
    ]);
    const incident = JSON.parse(/event: incident\ndata: (.*)\n\n/.exec(text)![1]!);
    expect(incident).toEqual({ id: rows[0].incidentId, severity: expect.any(String), chain: null, alerts: 2 });
  });

  it('serves the built UI with its security and cache headers, and the SPA fallback', async () => {
    for (const path of ['/ui', '/ui/', '/ui/alerts/abc?priority=critical']) {
      const page = await get(`${f.url}${path}`, {});
      expect(page.status).toBe(200);
      expect(page.text).toContain('<title>Falconer</title>');
      expect(page.headers.get('cache-control')).toBe('no-cache');
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    }
    const asset = await get(`${f.url}/ui/assets/app-abc123.js`, {});
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toContain('javascript');
    expect((await get(`${f.url}/ui/assets/missing.js`, {})).status).toBe(404);
    expect((await get(`${f.url}/ui/..%2f..%2fpackage.json`, {})).status).toBe(401);
  });
});

describe('console without a build', () => {
  it('answers /ui with a 503 that says to run npm run build', async () => {
    const f = await startTestFalconer({ console: { uiDir: join(tmpdir(), 'falconer-no-such-ui') } });
    try {
      const res = await fetch(`${f.url}/ui/`);
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('npm run build');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    } finally {
      await f.stop();
    }
  });
});

describe('console stream bound', () => {
  it('answers 503 past console.stream.maxSubscribers, and has room again once a page leaves', async () => {
    const f = await startTestFalconer({ console: { stream: { maxSubscribers: 1 } } });
    try {
      const first = new AbortController();
      const open = await fetch(`${f.url}/v1/console/stream`, { headers: auth, signal: first.signal });
      expect(open.status).toBe(200);
      const refused = await get(`${f.url}/v1/console/stream`);
      expect(refused.status).toBe(503);
      expect(refused.json.error).toBe('unavailable');
      first.abort();
      await eventually(async () => {
        const again = new AbortController();
        const res = await fetch(`${f.url}/v1/console/stream`, { headers: auth, signal: again.signal });
        again.abort();
        expect(res.status).toBe(200);
      });
      expect(await (await fetch(`${f.url}/metrics`)).text()).toMatch(
        /^falconer_console_stream_dropped_total\{reason="full"\} [1-9]/m,
      );
    } finally {
      await f.stop();
    }
  });
});
