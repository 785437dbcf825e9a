import type { AlertFacts } from '../../src/correlate/facts';
import { mergeIncidents, withMember, type Incident } from '../../src/correlate/incidents';
import { SlackNotifier } from '../../src/notify/slack';
import { FakeSlack } from '../support/slack-server';
import { harness, type Harness } from './harness';
import { runtime, session, T0 } from './streams';

const exec = (id: string, user: string, pod: string, start: number) =>
  session({ id, user, pod, container: 'app', start, end: start + 60_000 }).map((audit) => ({ audit }));

/** alice into web-1, then bob into web-2 (two incidents), then alice into web-2: one alert linking both. */
async function linkTwo(first: Harness, second: Harness = first): Promise<{ a: Incident; b: Incident }> {
  await first.feed(exec('e1', 'alice@example.com', 'web-1', 0));
  await second.feed(exec('e2', 'bob@example.com', 'web-2', 10_000));
  const [b, a] = await first.incidents.list(10);
  expect([a!.pods, b!.pods]).toEqual([['prod/shop/web-1'], ['prod/shop/web-2']]);
  await second.feed(exec('e3', 'alice@example.com', 'web-2', 20_000));
  return { a: a!, b: b! };
}

describe('incidents merge when an alert links two of them', () => {
  it("keeps the older one, which takes the other's members; the other redirects to it", async () => {
    const h = harness();
    const { a, b } = await linkTwo(h);
    const listed = await h.incidents.list(10);
    expect(listed.map((i) => i.id)).toEqual([a.id]);
    const merged = listed[0]!;
    expect(merged).toMatchObject({
      id: a.id,
      parent: a.parent,
      alertCount: 3,
      pods: ['prod/shop/web-1', 'prod/shop/web-2'],
      subjects: ['alice@example.com', 'bob@example.com'],
      mergedFrom: { [b.id]: 1 },
    });
    expect(merged.alerts).toEqual(expect.arrayContaining([...a.alerts, ...b.alerts]));
    expect(merged.timeline.map((t) => t.user)).toEqual(['alice@example.com', 'bob@example.com', 'alice@example.com']);
    expect((await h.incidents.get(b.id))?.id).toBe(a.id);
    // What happens later in either incident's pod, or by either user, goes on in the survivor.
    await h.feed([{ falco: runtime({ id: 'r1', pod: 'web-2', at: 15_000 }) }]);
    expect(h.alertOf('r1')?.incident?.id).toBe(a.id);
    expect((await h.incidents.get(a.id))?.alertCount).toBe(4);
  });

  it('merges across replicas through the store, and both list the same incidents', async () => {
    const one = harness();
    const two = harness([], {}, undefined, { store: one.store, clock: one.clock });
    const { a, b } = await linkTwo(one, two);
    const [fromOne, fromTwo] = [await one.incidents.list(10), await two.incidents.list(10)];
    expect(fromOne.map((i) => [i.id, i.alertCount, i.pods.length])).toEqual([[a.id, 3, 2]]);
    expect(fromTwo.map((i) => [i.id, i.alertCount, i.pods.length])).toEqual([[a.id, 3, 2]]);
    expect(fromOne[0]!.timeline.map((t) => t.fingerprint)).toEqual(fromTwo[0]!.timeline.map((t) => t.fingerprint));
    expect((await one.incidents.get(b.id))?.id).toBe(a.id);
  });

  it('merges what another replica added to the absorbed incident while the merge was under way', async () => {
    const one = harness();
    const two = harness([], {}, undefined, { store: one.store, clock: one.clock });
    await one.feed(exec('e1', 'alice@example.com', 'web-1', 0));
    await two.feed(exec('e2', 'bob@example.com', 'web-2', 10_000));
    const [b, a] = await one.incidents.list(10);
    // Right after the survivor took B's members, replica two adds a shell in bob's session to B (not marked yet).
    const replace = one.store.replace.bind(one.store);
    let raced = false;
    jest.spyOn(one.store, 'replace').mockImplementation(async (key, expected, value, ttl) => {
      const ok = await replace(key, expected, value, ttl);
      if (ok && key === `corr:i:${a!.id}` && !raced) {
        raced = true;
        await two.feed([{ falco: runtime({ id: 'r9', pod: 'web-2', at: 12_000 }) }]);
      }
      return ok;
    });
    await one.feed(exec('e3', 'alice@example.com', 'web-2', 20_000));
    expect(raced).toBe(true);
    const merged = (await two.incidents.list(10))[0]!;
    expect(merged.id).toBe(a!.id);
    expect(merged.alertCount).toBe(4);
    expect(merged.mergedFrom).toEqual({ [b!.id]: 2 });
    expect(merged.timeline.map((t) => [t.source, t.auditID])).toEqual([
      ['k8s_audit', 'e1'],
      ['k8s_audit', 'e2'],
      ['falco', 'e2'],
      ['k8s_audit', 'e3'],
    ]);
    expect((await two.incidents.get(b!.id))?.id).toBe(a!.id);
  });

  it('lists the recent incidents newest first from the store, bounded', async () => {
    const one = harness([], { correlation: { incidents: { recent: 16 } } });
    const two = harness([], { correlation: { incidents: { recent: 16 } } }, undefined, { store: one.store, clock: one.clock });
    for (let i = 0; i < 40; i++) await (i % 2 ? one : two).feed(exec(`e${i}`, `user-${i}@example.com`, `web-${i}`, i * 1000));
    const listed = await one.incidents.list(100);
    expect(listed.length).toBeGreaterThanOrEqual(8);
    expect(listed.length).toBeLessThanOrEqual(16);
    expect(listed.map((i) => i.firstMs)).toEqual([...listed.map((i) => i.firstMs)].sort((x, y) => y - x));
    expect(listed[0]!.subjects).toEqual(['user-39@example.com']);
    expect((await two.incidents.list(100)).map((i) => i.id)).toEqual(listed.map((i) => i.id));
    expect(await one.incidents.list(3)).toHaveLength(3);
  });
});

describe('mergeIncidents', () => {
  const options = { windowMs: 600_000, maxAlerts: 4, chains: [], recent: 10 };
  const facts = (i: number, user: string): AlertFacts => ({
    fingerprint: `fp-${i}`,
    timeMs: T0 + i * 1000,
    time: new Date(T0 + i * 1000).toISOString(),
    source: 'k8s_audit',
    rule: 'Attach/Exec Pod',
    ruleId: 'attach-exec-pod',
    priority: i === 5 ? 'critical' : 'notice',
    tags: [],
    summary: `exec ${i}`,
    cluster: 'prod',
    namespace: 'shop',
    pod: `web-${i}`,
    user,
  });
  const grow = (incident: Incident | undefined, ...members: AlertFacts[]) =>
    members.reduce<Incident | undefined>((acc, f) => withMember(acc, f, options), incident)!;

  it('counts what an absorbed incident brought once, however often it is merged again after growing', () => {
    const survivor = grow(undefined, facts(0, 'alice'), facts(2, 'alice'));
    let absorbed = grow(undefined, facts(1, 'bob'));
    const once = mergeIncidents(survivor, absorbed, options);
    expect(once.alertCount).toBe(3);
    absorbed = grow(absorbed, facts(5, 'bob'), facts(6, 'bob'));
    const again = mergeIncidents(once, absorbed, options);
    expect(again.alertCount).toBe(5);
    expect(again.mergedFrom).toEqual({ [absorbed.id]: 3 });
    // Bounded like any incident: the newest members stay in the timeline; the severity is the highest.
    expect(again.timeline.map((t) => t.fingerprint)).toEqual(['fp-1', 'fp-2', 'fp-5', 'fp-6']);
    expect(again.severity).toBe('critical');
    expect(again.firstMs).toBe(T0);
  });
});

describe('a merge in Slack (real @slack/web-api against the local Slack server)', () => {
  let slack: FakeSlack;
  let apiUrl: string;
  beforeEach(async () => {
    slack = new FakeSlack();
    apiUrl = await slack.start();
  });
  afterEach(() => slack.stop());

  async function drive(h: Harness, ms: number): Promise<void> {
    for (let t = 0; t < ms; t += 250) {
      h.clock.advance(250);
      await h.dispatcher.settled();
    }
  }
  const text = (call: { args: Record<string, unknown> }) => JSON.stringify(call.args).replace(/\u200b/g, '');

  it("updates the survivor's parent, tells the absorbed parent where it went, and threads later alerts under the survivor", async () => {
    const h = harness([
      new SlackNotifier({ name: 'slack', token: 'xoxb-test', channel: 'C0FALCONER', apiUrl, minPriority: 'debug' }),
    ]);
    await h.feed(exec('e1', 'alice@example.com', 'web-1', 0));
    await drive(h, 2000);
    await h.feed(exec('e2', 'bob@example.com', 'web-2', 10_000));
    await drive(h, 2000);
    expect(slack.posts.map((p) => p.args.thread_ts)).toEqual([undefined, undefined]);
    const [parentA, parentB] = ['1700000000.000001', '1700000000.000002']; // the fake Slack's ts, in post order
    const { a, b } = { a: (await h.incidents.list(10))[1]!, b: (await h.incidents.list(10))[0]! };
    await h.feed(exec('e3', 'alice@example.com', 'web-2', 20_000));
    await h.feed([{ falco: runtime({ id: 'r1', pod: 'web-2', at: 25_000 }) }]);
    await drive(h, 5000);
    // The linking exec and the shell after it are replies in the survivor's thread.
    expect(slack.posts.slice(2).map((p) => p.args.thread_ts)).toEqual([parentA, parentA]);
    const updatesOf = (ts: string) => slack.updates.filter((u) => u.args.ts === ts).map(text);
    expect(updatesOf(parentA).at(-1)).toContain(`Incident ${a.id}`);
    expect(updatesOf(parentA).at(-1)).toContain('4 alerts');
    expect(updatesOf(parentB).at(-1)).toContain(`Merged into incident ${a.id}`);
    expect(updatesOf(parentB).at(-1)).toContain(`Incident ${b.id}`);
  });
});
