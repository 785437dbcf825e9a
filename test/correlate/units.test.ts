import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualClock } from '../../src/core/clock';
import { RuleError } from '../../src/core/errors';
import { attribute } from '../../src/correlate/attribution';
import { factsOf, type AlertFacts, type FactSource } from '../../src/correlate/facts';
import { serialiseHead, withMember, type Incident } from '../../src/correlate/incidents';
import { BUILTIN_CHAINS_DIR, loadChains, readChainFixtures, runChainFixtures } from '../../src/correlate/chains';
import { addSession, sessionFromAudit, type Session } from '../../src/correlate/sessions';
import { MAX_RECORD_BYTES, PodIndex, updateList } from '../../src/correlate/state';
import { GenerationalCache } from '../../src/store/local';
import { NONE, PendingSlots, PodPending } from '../../src/correlate/pending';
import type { RuntimeTarget } from '../../src/correlate/attribution';
import { normaliseAudit } from '../../src/ingest/audit';
import { normaliseFalco } from '../../src/ingest/falco';
import { partitionKey } from '../../src/core/event';
import { MemoryStateStore } from '../../src/store/memory';
import { debugPatch, runtime, session, T0 } from './streams';

const ctx = { cluster: 'prod', receivedAt: 0, maxFieldLength: 4096 };

describe('the built-in chain pack', () => {
  const chains = loadChains([BUILTIN_CHAINS_DIR]);

  it('has at least six chains, each with a runbook that exists', () => {
    expect(chains.length).toBeGreaterThanOrEqual(6);
    for (const c of chains)
      expect([c.chain, c.runbook && existsSync(join(__dirname, '..', '..', c.runbook))]).toEqual([c.chain, true]);
  });

  it('passes its fixtures, with a fire and a miss case for every chain', () => {
    const results = runChainFixtures(chains, readChainFixtures([BUILTIN_CHAINS_DIR]));
    expect(results.filter((r) => !r.ok)).toEqual([]);
    for (const c of chains) {
      expect(results.some((r) => r.chain === c.chain && r.kind === 'fire')).toBe(true);
      expect(results.some((r) => r.chain === c.chain && r.kind === 'miss')).toBe(true);
    }
  });

  it('reports a chain without a miss fixture', () => {
    const results = runChainFixtures(chains, []);
    expect(results.filter((r) => r.kind === 'coverage' && !r.ok)).toHaveLength(chains.length);
  });
});

describe('chain files', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'chains-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('names the file and the problem: a variable no earlier step binds, a bad span', () => {
    writeFileSync(
      join(dir, 'x.yaml'),
      `- chain: bad\n  name: Bad\n  description: d\n  maxSpan: 10 minutes\n  steps:\n    - {name: a, rules: [r1]}\n    - {name: b, equal: {who: user}}\n`,
    );
    expect(() => loadChains([dir])).toThrow(RuleError);
    expect(() => loadChains([dir])).toThrow(/x\.yaml: 0\.maxSpan: a duration/);
    writeFileSync(
      join(dir, 'x.yaml'),
      `- chain: bad\n  name: Bad\n  description: d\n  maxSpan: 10m\n  steps:\n    - {name: a, rules: [r1]}\n    - {name: b, equal: {who: user}}\n`,
    );
    expect(() => loadChains([dir])).toThrow(/chain bad: step "b" compares \$who, which no earlier step binds/);
  });

  it('lets a user folder replace a built-in chain by id', () => {
    writeFileSync(
      join(dir, 'mine.yaml'),
      `- chain: token-minted-then-new-ip\n  name: Mine\n  description: d\n  enabled: false\n  maxSpan: 1h\n  steps:\n    - {name: a, rules: [r1]}\n    - {name: b, rules: [r2]}\n`,
    );
    const chains = loadChains([BUILTIN_CHAINS_DIR, dir]);
    expect(chains.find((c) => c.chain === 'token-minted-then-new-ip')).toMatchObject({ name: 'Mine', enabled: false });
  });
});

describe('sessions from audit events', () => {
  it('reads the ephemeral container from the response when the request body is not logged', () => {
    const patch = debugPatch({ id: 'd1', user: 'carol', at: 0 });
    const withResponse = {
      ...patch,
      responseObject: { spec: { ephemeralContainers: [{ name: 'debugger-old' }, { name: 'debugger-new' }] } },
    };
    expect(sessionFromAudit(normaliseAudit(withResponse, ctx))?.session.containers).toEqual(['debugger-new']);
    // Metadata level: no body at all — a pod-level debug session.
    expect(sessionFromAudit(normaliseAudit(patch, ctx))?.session.containers).toEqual([]);
  });

  it('bounds the command line, and keeps the open sessions when a pod has too many', () => {
    const long = sessionFromAudit(
      normaliseAudit(session({ id: 'e1', user: 'a', command: ['sh', '-c', 'x'.repeat(5000)], start: 0 })[0]!, ctx),
    )!.session;
    expect(long.command.join(' ').length).toBeLessThan(1100);
    let list: Session[] = [];
    const s = (id: string, start: number, end?: number): Session => ({
      ...long,
      auditID: id,
      start: T0 + start,
      ...(end ? { end: T0 + end } : {}),
    });
    list = addSession(list, s('open-1', 0), 3);
    list = addSession(list, s('ended-1', 10, 20), 3);
    list = addSession(list, s('open-2', 30), 3);
    list = addSession(list, s('ended-2', 40, 50), 3);
    expect(list.map((x) => x.auditID)).toEqual(['open-1', 'open-2', 'ended-2']);
  });

  it('makes the skew allowance configurable', () => {
    const one = sessionFromAudit(
      normaliseAudit(session({ id: 'e1', user: 'a', container: 'app', start: 3000, end: 60_000 })[0]!, ctx),
    )!;
    const target = { key: one.key, container: 'app', timeMs: T0, names: [] };
    expect(attribute(target, [one.session], { skewMs: 2000, maxSessionMs: 3_600_000 })).toBeUndefined();
    expect(attribute(target, [one.session], { skewMs: 5000, maxSessionMs: 3_600_000 })?.confidence).toBe('low');
  });
});

describe('bounded correlation state', () => {
  it('cuts a record from its oldest entries to fit the byte limit', async () => {
    const store = new MemoryStateStore(new VirtualClock());
    const entries = Array.from({ length: 100 }, (_, i) => ({ i, pad: 'x'.repeat(1000) }));
    const kept = await updateList<{ i: number }>(store, 'k', 60_000, () => entries.slice());
    expect(JSON.stringify(kept).length).toBeLessThanOrEqual(MAX_RECORD_BYTES);
    expect(kept.at(-1)!.i).toBe(99);
    expect(kept[0]!.i).toBeGreaterThan(0);
  });

  it('forgets the least recently used pod beyond the maximum', () => {
    const forgotten: string[] = [];
    const index = new PodIndex(3, (p) => forgotten.push(p));
    for (const pod of ['a', 'b', 'c', 'a', 'd', 'c', 'e']) index.touch(pod);
    expect([index.size, forgotten]).toEqual([3, ['b', 'a']]);
    for (let i = 0; i < 100; i++) index.touch(`pod-${i}`);
    expect([index.size, forgotten.slice(2, 5)]).toEqual([3, ['d', 'c', 'e']]);
  });

  it('marks a pod used through its node, and stands a new node for a pod whose node was evicted', () => {
    const forgotten: string[] = [];
    const index = new PodIndex(2, (p) => forgotten.push(p));
    const a = index.node('a');
    index.node('b');
    expect(index.use(a)).toBe(a); // a is now the most recently used: b goes first
    index.node('c');
    expect(forgotten).toEqual(['b']);
    index.node('d'); // a goes
    expect([forgotten, a.indexed]).toEqual([['b', 'a'], false]);
    const again = index.use(a);
    expect([again === a, again.pod, again.indexed, index.peek('a') === again]).toEqual([false, 'a', true, true]);
  });

  it('keeps pending alerts in slots: each on its pod list and on the queue, oldest first, slots reused', () => {
    const slots = new PendingSlots();
    const target = (key: string): RuntimeTarget => ({ key, timeMs: 1, names: ['sh'] });
    const fps = (pod: PodPending) => {
      const out: string[] = [];
      for (let s = pod.first; s !== NONE; s = slots.next(s)) out.push(slots.fingerprint[s]!);
      return out;
    };
    const queue = () => {
      const out: string[] = [];
      while (slots.oldest !== NONE) {
        out.push(slots.fingerprint[slots.oldest]!);
        slots.drop(slots.oldest);
      }
      return out;
    };
    const a = new PodPending();
    const b = new PodPending();
    // More than the arrays' first size, so they grow with entries in them.
    for (let i = 0; i < 600; i++)
      slots.add(i % 2 ? b : a, `fp-${i}`, i, target(i % 2 ? 'b' : 'a'), undefined, 1000 + i, undefined);
    expect([slots.size, a.count, b.count]).toEqual([600, 300, 300]);
    expect(fps(a).slice(0, 3)).toEqual(['fp-0', 'fp-2', 'fp-4']);
    const s = slots.find(b, 'fp-301');
    expect([slots.firstSeen[s], slots.until[s], slots.target[s]!.key]).toEqual([301, 1301, 'b']);
    expect([slots.find(a, 'fp-301'), slots.find(b, 'fp-9999')]).toEqual([NONE, NONE]);
    const version = slots.version[s]!;
    slots.drop(s);
    expect([slots.find(b, 'fp-301'), b.count, fps(b).slice(149, 152)]).toEqual([NONE, 299, ['fp-299', 'fp-303', 'fp-305']]);
    // The freed slot is the next one taken, with a new version.
    expect(slots.add(a, 'fp-new', 1, target('a'), undefined, 1, undefined)).toBe(s);
    expect(slots.version[s]).not.toBe(version);
    expect(fps(a).at(-1)).toBe('fp-new');
    const order = queue();
    expect([order.length, order.slice(0, 3), order.at(-1), order.includes('fp-301')]).toEqual([
      600,
      ['fp-0', 'fp-1', 'fp-2'],
      'fp-new',
      false,
    ]);
    expect([slots.size, a.count, b.count, a.first, b.last, a.bound, b.bound]).toEqual([0, 0, 0, NONE, NONE, 2, 2]);
  });

  it("writes a pod's pending list as the shared store's record, and cuts it from the front to fit", () => {
    const slots = new PendingSlots();
    const pod = new PodPending();
    const long = 'x'.repeat(10_000);
    for (let i = 0; i < 8; i++)
      slots.add(pod, `fp-${i}`, i, { key: 'c/ns/p', timeMs: i, names: [long] }, undefined, 100, undefined);
    const one = slots.json(pod.first);
    expect(JSON.parse(one)).toEqual({ fingerprint: 'fp-0', firstSeen: 0, target: { key: 'c/ns/p', timeMs: 0, names: [long] } });
    expect(pod.bound).toBeGreaterThan(MAX_RECORD_BYTES); // the bound over: the exact length decides
    slots.cutToFit(pod, MAX_RECORD_BYTES);
    const list = JSON.parse(slots.listText(pod)) as { fingerprint: string }[];
    expect(list.map((p) => p.fingerprint)).toEqual(['fp-2', 'fp-3', 'fp-4', 'fp-5', 'fp-6', 'fp-7']);
    expect(slots.listText(pod).length).toBeLessThanOrEqual(MAX_RECORD_BYTES);
    const s = slots.find(pod, 'fp-7');
    slots.reattributed(s, { confidence: 'high', user: 'alice', auditID: 'a1', candidates: [{ auditID: 'a1' }] }, undefined);
    expect((JSON.parse(slots.listText(pod)) as { attribution?: { user: string } }[]).at(-1)!.attribution!.user).toBe('alice');
  });

  it('bounds a generational cache, moving what is read to the young generation', () => {
    const cache = new GenerationalCache<number>(4);
    cache.set('a', 1);
    cache.set('b', 2); // young full: a and b are now the old generation
    cache.set('c', 3);
    expect(cache.get('a')).toBe(1); // moved back to the young one, which is full again: c and a are the old ones
    cache.set('d', 4);
    expect([cache.get('b'), cache.get('a')]).toEqual([undefined, 1]);
    for (let i = 0; i < 100; i++) cache.set(`k${i}`, i);
    expect(cache.size).toBeLessThanOrEqual(4);
  });
});

describe('bus partitioning', () => {
  it('keys an exec, a debug patch and the Falco events of one pod to the same partition', () => {
    const exec = normaliseAudit(session({ id: 'e1', user: 'a', pod: 'web-1', start: 0 })[0]!, ctx);
    const debug = normaliseAudit(debugPatch({ id: 'd1', user: 'a', pod: 'web-1', at: 0 }), ctx);
    const shell = normaliseFalco(runtime({ id: 'r1', at: 1000, pod: 'web-1' }), ctx);
    const fromField = normaliseFalco(runtime({ id: 'r2', at: 1000, pod: 'web-1', cluster: 'prod' }), {
      ...ctx,
      cluster: 'default',
    });
    const other = normaliseFalco(runtime({ id: 'r3', at: 1000, pod: 'web-2' }), ctx);
    expect(new Set([exec, debug, shell, fromField].map(partitionKey))).toEqual(new Set(['prod/shop/web-1']));
    expect(partitionKey(other)).not.toBe(partitionKey(shell));
  });
});

describe('incident records', () => {
  const facts = (i: number, summary = `shell ${i}`): AlertFacts => ({
    fingerprint: `fp-${i % 4}`,
    timeMs: T0 + i * 1000,
    time: new Date(T0 + i * 1000).toISOString(),
    source: 'falco',
    rule: 'Terminal shell in container',
    ruleId: 'terminal-shell-in-container',
    priority: i === 3 ? 'critical' : 'notice',
    tags: ['T1059', 'a "quoted" tag'],
    summary,
    cluster: 'prod',
    namespace: 'shop',
    pod: `web-${i}`,
    user: 'alice@example.com',
  });

  it('stores the head without the timeline, naming each entry by its text, as members join and change', () => {
    const options = { windowMs: 600_000, maxAlerts: 3, chains: [], recent: 10 };
    let incident: Incident | undefined;
    const keys = new Map<string, string>();
    for (let i = 0; i < 6; i++) {
      incident = withMember(incident, facts(i), options);
      const { entries, ...head } = JSON.parse(serialiseHead(incident)) as { entries: string[] } & Record<string, unknown>;
      const { timeline, ...expected } = JSON.parse(JSON.stringify(incident)) as Incident;
      expect(head).toEqual(expected);
      expect(entries).toHaveLength(timeline.length);
      expect(new Set(entries).size).toBe(entries.length);
      timeline.forEach((t, n) => {
        const seen = keys.get(JSON.stringify(t));
        if (seen) expect(entries[n]).toBe(seen); // the same entry keeps its key
        keys.set(JSON.stringify(t), entries[n]!);
      });
    }
    // A member whose facts changed (a late attribution) is a new entry under a new key.
    const before = (JSON.parse(serialiseHead(incident!)) as { entries: string[] }).entries;
    incident = withMember(incident, { ...facts(5), summary: 'now attributed' }, options);
    const after = (JSON.parse(serialiseHead(incident)) as { entries: string[] }).entries;
    expect(incident.timeline.map((t) => t.summary)).toEqual(['shell 3', 'shell 4', 'now attributed']);
    expect(after.slice(0, 2)).toEqual(before.slice(0, 2));
    expect(after[2]).not.toBe(before[2]);
  });
});

describe("an alert's facts", () => {
  const falco = normaliseFalco(runtime({ id: 'r1', pod: 'web-1', at: 0 }), ctx);
  const finding = { id: 'secrets-read', severity: 'high' as const, title: 't', scope: 'cluster', grantedBy: 'b' };
  const account = (findings: (typeof finding)[]) => ({
    known: true as const,
    user: 'system:serviceaccount:shop:web',
    kind: 'serviceaccount' as const,
    groups: [],
    origin: 'pod-service-account' as const,
    bindings: [],
    bindingCount: 0,
    findings,
    findingCount: findings.length,
  });
  const source = (extra: Partial<FactSource>): FactSource => ({
    fingerprint: 'fp',
    rule: 'Terminal shell in container',
    ruleId: 'Terminal shell in container',
    priority: 'notice',
    tags: ['shell'],
    summary: 's',
    event: falco,
    enrichment: {},
    ...extra,
  });
  /** Every field in the order of `AlertFacts`, as JSON writes them: what each kind of alert must come out as. */
  const ORDER = ['fingerprint', 'timeMs', 'time', 'source', 'rule', 'ruleId', 'priority', 'tags', 'summary', 'cluster'];
  const inOrder = (f: AlertFacts) => {
    const keys = Object.keys(JSON.parse(JSON.stringify(f)) as object);
    const all = [...ORDER, 'namespace', 'pod', 'container', 'user', 'sourceIp', 'auditID', 'bindingSubjects', 'tokenSubject'];
    const rank = (k: string) => [...all, 'podServiceAccountRisks', 'subjectRisks'].indexOf(k);
    return keys.every((k, i) => rank(k) !== -1 && (i === 0 || rank(keys[i - 1]!) < rank(k)));
  };

  it('of a runtime alert nobody is attributed: its own fields, the pod service account risks, in the usual order', () => {
    const none = factsOf(source({ enrichment: { subject: account([]) } }));
    const some = factsOf(source({ enrichment: { subject: account([finding, { ...finding, id: 'exec' }]) } }));
    expect(none).toEqual({
      fingerprint: 'fp',
      timeMs: T0,
      time: falco.time,
      source: 'falco',
      rule: 'Terminal shell in container',
      ruleId: 'Terminal shell in container',
      priority: 'notice',
      tags: ['shell'],
      summary: 's',
      cluster: 'prod',
      namespace: 'shop',
      pod: 'shop/web-1',
      container: 'app',
      podServiceAccountRisks: [],
    });
    expect(some.podServiceAccountRisks).toEqual(['secrets-read', 'exec']);
    expect([inOrder(none), inOrder(some)]).toEqual([true, true]);
  });

  it('of an attributed runtime alert and of an audit alert: the user, session and source fields too, in the same order', () => {
    const attributed = factsOf(
      source({
        enrichment: { subject: account([finding]) },
        attribution: {
          user: 'alice',
          groups: [],
          sourceIPs: [],
          userAgent: 'kubectl',
          auditID: 'a1',
          command: null,
          confidence: 'high',
          candidates: [],
          subject: { ...account([]), user: 'alice', kind: 'user', origin: 'attributed-user' },
        },
      }),
    );
    expect(attributed).toMatchObject({
      user: 'alice',
      auditID: 'a1',
      podServiceAccountRisks: ['secrets-read'],
      subjectRisks: [],
    });
    const [exec] = session({ id: 'e1', user: 'bob', pod: 'web-1', container: 'app', start: 0, end: 1000 }).map((a) =>
      normaliseAudit(a, ctx),
    );
    const audit = factsOf(source({ event: exec!, rule: 'Attach/Exec Pod', ruleId: 'attach-exec-pod' }));
    expect(audit).toMatchObject({ source: 'k8s_audit', user: 'bob', auditID: 'e1', pod: 'shop/web-1' });
    expect([inOrder(attributed), inOrder(audit)]).toEqual([true, true]);
  });
});
