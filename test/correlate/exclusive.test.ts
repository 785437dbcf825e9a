import type { Alert, AlertIncident } from '../../src/core/alert';
import { VirtualClock } from '../../src/core/clock';
import type { JsonObject } from '../../src/core/event';
import { validateConfig } from '../../src/config/load';
import { correlationFromConfig, type Correlation } from '../../src/correlate';
import { loadRuleSet, RuleEngine } from '../../src/detect/engine';
import { normaliseAudit } from '../../src/ingest/audit';
import { normaliseFalco } from '../../src/ingest/falco';
import { MemoryStateStore } from '../../src/store/memory';
import { DurableStateStore } from '../../src/store/durable';
import { RecentAlerts, durableRecentAlerts } from '../../src/alert/recent';
import { openDataDir, removeTempDirs, tempDir } from '../support/data-dir';
import { BUILTIN_CHAINS_DIR, loadChains, matchChain, stepAdmits } from '../../src/correlate/chains';
import type { AlertFacts } from '../../src/correlate/facts';
import { IncidentTracker, incidentRef, withMember, type Incident } from '../../src/correlate/incidents';
import {
  admitsOf,
  deriveTimeline,
  entriesJson,
  entryOf,
  hasMember,
  listJson,
  mayMatch,
  stepCounts,
  stepAdmitsOf,
  stepSlots,
  withAlert,
} from '../../src/correlate/timeline';
import { CHAIN_SCENARIOS } from './chain-streams';
import { MAX_RECORD_BYTES } from '../../src/correlate/state';
import { harness, type Harness } from './harness';
import { SCENARIOS } from './scenarios';
import { runtime, session } from './streams';

type Item = { audit: JsonObject } | { falco: JsonObject };

/** What a run produced: every alert's attribution and incident, every incident as listed. */
async function outcome(h: Harness) {
  const alerts = h.recent
    .list()
    .map((a) => ({ fingerprint: a.fingerprint, attribution: a.attribution ?? null, incident: a.incident ?? null }))
    .sort((a, b) => (a.fingerprint < b.fingerprint ? -1 : 1));
  const incidents = (await h.incidents.list(1000)).map((i) => ({
    ...i,
    timeline: i.timeline.map((t) => [t.fingerprint, t.timeMs, t.user ?? null]),
  }));
  return { alerts, incidents };
}

async function run(stream: Item[], exclusive: boolean, config: Record<string, unknown> = {}) {
  const h = harness([], config, undefined, undefined, exclusive);
  for (const item of stream) await h.feed([item]);
  return h;
}

/** Every key the memory store holds (its map is private: read here for the test's sake only). */
function keys(h: Harness): string[] {
  return [...(h.store as unknown as { entries: Map<string, unknown> }).entries.keys()];
}

/** The timeline's keys, as the store holds them: every `corr:ie:` key. */
function entryKeys(h: Harness): string[] {
  return keys(h)
    .filter((k) => k.startsWith('corr:ie:'))
    .sort();
}

/**
 * An incident as the store holds it, timeline and all: a shared store's head names its entries
 * (`corr:ie:` records), embedded mode's head holds its timeline itself.
 */
async function storedIncident(h: Harness, key: string): Promise<Record<string, unknown>> {
  const { entries, ...head } = JSON.parse((await h.store.get(key))!) as { entries?: string[] };
  if (!entries) return head;
  return { ...head, timeline: await Promise.all(entries.map(async (k) => JSON.parse((await h.store.get(`corr:ie:${k}`))!))) };
}

describe('embedded mode (an exclusive store: incidents live in process, written out lazily)', () => {
  afterAll(removeTempDirs);
  it.each([...SCENARIOS, ...CHAIN_SCENARIOS].map((s) => [s.name, s.stream] as const))(
    'correlates %s as a shared store does',
    async (_name, stream) => {
      const [shared, exclusive] = [await run(stream, false), await run(stream, true)];
      expect(await outcome(exclusive)).toEqual(await outcome(shared));
    },
  );

  it("ties a pod created in a namespace to the change of that namespace's PodSecurity level, by the namespace alone", async () => {
    const [lowered, pod] = CHAIN_SCENARIOS.find((s) => s.chain === 'podsecurity-lowered-then-violating-pod')!.stream as {
      audit: JsonObject;
    }[];
    // Another user creates the pod: nothing but the namespace links the two.
    const other = structuredClone(pod!);
    (other.audit.user as JsonObject).username = 'carol@example.com';
    const stream = [lowered!, other];
    const [shared, exclusive] = [await run(stream, false), await run(stream, true)];
    const got = await outcome(exclusive);
    expect(got).toEqual(await outcome(shared));
    expect(got.incidents.map((i) => [i.alertCount, i.chain])).toEqual([[2, 'podsecurity-lowered-then-violating-pod']]);
  });

  // A pod's incident filled past its cap with noise, then a privileged pod and a shell in it.
  const noisy = (noiseAt: (i: number) => number): Item[] => {
    const chain = CHAIN_SCENARIOS.find((s) => s.chain === 'privileged-pod-then-runtime')!.stream;
    const noise = Array.from({ length: 8 }, (_, i) => ({
      falco: runtime({ id: `n${i}`, at: noiseAt(i), ns: 'ops', pod: 'debug', proc: 'ls' }),
    }));
    return [...noise.slice(0, 4), chain[0]!, ...noise.slice(4), chain[1]!];
  };
  const capped = { correlation: { incidents: { maxAlerts: 5 } } };

  it.each([
    ['before the chain: the chain still matches at the cap', (i: number) => -60_000 + i * 1000, 'privileged-pod-then-runtime'],
    // The first noise after the privileged pod completes the chain; it stays when that step is pushed out.
    ['between its steps: the chain completes early and stays', (i: number) => 1000 + i * 1000, 'privileged-pod-then-runtime'],
  ] as const)('takes members into a full incident with noise %s', async (_name, noiseAt, chain) => {
    const stream = noisy(noiseAt);
    const [shared, exclusive] = [await run(stream, false, capped), await run(stream, true, capped)];
    const got = await outcome(exclusive);
    expect(got).toEqual(await outcome(shared));
    expect(got.incidents).toHaveLength(1);
    const incident = got.incidents[0]!;
    expect([incident.alertCount, incident.timeline.length, incident.chain]).toEqual([10, 5, chain]);
    // A shared store keeps the five entries the head names (those pushed out deleted); embedded
    // mode keeps none: the head holds the timeline, written once and made only when written out.
    expect(entryKeys(shared)).toHaveLength(5);
    expect(entryKeys(exclusive)).toEqual([]);
    const head = `corr:i:${incident.id}`;
    expect(typeof exclusive.store.peek(head)).toBe('function'); // never made so far
    const stored = await storedIncident(exclusive, head);
    expect(stored).toEqual(await storedIncident(shared, head));
    expect((stored.timeline as unknown[]).length).toBe(5);
  });

  it('restores its incidents from the data dir after a restart, and the next member joins them', async () => {
    const stream = noisy((i) => -60_000 + i * 1000);
    const dir = tempDir();
    const clock = new VirtualClock(Date.parse('2026-03-01T10:00:00Z'));
    // Closed even when an expectation fails: an open data dir's workers would keep jest from exiting.
    const opened: { close(): Promise<void> }[] = [];
    const open = async () => {
      const dataDir = await openDataDir(dir, clock.now());
      opened.push(dataDir);
      return { dataDir, h: harness([], capped, undefined, { store: new DurableStateStore(clock, dataDir), clock }, true) };
    };
    try {
      const first = await open();
      for (const item of stream.slice(0, -1)) await first.h.feed([item]);
      const before = (await outcome(first.h)).incidents;
      expect(before).toHaveLength(1);
      await first.dataDir.close();
      // A new process: its own keys for new entries, the earlier process's read back from the file.
      const second = await open();
      expect((await outcome(second.h)).incidents).toEqual(before);
      await second.h.feed([stream.at(-1)!]);
      const after = (await outcome(second.h)).incidents;
      const reference = (await outcome(await run(stream, false, capped))).incidents;
      expect(after).toEqual(reference);
      expect(after[0]!.alertCount).toBe(before[0]!.alertCount + 1);
    } finally {
      for (const d of opened) await d.close().catch(() => undefined);
    }
  });

  it('reads its own lazy records back after something made them (the data dir writing them out)', async () => {
    const stream = noisy((i) => -60_000 + i * 1000);
    const h = harness([], capped, undefined, undefined, true);
    for (const item of stream.slice(0, 6)) {
      await h.feed([item]);
      // Made after every event, as a commit would: the next member recognises the text as its own.
      for (const key of keys(h)) if (key.startsWith('corr:')) await h.store.get(key);
    }
    for (const item of stream.slice(6)) await h.feed([item]);
    expect(await outcome(h)).toEqual(await outcome(await run(stream, false, capped)));
  });
});

describe('embedded mode: incidents expire as their records do', () => {
  /** Live incidents the tracker holds (private: read here for the test's sake only). */
  const held = (h: Harness) => (h.incidents as unknown as { live: { incidents: Map<string, unknown> } }).live.incidents.size;

  it('starts a new incident once the last one outlived its TTL, as a shared store does, and lets the old ones go', async () => {
    const ttl = 2 * 1800_000; // twice the default window
    const run = async (exclusive: boolean) => {
      const h = harness([], {}, undefined, undefined, exclusive);
      for (let i = 0; i < 50; i++) await h.feed([{ falco: runtime({ id: `a${i}`, pod: `web-${i}`, at: 0 }) }]);
      h.clock.advance(ttl + 1);
      // The same pods again, their events still in the window by event time: new incidents all the same.
      for (let i = 0; i < 50; i++) await h.feed([{ falco: runtime({ id: `b${i}`, pod: `web-${i}`, at: 1000 }) }]);
      return h;
    };
    const [shared, exclusive] = [await run(false), await run(true)];
    expect(await outcome(exclusive)).toEqual(await outcome(shared));
    const ids = (await exclusive.incidents.list(1000)).map((i) => i.id);
    expect(ids).toHaveLength(50);
    expect(exclusive.alertOf('a0')?.incident?.id).not.toBe(exclusive.alertOf('b0')?.incident?.id);
    expect(held(exclusive)).toBe(50); // each new incident swept four expired ones: none of the first 50 is left
  });

  it('keeps no expired incident alive from its member cache or keys once it let it go', async () => {
    const h = harness([], {}, undefined, undefined, true);
    for (let i = 0; i < 50; i++) await h.feed([{ falco: runtime({ id: `a${i}`, pod: `web-${i}`, at: 0 }) }]);
    h.clock.advance(2 * 1800_000 + 1);
    for (let i = 0; i < 50; i++) await h.feed([{ falco: runtime({ id: `b${i}`, pod: `pod-${i}`, at: 1000 }) }]);
    type Handle = { live?: object };
    const live = (
      h.incidents as unknown as {
        live: {
          incidents: Map<string, object>;
          memberOf: { young: Map<string, Handle>; old: Map<string, Handle> };
          keys: Map<string, { at?: Handle }>;
        };
      }
    ).live;
    const held = new Set(live.incidents.values());
    expect(held.size).toBe(50); // the first 50 were swept
    const handles = [...live.memberOf.young.values(), ...live.memberOf.old.values(), ...[...live.keys.values()].map((k) => k.at)];
    // The first 50 pods' keys and members are still cached (keys are swept as keys are made): they lead nowhere.
    expect(handles.filter((x) => x && x.live === undefined).length).toBeGreaterThanOrEqual(50);
    expect(handles.every((x) => x?.live === undefined || held.has(x.live))).toBe(true);
  });

  it('follows a key that outlived its incident to a new incident of the same id, as a shared store does', async () => {
    // A repeat that missed the member cache refreshes the pod's key, not the incident: the key
    // outlives it; the first alert again (same event time) then makes an incident of the same id.
    const alert = (fingerprint: string, pod: string, at: number) => ({
      fingerprint,
      rule: 'Terminal shell in container',
      ruleId: 'Terminal shell in container',
      priority: 'notice' as const,
      tags: [],
      summary: 's',
      event: {
        id: `${fingerprint}-${at}`,
        source: 'falco' as const,
        time: new Date(at).toISOString(),
        timeNs: `${at}000000`,
        k8s: { cluster: 'prod', namespace: 'shop', pod, container: 'app' },
        raw: {},
      },
      enrichment: {},
    });
    const run = async (exclusiveStore: boolean) => {
      const clock = new VirtualClock(1_000_000);
      const tracker = new IncidentTracker(new MemoryStateStore(clock), {
        windowMs: 1000,
        maxAlerts: 50,
        recent: 1, // members cached: 10
        chains: [],
        exclusiveStore,
      });
      const add = async (a: ReturnType<typeof alert>) => (await tracker.add(a as never)).incident;
      const first = await add(alert('x', 'web-1', 0));
      for (let i = 0; i < 12; i++) await add(alert(`o${i}`, `other-${i}`, 0));
      clock.advance(1500);
      await add(alert('x', 'web-1', 0));
      clock.advance(1000); // the incident expired (its TTL 2 s), the key (refreshed at 1.5 s) has not
      const again = { ...(await add(alert('x', 'web-1', 0))) };
      clock.advance(100);
      const next = await add(alert('y', 'web-1', 100));
      return [first.id, again.id, again.alertCount, next.id, next.alertCount];
    };
    const [exclusive, shared] = [await run(true), await run(false)];
    expect(exclusive[1]).toBe(exclusive[0]);
    expect(exclusive[3]).toBe(exclusive[1]);
    expect(exclusive[4]).toBe(2);
    expect(exclusive).toEqual(shared);
  });
});

describe('the timeline index', () => {
  const chains = loadChains([BUILTIN_CHAINS_DIR]);
  const options = { windowMs: 3_600_000, maxAlerts: 6, chains, recent: 100 };
  const kinds: Partial<AlertFacts>[] = [
    { source: 'falco', rule: 'Terminal shell in container', ruleId: 'terminal-shell-in-container', tags: ['T1059'] },
    {
      source: 'falco',
      rule: 'Read sensitive file untrusted',
      ruleId: 'read-sensitive-file-untrusted',
      tags: ['mitre_credential_access'],
    },
    { source: 'falco', rule: 'Contact K8S API Server From Container', ruleId: 'contact-k8s-api-server-from-container', tags: [] },
    { source: 'k8s_audit', rule: 'Attach/Exec Pod', ruleId: 'attach-exec-pod', tags: [], auditID: 'e1', user: 'alice' },
    { source: 'k8s_audit', rule: 'Create Privileged Pod', ruleId: 'create-privileged-pod', tags: [] },
  ];
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const facts = (n: number, at: number): AlertFacts =>
    ({
      fingerprint: `f${n}`,
      timeMs: at,
      time: new Date(at).toISOString(),
      priority: 'warning',
      summary: 's',
      cluster: 'prod',
      namespace: 'shop',
      pod: 'shop/web-1',
      ...kinds[Math.floor(random() * kinds.length)],
      ...(random() < 0.5 ? { auditID: 'e1', user: 'alice' } : {}),
    }) as AlertFacts;

  it('keeps keys, step counts and changes equal to a full recount, and never skips a chain that would match', () => {
    let incident: Incident | undefined;
    let skipped = 0;
    for (let n = 0; n < 400; n++) {
      // Mostly newer members; some late ones, some a member's newer facts (same fingerprint and time).
      const late = incident && random() < 0.3;
      const again = incident && random() < 0.1 ? incident.timeline[Math.floor(random() * incident.timeline.length)] : undefined;
      const f = again
        ? { ...facts(n, again.timeMs), fingerprint: again.fingerprint }
        : facts(n, late ? 1000 + n * 10 - 500 : 1000 + n * 10);
      const before = incident;
      incident = withMember(before, f, options);
      const timeline = incident.timeline;
      const index = deriveTimeline(before?.timeline, timeline);
      expect(entriesJson(timeline)).toBe(JSON.stringify(timeline.map((t) => entryOf(t).key)));
      const previous = before?.timeline ?? [];
      // The very entries (by identity), in order.
      const same = (got: AlertFacts[], want: AlertFacts[]) => got.length === want.length && got.every((t, i) => t === want[i]);
      expect(
        same(
          index.added,
          timeline.filter((t) => !previous.includes(t)),
        ),
      ).toBe(true);
      expect(
        same(
          index.removed,
          previous.filter((t) => !timeline.includes(t)),
        ),
      ).toBe(true);
      const counts = stepCounts(timeline, chains);
      const recount = new Array<number>(stepSlots(chains).total).fill(0);
      for (const t of timeline) admitsOf(t, chains).forEach((a, i) => (recount[i]! += a));
      expect([...counts]).toEqual([...recount]);
      // Soundness of the shortcut: a chain it rules out has no match the member makes.
      const newest = timeline.at(-1) === f;
      const admits = admitsOf(f, chains);
      for (const [c, chain] of chains.entries()) {
        if (mayMatch(chain, stepSlots(chains).offsets[c]!, counts, admits, newest)) continue;
        skipped++;
        expect(matchChain(chain, timeline, newest ? f : undefined, newest ? undefined : f)).toBeUndefined();
      }
      if (incident.chain) incident = undefined; // start again: a matched chain stays and stops the search
    }
    expect(skipped).toBeGreaterThan(100);
  });

  it('tells members of lists that share an index apart', () => {
    const base = ['a', 'b'];
    expect(hasMember(base, 'a')).toBe(true);
    const one = withAlert(base, 'x');
    const two = withAlert(base, 'y'); // a sibling: base's index is not its to extend any more
    expect([hasMember(one, 'x'), hasMember(one, 'y'), hasMember(two, 'y'), hasMember(two, 'x')]).toEqual([
      true,
      false,
      true,
      false,
    ]);
    expect([hasMember(base, 'x'), hasMember(base, 'y')]).toEqual([false, false]);
    listJson(one);
    const three = withAlert(one, 'z"q');
    expect(listJson(three)).toBe(JSON.stringify(three));
    expect(hasMember(three, 'z"q') && hasMember(three, 'a') && !hasMember(three, 'y')).toBe(true);
  });

  it("says of every alert which chain steps admit it as the steps do, though it looks at a rule's steps once", () => {
    const chains = loadChains([BUILTIN_CHAINS_DIR]);
    const direct = (t: AlertFacts) => chains.flatMap((c) => c.steps.map((s) => (stepAdmits(s, t) ? 1 : 0)));
    const api = {
      source: 'falco' as const,
      rule: 'Contact K8S API Server From Container',
      ruleId: 'contact-k8s-api-server-from-container',
    };
    const variants: Partial<AlertFacts>[] = [
      { ...api, tags: [], priority: 'notice' },
      // The same rule id with another priority, source, tags (a new list, equal or not), or rule name.
      { ...api, tags: [], priority: 'debug' },
      { ...api, tags: [], priority: 'notice', source: 'k8s_audit' },
      { ...api, tags: ['T1552'], priority: 'notice' },
      { ...api, tags: ['T1552'], priority: 'notice' },
      { ...api, rule: 'Something else', tags: [], priority: 'notice' },
      // A step that matches on facts too: the same rule with and without the fact it needs.
      { ...api, tags: [], priority: 'notice', podServiceAccountRisks: ['secrets-read'] },
      { ...api, tags: [], priority: 'notice', podServiceAccountRisks: ['exec'] },
      { source: 'k8s_audit', rule: 'Attach/Exec Pod', ruleId: 'attach-exec-pod', tags: [], priority: 'notice' },
      {
        source: 'falco',
        rule: 'Read sensitive file untrusted',
        ruleId: 'Read sensitive file untrusted',
        tags: ['T1555'],
        priority: 'warning',
      },
      {
        source: 'falco',
        rule: 'Read sensitive file untrusted',
        ruleId: 'Read sensitive file untrusted',
        tags: ['T1555'],
        priority: 'debug',
      },
    ];
    let seen = 0;
    let seed = 3;
    for (let n = 0; n < 300; n++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const v = variants[seed % variants.length]!;
      const t = { fingerprint: `a${n}`, timeMs: n, time: 'x', summary: 's', cluster: 'c', ...v } as AlertFacts;
      const admits = stepAdmitsOf(t, chains);
      expect([...admits]).toEqual(direct(t));
      if (admits.some((a) => a === 1)) seen++;
    }
    expect(seen).toBeGreaterThan(50);
  });
});

describe("an alert's incident reference in embedded mode", () => {
  const alert = (fingerprint: string, at: number) => ({
    fingerprint,
    rule: 'Terminal shell in container',
    ruleId: 'Terminal shell in container',
    priority: 'notice' as const,
    tags: [],
    summary: 's',
    event: {
      id: `${fingerprint}-${at}`,
      source: 'falco' as const,
      time: new Date(at).toISOString(),
      timeNs: `${at}000000`,
      k8s: { cluster: 'prod', namespace: 'shop', pod: 'web-1', container: 'app' },
      raw: {},
    },
    enrichment: {},
  });
  // In order, then late ones (one among the shown entries, one older), a member's newer facts, in order again.
  const stream: [string, number, boolean][] = [
    ...Array.from({ length: 10 }, (_, i) => [`a${i}`, i * 1000, false] as [string, number, boolean]),
    ['late-old', 5500, false],
    ['late-shown', 8500, false],
    ['a8', 8000, true],
    ['a10', 10_000, false],
    ['a11', 11_000, false],
  ];
  const refs = async (exclusiveStore: boolean) => {
    const clock = new VirtualClock(1_000_000);
    const tracker = new IncidentTracker(new MemoryStateStore(clock), {
      windowMs: 600_000,
      maxAlerts: 7,
      recent: 100,
      chains: [],
      exclusiveStore,
    });
    const out: AlertIncident[] = [];
    for (const [fp, at, changed] of stream) out.push(incidentRef((await tracker.add(alert(fp, at) as never, changed)).incident));
    return out;
  };

  it('shows the last five entries as a shared store does, each entry one view shared by the references that show it', async () => {
    const [exclusive, shared] = [await refs(true), await refs(false)];
    expect(JSON.parse(JSON.stringify(exclusive))).toEqual(JSON.parse(JSON.stringify(shared)));
    expect(exclusive.map((r) => r.timeline!.length)).toEqual([1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5]);
    // A new newest member: the four entries before it keep their views.
    for (const k of [5, 6, 7, 8, 13])
      expect(exclusive[k + 1]!.timeline!.slice(0, 4).every((v, i) => v === exclusive[k]!.timeline![i + 1])).toBe(true);
    // A late member among the shown: the views of the entries still shown are the same objects.
    const [before, after] = [exclusive[10]!.timeline!, exclusive[11]!.timeline!];
    expect(after.filter((v) => before.includes(v))).toHaveLength(4);
  });
});

describe('incident keys', () => {
  const ttl = 2 * 1800_000; // twice the default window
  const key = 'corr:ik:p:prod/shop/web-1';

  /** A member a minute on one pod for 12 minutes; when the pod's incident key was written. */
  async function members(exclusive: boolean) {
    const h = harness([], {}, undefined, undefined, exclusive);
    const start = h.clock.now();
    const writes: number[] = [];
    const set = h.store.set.bind(h.store);
    h.store.set = (k, value, ttlMs) => {
      if (k === key) writes.push((h.clock.now() - start) / 60_000);
      return set(k, value, ttlMs);
    };
    for (let i = 0; i < 12; i++) {
      await h.feed([{ falco: runtime({ id: `member-${i}`, at: i * 60_000 }) }]);
      // Never less than a write on every member leaves it (nor much more).
      expect(h.store.ttlLeft(key)).toBeGreaterThanOrEqual(ttl);
      expect(h.store.ttlLeft(key)).toBeLessThanOrEqual(ttl * (exclusive ? 9 / 8 : 1));
      h.clock.advance(60_000);
    }
    expect((await h.incidents.list(10)).map((i) => i.alertCount)).toEqual([12]);
    return writes;
  }

  it('are written again in embedded mode only once less than their TTL is left', async () => {
    // Written with an eighth of the TTL more (7.5 minutes): again at minute 8, not on every member.
    expect(await members(true)).toEqual([0, 8]);
  });

  it('are written on every member with a shared store', async () => {
    expect(await members(false)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });
});

describe("a pod's pending alerts (what a late audit event may still update)", () => {
  // 20 shells on one pod, a second apart, then alice's exec covering them all arrives late.
  const shells = Array.from({ length: 20 }, (_, i) => ({ falco: runtime({ id: `s${i}`, at: 1000 + i * 1000 }) }));
  const late = session({ id: 'exec-1', user: 'alice@example.com', container: 'app', start: 0 }).map((audit) => ({ audit }));
  const records = (h: Harness) => keys(h).filter((k) => k.startsWith('corr:ra:'));

  it('keeps in embedded mode the 16 newest of a pod in process (no record in a memory-only store), and updates those as a shared store does', async () => {
    const [shared, exclusive] = [await run(shells, false), await run(shells, true)];
    expect(records(shared)).toHaveLength(20);
    expect(keys(exclusive).filter((k) => k.startsWith('corr:r'))).toEqual([]);
    for (const h of [shared, exclusive]) for (const item of late) await h.feed([item]);
    const attributed = (h: Harness) => shells.map((_, i) => h.alertOf(`s${i}`)!.attribution?.user ?? null);
    expect(attributed(exclusive)).toEqual(attributed(shared));
    expect(attributed(exclusive)).toEqual([...Array<null>(4).fill(null), ...Array<string>(16).fill('alice@example.com')]);
    expect(await outcome(exclusive)).toEqual(await outcome(shared));
  });

  it('cuts a list of big entries as a shared store cuts its record to fit', async () => {
    // Ancestors' names of control characters: 6 characters each in JSON, about 24 kB an entry.
    const anames = (i: number) =>
      Object.fromEntries([2, 3, 4, 5].map((n) => [`proc.aname[${n}]`, `${'\u0001'.repeat(999)}${i}`]));
    const big = Array.from({ length: 16 }, (_, i) => {
      const falco = runtime({ id: `b${i}`, at: 1000 + i * 1000 });
      return { falco: { ...falco, output_fields: { ...(falco.output_fields as JsonObject), ...anames(i) } } };
    });
    const [shared, exclusive] = [await run(big, false), await run(big, true)];
    const text = (await shared.store.get('corr:r:prod/shop/web-1'))!;
    expect(text.length).toBeLessThanOrEqual(MAX_RECORD_BYTES);
    const kept = (JSON.parse(text) as { fingerprint: string }[]).map((p) => p.fingerprint);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(16);
    for (const h of [shared, exclusive]) for (const item of late) await h.feed([item]);
    expect(await outcome(exclusive)).toEqual(await outcome(shared));
    expect(big.filter((_, i) => exclusive.alertOf(`b${i}`)!.attribution?.user === 'alice@example.com')).toHaveLength(kept.length);
  });

  it('replaces an older occurrence of the same alert with the newer one, as a shared store does', async () => {
    // Pending longer than the dedup window: the same activity opens a new alert while the first is pending.
    const long = { correlation: { lateAuditSeconds: 7200 } };
    const feed = async (h: Harness) => {
      await h.feed([{ falco: runtime({ id: 'again', at: 1000 }) }]);
      for (const item of shells.slice(0, 3)) await h.feed([item]);
      h.clock.advance(3_600_001);
      await h.feed([{ falco: runtime({ id: 'again', at: 3_700_000 }) }]);
    };
    const clock = new VirtualClock(Date.parse('2026-03-01T10:00:00Z'));
    const dataDir = await openDataDir(tempDir(), clock.now());
    try {
      const store = new DurableStateStore(clock, dataDir);
      const [shared, exclusive] = [harness([], long), harness([], long, undefined, { store, clock }, true)];
      for (const h of [shared, exclusive]) await feed(h);
      const list = (h: Harness) => h.store.get('corr:r:prod/shop/web-1');
      const entries = JSON.parse((await list(exclusive))!) as { fingerprint: string; firstSeen: number }[];
      expect(entries.map((e) => e.firstSeen)).toEqual([...Array<number>(3).fill(clock.now() - 3_600_001), clock.now()]);
      expect(entries.at(-1)!.fingerprint).toBe(exclusive.alertOf('again')!.fingerprint);
      expect(await list(exclusive)).toBe(await list(shared));
      for (const h of [shared, exclusive]) for (const item of late) await h.feed([item]);
      expect(exclusive.alertOf('again')!.attribution?.user).toBe('alice@example.com');
      expect(await outcome(exclusive)).toEqual(await outcome(shared));
    } finally {
      await dataDir.close();
    }
  });

  /** Embedded harness with `lateAuditAlerts` places; the stream fed, then alice's exec into each of `execs` (late). */
  async function bounded(lateAuditAlerts: number, stream: Item[], execs: string[]) {
    const clock = new VirtualClock(Date.parse('2026-03-01T10:00:00Z'));
    // Recent alerts that hold them all: a pushed-out alert is still there to look at.
    const recent = new RecentAlerts(1000);
    const h = harness(
      [],
      { correlation: { lateAuditAlerts } },
      undefined,
      { store: new MemoryStateStore(clock), clock, recent },
      true,
    );
    for (const item of stream) await h.feed([item]);
    for (const pod of execs)
      for (const audit of session({ id: `exec-${pod}`, user: 'alice@example.com', pod, container: 'app', start: 0 }))
        await h.feed([{ audit }]);
    return (id: string) => h.alertOf(id)!.attribution?.user ?? null;
  }

  it("keeps at most `lateAuditAlerts` pending alerts in all in embedded mode: the oldest leave their pods' lists", async () => {
    const stream = Array.from({ length: 10 }, (_, i) => ({ falco: runtime({ id: `p${i}`, pod: `web-${i}`, at: 1000 + i }) }));
    const user = await bounded(8, stream, ['web-0', 'web-1', 'web-2', 'web-9']);
    // The first two were pushed out by newer alerts of other pods; the third is still pending.
    expect(['p0', 'p1', 'p2', 'p9'].map(user)).toEqual([null, null, 'alice@example.com', 'alice@example.com']);
  });

  it("does not let a noisy pod push out a quiet pod's pending alert: a pod holds at most 16 places", async () => {
    const quiet = { falco: runtime({ id: 'q0', pod: 'web-quiet', at: 1000 }) };
    const noisy = Array.from({ length: 40 }, (_, i) => ({ falco: runtime({ id: `n${i}`, pod: 'web-noisy', at: 2000 + i }) }));
    const user = await bounded(20, [quiet, ...noisy], ['web-quiet', 'web-noisy']);
    expect(user('q0')).toBe('alice@example.com');
    // The noisy pod's own newest 16 are attributed, its older ones were pushed out by them.
    const attributed = noisy.map((_, i) => user(`n${i}`));
    expect(attributed).toEqual([...Array<null>(24).fill(null), ...Array<string>(16).fill('alice@example.com')]);
  });

  it('with a data dir, writes the list a shared store writes, and updates after a restart the alerts of before it', async () => {
    const dir = tempDir();
    const clock = new VirtualClock(Date.parse('2026-03-01T10:00:00Z'));
    const opened: { close(): Promise<void> }[] = [];
    const open = async () => {
      const dataDir = await openDataDir(dir, clock.now());
      opened.push(dataDir);
      const store = new DurableStateStore(clock, dataDir);
      const recent = durableRecentAlerts(1000, dataDir);
      return { dataDir, h: harness([], {}, undefined, { store, clock, recent }, true) };
    };
    try {
      const shared = await run(shells, false);
      const first = await open();
      for (const item of shells) await first.h.feed([item]);
      expect(await first.h.store.get('corr:r:prod/shop/web-1')).toBe(await shared.store.get('corr:r:prod/shop/web-1'));
      await first.dataDir.close();
      clock.advance(60_000);
      const second = await open();
      for (const item of late) await second.h.feed([item]);
      const users = second.h.recent
        .list()
        .filter((a) => a.source === 'falco')
        .map((a) => a.attribution?.user ?? null);
      expect(users).toHaveLength(20);
      expect(users.filter((u) => u === 'alice@example.com')).toHaveLength(16);
    } finally {
      for (const d of opened) await d.close().catch(() => undefined);
    }
  });
});

describe('embedded mode, one synchronous turn', () => {
  it('merges incidents linked by an alert as a shared store does', async () => {
    const exec = (id: string, user: string, pod: string, start: number): Item[] =>
      session({ id, user, pod, container: 'app', start, end: start + 60_000 }).map((audit) => ({ audit }));
    const stream: Item[] = [
      ...exec('e1', 'alice@example.com', 'web-1', 0),
      ...exec('e2', 'bob@example.com', 'web-2', 10_000),
      ...exec('e3', 'alice@example.com', 'web-2', 20_000),
      { falco: runtime({ id: 'r1', pod: 'web-2', at: 15_000 }) },
    ];
    const [shared, exclusive] = [await run(stream, false), await run(stream, true)];
    expect(await outcome(exclusive)).toEqual(await outcome(shared));
    const listed = await exclusive.incidents.list(10);
    expect(listed).toHaveLength(1);
    expect(listed[0]!.alertCount).toBe(4);
    expect(exclusive.alertOf('r1')?.incident?.id).toBe(listed[0]!.id);
  });

  it('correlates, tracks and observes a runtime alert without a promise; a shared store still gets one', async () => {
    const ctx = { cluster: 'prod', receivedAt: 0, maxFieldLength: 4096 };
    const engine = new RuleEngine(loadRuleSet({ builtin: true }));
    const detect = (id: string, at: number) => engine.detect(normaliseFalco(runtime({ id, at }), ctx))[0]!;
    const detection = detect('p2', 2000);
    const correlator = (exclusiveStore: boolean) =>
      correlationFromConfig(validateConfig({ cluster: 'prod' }), {
        store: new MemoryStateStore(new VirtualClock(0)),
        amend: async () => undefined,
        exclusiveStore,
      })!.correlator;
    const local = correlator(true);
    // The incident's first member writes its pod key (through `set`: a promise); a later one has nothing to wait for.
    expect(local.correlate(detect('p1', 1000), {})).toBeInstanceOf(Promise);
    const correlation = local.correlate(detection, {});
    expect(correlation).not.toBeInstanceOf(Promise);
    expect((correlation as Correlation).incident?.alerts).toBe(2);
    const alert = {
      ...detection,
      fingerprint: 'fp-1',
      enrichment: {},
      event: detection.event,
      count: 1,
      firstSeen: 1,
      lastSeen: 1,
    } as unknown as Alert;
    expect(local.track(alert)).toBeUndefined();
    expect(local.observe(detection.event)).toBeUndefined();
    const exec = normaliseAudit(session({ id: 'x1', user: 'alice@example.com', container: 'app', start: 0 })[0]!, ctx);
    await expect(local.observe(exec)).resolves.toBeUndefined();

    const remote = correlator(false);
    const pending = remote.correlate(detection, {});
    expect(pending).toBeInstanceOf(Promise);
    expect((await pending).incident?.alerts).toBe(1);
    expect(remote.track(alert)).toBeInstanceOf(Promise);
  });
});
