import { startChildFalconer, type ChildFalconer } from '../support/child-falconer';
import { falcoEvent } from '../support/events';
import { post, TEST_TOKEN } from '../support/falconer';

jest.setTimeout(180_000);

const EVENTS = 300;
const MIB = 1024 * 1024;

/**
 * Falconer under a 256 MB heap cap, fed 1 MiB Falco events, half of them with a 1 MiB uuid: it must stay
 * alive and truthful. Every answer is 202 or 503 (never a crash), and every event answered 202 ends up
 * as an alert. Before the bounds, the raw payloads and ids were kept whole (recent alerts, notification
 * records, retry-dedup keys) and such a process died of OOM with every event answered 202.
 */
describe('memory bounded by configuration', () => {
  let f: ChildFalconer;
  beforeAll(async () => {
    f = await startChildFalconer(
      {
        pipeline: { queueBytes: 16 * MIB },
        receivers: [{ type: 'console', name: 'log', minPriority: 'debug' }],
        log: { level: 'warn' }, // the console receiver logs alerts at warn
      },
      ['--max-old-space-size=256'],
    );
  }, 90_000);
  afterAll(() => f.stop());

  it('stays alive under 1 MiB events and hostile ids, and every 202 becomes an alert', async () => {
    const filler = (n: number) => 'x'.repeat(n);
    const body = (i: number) => {
      const pod = `mem-pod-${i}`;
      const base = falcoEvent({
        output_fields: { ...(falcoEvent().output_fields as object), 'k8s.pod.name': pod, 'proc.cmdline': `sh -c ${i}` },
      });
      const size = Buffer.byteLength(JSON.stringify(base));
      const room = MIB - size - 64;
      // Even events: a 1 MiB output; odd ones: a 1 MiB uuid (a hostile id).
      return JSON.stringify(
        i % 2 === 0 ? { ...base, uuid: `mem-${i}`, output: filler(room) } : { ...base, uuid: `mem-${i}-${filler(room)}` },
      );
    };

    const statuses = new Map<number, number>();
    const accepted: string[] = [];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < EVENTS; i = next++) {
        const text = body(i);
        expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MIB);
        const r = await post(`${f.url}/v1/events/falco`, text);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === 202) accepted.push(`mem-pod-${i}`);
        if (r.status === 503) expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));

    expect([...statuses.keys()].filter((s) => s !== 202 && s !== 503)).toEqual([]);
    expect(accepted.length).toBeGreaterThan(EVENTS / 2);

    // Every accepted event is alerted (one alert per pod here), and nothing else died on the way.
    const deadline = Date.now() + 60_000;
    let alerted = new Set<string>();
    while (Date.now() < deadline) {
      expect(f.child.exitCode).toBeNull();
      const res = await fetch(`${f.url}/v1/alerts?limit=1000`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
      const { alerts } = (await res.json()) as { alerts: { count: number; event: { k8s: { pod?: string } } }[] };
      alerted = new Set(alerts.map((a) => a.event.k8s.pod!).filter((p) => p.startsWith('mem-pod-')));
      if (accepted.every((p) => alerted.has(p))) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(accepted.filter((p) => !alerted.has(p))).toEqual([]);
    expect(alerted.size).toBe(accepted.length);
    // The console receiver logged each of them too (dispatch follows the alert's recording, so wait for it).
    const loggedPods = () => new Set(f.output().match(/"pod":"mem-pod-\d+"/g) ?? []);
    while (Date.now() < deadline && loggedPods().size < accepted.length) await new Promise((r) => setTimeout(r, 250));
    expect(loggedPods().size).toBe(accepted.length);

    // Alive and answering, with its heap well under the cap.
    expect((await fetch(`${f.url}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${f.url}/metrics`)).text();
    const heapUsed = Number(/^falconer_nodejs_heap_size_used_bytes (\d+)/m.exec(metrics)?.[1]);
    expect(heapUsed).toBeLessThan(200 * MIB);
    expect(f.child.exitCode).toBeNull();
    expect(f.output()).not.toMatch(/heap out of memory/i);
  });
});
