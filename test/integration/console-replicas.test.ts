import type { RunningFalconer } from '../../src/app';
import { falcoEvent } from '../support/events';
import { eventually, post, startTestFalconer, TEST_TOKEN } from '../support/falconer';
import { testRedisUrl, uniqueName } from '../support/services';

const auth = { authorization: `Bearer ${TEST_TOKEN}` };

describe('console history shared in Redis (scale-out mode)', () => {
  const replicas: RunningFalconer[] = [];
  beforeAll(async () => {
    const redis = { url: testRedisUrl(), keyPrefix: `${uniqueName('console-itest')}:` };
    for (let i = 0; i < 2; i++) replicas.push(await startTestFalconer({ redis, console: { history: { maxAlerts: 3 } } }));
  });
  afterAll(() => Promise.all(replicas.map((f) => f.stop())));

  it('lists on one replica what another recorded, within the shared bounds', async () => {
    const [a, b] = replicas as [RunningFalconer, RunningFalconer];
    for (let i = 0; i < 5; i++) {
      const target = i % 2 === 0 ? a : b;
      const event = falcoEvent({
        uuid: `c0a5a1e0-0000-4000-8000-0000000000${10 + i}`,
        output_fields: { ...(falcoEvent().output_fields as object), 'k8s.pod.name': `shared-${i}` },
      });
      expect((await post(`${target.url}/v1/events/falco`, JSON.stringify(event))).status).toBe(202);
      await eventually(async () => {
        const res = await fetch(`${a.url}/v1/console/alerts?pod=shared-${i}`, { headers: auth });
        expect(((await res.json()) as { total: number }).total).toBe(1);
      });
    }
    for (const f of replicas) {
      const res = await fetch(`${f.url}/v1/console/alerts`, { headers: auth });
      const body = (await res.json()) as { items: { pod: string }[]; total: number };
      expect(body.items.map((r) => r.pod)).toEqual(['shared-4', 'shared-3', 'shared-2']);
      expect(body.total).toBe(3);
    }
    const [row] = ((await (await fetch(`${b.url}/v1/console/alerts?pod=shared-4`, { headers: auth })).json()) as any).items;
    const detail = (await (await fetch(`${b.url}/v1/console/alerts/${row.fingerprint}`, { headers: auth })).json()) as any;
    expect(detail.alert.labels.pod).toBe('shared-4');
    expect(detail.evidence).toEqual([expect.objectContaining({ uuid: 'c0a5a1e0-0000-4000-8000-000000000014' })]);
  });

  it('knows a session signed in on one replica on every replica, and signs it out everywhere', async () => {
    const [a, b] = replicas as [RunningFalconer, RunningFalconer];
    const signIn = await fetch(`${a.url}/ui/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: TEST_TOKEN }),
    });
    expect(signIn.status).toBe(200);
    const { csrf } = (await signIn.json()) as { csrf: string };
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    expect((await fetch(`${b.url}/v1/console/alerts`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${b.url}/ui/session`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrf } })).status).toBe(
      204,
    );
    expect((await fetch(`${a.url}/v1/console/alerts`, { headers: { cookie } })).status).toBe(401);
  });

  it('streams to a page on one replica the alerts another replica recorded', async () => {
    const [a, b] = replicas as [RunningFalconer, RunningFalconer];
    const controller = new AbortController();
    const res = await fetch(`${b.url}/v1/console/stream`, { headers: auth, signal: controller.signal });
    const reader = res.body!.getReader();
    await new Promise((r) => setTimeout(r, 2500)); // b's first follow round marks where the page starts
    const event = falcoEvent({
      uuid: 'c0a5a1e0-0000-4000-8000-000000000099',
      output_fields: { ...(falcoEvent().output_fields as object), 'k8s.pod.name': 'from-a' },
    });
    expect((await post(`${a.url}/v1/events/falco`, JSON.stringify(event))).status).toBe(202);
    let text = '';
    const deadline = Date.now() + 10_000;
    while (!text.includes('"from-a"') && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    controller.abort();
    expect(text).toMatch(/event: alert\ndata: \{[^\n]*"pod":"from-a"/);
  });
});
