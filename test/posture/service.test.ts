import { readdirSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { Alert, Detection } from '../../src/core/alert';
import { VirtualClock } from '../../src/core/clock';
import { ClusterState } from '../../src/enrich/cluster-state/state';
import { DRIFT_RULES, postureDrift } from '../../src/posture/drift';
import { buildPosture } from '../../src/posture/report';
import { parseSchedule, type Schedule } from '../../src/posture/schedule';
import { PostureService } from '../../src/posture/service';

const ns = (name: string, enforce?: string) => ({
  kind: 'Namespace',
  metadata: { name, ...(enforce ? { labels: { 'pod-security.kubernetes.io/enforce': enforce } } : {}) },
});
const denyAll = (namespace: string, name = 'default-deny') => ({
  kind: 'NetworkPolicy',
  metadata: { name, namespace },
  spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
});
const crb = (name: string, role: string, subject: Record<string, string>) => ({
  kind: 'ClusterRoleBinding',
  metadata: { name },
  roleRef: { kind: 'ClusterRole', name: role },
  subjects: [subject],
});
const clusterAdmin = {
  kind: 'ClusterRole',
  metadata: { name: 'cluster-admin' },
  rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
};

function cluster(): ClusterState {
  const s = new ClusterState('prod');
  for (const o of [ns('shop', 'restricted'), ns('pay', 'baseline'), denyAll('shop'), denyAll('pay'), clusterAdmin]) s.upsert(o);
  s.upsert(crb('admins', 'cluster-admin', { kind: 'Group', name: 'ops' }));
  return s;
}

function service(state: ClusterState, clock: VirtualClock, extra: Partial<ConstructorParameters<typeof PostureService>[0]> = {}) {
  const raised: Detection[] = [];
  const recent: Alert[] = [];
  const svc = new PostureService({
    state: (c) => (c === 'prod' ? state : undefined),
    cluster: 'prod',
    clock,
    minRebuildMs: 30_000,
    driftIntervalMs: 60_000,
    raise: async (d) => raised.push(d),
    recentAlerts: () => recent,
    ...extra,
  });
  return { svc, raised, recent };
}

describe('posture drift', () => {
  it('what got worse: enforce lowered, a new cluster-admin, the last default-deny gone — and not what got better', () => {
    const s = cluster();
    const before = buildPosture(s, { now: 0 });
    s.upsert(ns('shop', 'baseline'));
    s.upsert(ns('pay', 'restricted'));
    s.delete('NetworkPolicy', 'pay', 'default-deny');
    s.upsert(denyAll('shop', 'second')); // shop keeps a default-deny
    s.delete('NetworkPolicy', 'shop', 'default-deny');
    s.upsert({ kind: 'ClusterRole', metadata: { name: 'god' }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] });
    s.upsert(crb('ci', 'god', { kind: 'ServiceAccount', name: 'deployer', namespace: 'ci' }));
    s.upsert(crb('admins-2', 'cluster-admin', { kind: 'Group', name: 'ops' })); // ops was admin already
    const drift = postureDrift(before, buildPosture(s, { now: 1 }));
    expect(drift.map((d) => [d.kind, d.object.name, d.summary])).toEqual([
      [
        'enforce-lowered',
        'shop',
        'Pod Security enforce level of namespace shop lowered from restricted:latest to baseline:latest',
      ],
      ['new-cluster-admin', 'ci', expect.stringContaining('ServiceAccount ci/deployer now has full control of the cluster')],
      ['default-deny-lost', 'pay', 'namespace pay lost its last default-deny ingress and egress NetworkPolicy'],
    ]);
  });

  it('removing the enforce label lowers it to privileged', () => {
    const s = cluster();
    const before = buildPosture(s, { now: 0 });
    s.upsert(ns('pay'));
    expect(postureDrift(before, buildPosture(s, { now: 1 })).map((d) => d.summary)).toEqual([
      'Pod Security enforce level of namespace pay lowered from baseline:latest to privileged:latest (label removed)',
    ]);
  });

  it('the service raises drift on the clock, as detections of the rule-pack rule, once per change', async () => {
    const clock = new VirtualClock(1_000_000);
    const s = cluster();
    const { svc, raised } = service(s, clock);
    expect(await svc.evaluateDrift()).toEqual([]); // the first evaluation is the baseline
    s.upsert(ns('shop', 'baseline'));
    clock.advance(60_000);
    const drift = await svc.evaluateDrift();
    expect(drift).toHaveLength(1);
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({
      ruleId: 'namespace-podsecurity-enforce-lowered',
      rule: 'Namespace PodSecurity Enforce Level Lowered',
      priority: 'warning',
      runbook: 'docs/runbooks/namespace-podsecurity-enforce-lowered.md',
      event: {
        k8s: { cluster: 'prod', namespace: 'shop' },
        audit: { verb: 'drift', objectRef: { resource: 'namespaces', name: 'shop' } },
      },
    });
    clock.advance(60_000);
    expect(await svc.evaluateDrift()).toEqual([]); // nothing changed since
    expect(raised).toHaveLength(1);
  });

  it('a change the rule pack already alerted on (same rule, same object, since the last evaluation) is not raised again', async () => {
    const clock = new VirtualClock(1_000_000);
    const s = cluster();
    const { svc, raised, recent } = service(s, clock);
    await svc.evaluateDrift();
    clock.advance(30_000);
    s.delete('NetworkPolicy', 'pay', 'default-deny');
    recent.push({
      ruleId: 'default-deny-networkpolicy-removed',
      lastSeen: clock.now(),
      event: {
        audit: { stage: 'ResponseComplete', objectRef: { resource: 'networkpolicies', namespace: 'pay', name: 'default-deny' } },
      },
    } as unknown as Alert);
    s.upsert(ns('shop', 'privileged'));
    clock.advance(30_000);
    await svc.evaluateDrift();
    expect(raised.map((d) => d.ruleId)).toEqual(['namespace-podsecurity-enforce-lowered']);
  });

  it('no drift while the state is not ready (a live source still listing)', async () => {
    const clock = new VirtualClock(0);
    const s = new ClusterState('prod');
    let ready = false;
    const { svc, raised } = service(s, clock, { ready: () => ready });
    s.upsert(ns('shop', 'restricted'));
    expect(await svc.evaluateDrift()).toEqual([]);
    ready = true;
    await svc.evaluateDrift(); // baseline
    s.upsert(ns('shop', 'baseline'));
    clock.advance(60_000);
    expect((await svc.evaluateDrift()).map((d) => d.kind)).toEqual(['enforce-lowered']);
    expect(raised).toHaveLength(1);
  });

  it('the timer evaluates every driftIntervalMs', async () => {
    const clock = new VirtualClock(0);
    const s = cluster();
    const { svc, raised } = service(s, clock);
    svc.start();
    clock.advance(0); // the baseline, at once
    await new Promise((r) => setImmediate(r));
    s.upsert(ns('pay', 'privileged'));
    clock.advance(59_999);
    await new Promise((r) => setImmediate(r));
    expect(raised).toHaveLength(0);
    clock.advance(1);
    await new Promise((r) => setImmediate(r));
    expect(raised.map((d) => d.event.k8s.namespace)).toEqual(['pay']);
    svc.stop();
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('posture reports in the service', () => {
  it('cached until the state changes, rebuilt at most once per minRebuildMs, stale in between', () => {
    const clock = new VirtualClock(0);
    const s = cluster();
    const { svc } = service(s, clock);
    const first = svc.report()!;
    expect(first.stale).toBe(false);
    expect(svc.report()!.report).toBe(first.report);
    s.upsert(ns('pay', 'restricted'));
    clock.advance(29_999);
    expect(svc.report()).toEqual({ report: first.report, stale: true });
    clock.advance(1);
    const second = svc.report()!;
    expect(second.stale).toBe(false);
    expect(second.report).not.toBe(first.report);
    expect(second.report.pss!.namespaces.find((n) => n.namespace === 'pay')!.enforce).toBe('restricted:latest');
    expect(svc.report('other')).toBeUndefined();
  });
});

describe('posture digest', () => {
  it('sent at the scheduled wall-clock time on the virtual clock, saying what changed since the last one', async () => {
    // Tuesday 2026-12-01 10:00 UTC; the digest is Mondays 09:00 Berlin time (08:00 UTC in winter).
    const clock = new VirtualClock(Date.parse('2026-12-01T10:00:00Z'));
    const s = cluster();
    const sent: Alert[] = [];
    const { svc } = service(s, clock, {
      driftIntervalMs: 0,
      digest: {
        schedule: parseSchedule('MON 09:00') as Schedule,
        timeZone: 'Europe/Berlin',
        send: async (a) => void sent.push(a),
      },
    });
    svc.start();
    const monday = Date.parse('2026-12-07T08:00:00Z');
    clock.advance(monday - 1 - clock.now());
    await new Promise((r) => setImmediate(r));
    expect(sent).toHaveLength(0);
    clock.advance(1);
    await new Promise((r) => setImmediate(r));
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ ruleId: 'posture-digest', priority: 'informational', firstSeen: monday });
    expect(sent[0]!.summary).toContain('First digest since Falconer started');

    s.upsert(ns('pay')); // pss.no-enforce for pay appears
    clock.advance(7 * 24 * 3600_000);
    await new Promise((r) => setImmediate(r));
    expect(sent).toHaveLength(2);
    // The enforce label gone: "no enforce" is new, "enforce can be raised" (baseline, pods meet restricted) is gone.
    expect(sent[1]!.summary).toContain('Since the last digest: 1 new finding, 1 fixed.');
    expect(sent[1]!.summary).toContain('Fixed:\n• namespace pay enforces baseline, but all its pods meet restricted');
    expect(sent[1]!.summary).toContain('namespace pay has no pod-security.kubernetes.io/enforce label');
    svc.stop();
  });
});

describe('drift reuses the rule pack', () => {
  it('each drift kind names a rule of the built-in pack by its id and name', () => {
    const dir = `${__dirname}/../../rules/k8s_audit`;
    const rules = readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .flatMap((f) => parse(readFileSync(`${dir}/${f}`, 'utf8')) as { rule?: string; name?: string }[])
      .filter((r) => r.rule);
    for (const { ruleId, rule } of Object.values(DRIFT_RULES)) {
      expect(rules.find((r) => r.rule === ruleId)?.name).toBe(rule);
    }
  });
});
