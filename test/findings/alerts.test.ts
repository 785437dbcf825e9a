import pino from 'pino';
import { FindingAlerts } from '../../src/alert/findings';
import { fingerprint } from '../../src/alert/fingerprint';
import { RecentAlerts } from '../../src/alert/recent';
import { Reconciler } from '../../src/alert/resolve';
import { AlertStage } from '../../src/alert/stage';
import type { Alert } from '../../src/core/alert';
import { VirtualClock } from '../../src/core/clock';
import { ClusterStates } from '../../src/enrich/cluster-state/clusters';
import { loadSnapshot } from '../../src/enrich/cluster-state/snapshot';
import { noEnrichment } from '../../src/enrich/port';
import { findingDetection, PRIORITY_OF_SEVERITY } from '../../src/findings/alerts';
import { Dispatcher } from '../../src/notify/dispatcher';
import type { Notifier } from '../../src/notify/port';
import { createMetrics } from '../../src/observability/metrics';
import { MemoryStateStore } from '../../src/store/memory';
import { fixture, one, revised } from './fixtures';

const HOUR = 3_600_000;

function setup() {
  const clock = new VirtualClock(1_764_579_600_000);
  const store = new MemoryStateStore(clock);
  const metrics = createMetrics();
  const sent: Alert[] = [];
  const notifier: Notifier = { name: 'n', minPriority: 'debug', send: async (a) => void sent.push(a) };
  const log = pino({ level: 'silent' });
  const dispatcher = new Dispatcher([notifier], store, clock, metrics, log, {
    maxAttempts: 3,
    baseDelayMs: 1000,
    maxDelayMs: 1000,
    updateDebounceMs: 1000,
    windowMs: HOUR,
    queueCapacity: 100,
    deadLetterCapacity: 10,
  });
  const recentAlerts = new RecentAlerts(100);
  const stage = new AlertStage(store, recentAlerts, dispatcher, metrics, clock, {
    dedupWindowMs: HOUR,
    runbookUrlTemplate: 'https://runbooks.example.com/{rule}',
    runbooks: {},
  });
  const states = new ClusterStates();
  const resolvedAlerts: Alert[] = [];
  const findings = new FindingAlerts(stage, noEnrichment, clock, log, {
    recent: recentAlerts,
    announcer: { resolve: async (a) => void resolvedAlerts.push(a) },
  });
  states.onFindingChange(findings.listener);
  const settle = async () => {
    await findings.idle();
    await dispatcher.settled();
  };
  const reconciler = new Reconciler(recentAlerts, dispatcher, undefined, metrics, clock, log, {
    resolveAfterMs: 5 * 60_000,
    intervalMs: 10_000,
    held: (a) => findings.holds(a.fingerprint),
  });
  return { clock, states, findings, sent, settle, resolvedAlerts, recentAlerts, reconciler };
}

const withCve = (id: string) =>
  revised(one('vulnerabilityreport'), (o) =>
    o.report.vulnerabilities.push({
      vulnerabilityID: id,
      resource: 'openssl',
      installedVersion: '3.0.11',
      fixedVersion: '3.0.15',
      severity: 'CRITICAL',
      score: 9.8,
      title: 'openssl: <b>bad</b>',
    }),
  );

describe('findings alerts', () => {
  it('raises no alert for what already fails at start-up (snapshot), then one per new finding', async () => {
    const { states, sent, settle } = setup();
    const state = states.get('prod');
    loadSnapshot(
      JSON.stringify({ kind: 'List', items: [...fixture('events'), one('vulnerabilityreport'), one('constraint')] }),
      state,
    );
    await settle();
    expect(sent).toEqual([]);
    expect(state.findings.size().reports).toBe(7);

    state.upsertFinding(withCve('CVE-2025-1111'), 'live');
    await settle();
    expect(sent).toHaveLength(1);
    const alert = sent[0] as Alert;
    expect(alert).toMatchObject({ source: 'trivy', rule: 'New vulnerability in workload image', priority: 'critical' });
    expect(alert.summary).toBe(
      'CVE-2025-1111 (critical) on ReplicaSet shop/checkout-7d4b9c8f6d (container checkout): openssl 3.0.11, fixed in 3.0.15',
    );
    expect(alert.event.finding).toMatchObject({ check: 'CVE-2025-1111', severity: 'critical', resource: { kind: 'ReplicaSet' } });
    expect(alert.labels).toMatchObject({ source: 'trivy', cluster: 'prod', priority: 'critical' });
  });

  it('deduplicates a finding re-reported (trivy-operator resends everything) and resolves it when it goes', async () => {
    const { states, findings, sent, settle, clock, resolvedAlerts } = setup();
    const state = states.get('prod');
    state.upsertFinding(one('vulnerabilityreport'), 'state');
    state.upsertFinding(withCve('CVE-2025-2222'), 'live');
    await settle();
    // The report is deleted and made again (a rescan): nothing resolves, the same finding folds in.
    state.deleteFinding('VulnerabilityReport', 'shop', 'replicaset-checkout-7d4b9c8f6d-checkout', 'live');
    state.upsertFinding(one('vulnerabilityreport'), 'state');
    clock.advance(60_000);
    state.upsertFinding(withCve('CVE-2025-2222'), 'live');
    await settle();
    // Announced once; the second report folds into it (a debounced refresh, not a new message).
    expect(sent).toHaveLength(1);
    state.upsertFinding(one('vulnerabilityreport'), 'live');
    await settle();
    expect(findings.resolved().at(-1)).toMatchObject({ cluster: 'prod' });
    expect(findings.resolved().at(-1)?.id).toContain('CVE-2025-2222');
    // Its alert resolves, and receivers are told once.
    expect(resolvedAlerts.map((a) => a.fingerprint)).toEqual([sent[0]?.fingerprint]);
    expect(resolvedAlerts[0]?.resolvedAt).toBe(clock.now());
  });

  it('keeps a finding alert firing past the quiet period while the finding fails; resolves it when it goes', async () => {
    const { states, findings, sent, settle, clock, resolvedAlerts, recentAlerts, reconciler } = setup();
    const state = states.get('prod');
    state.upsertFinding(one('vulnerabilityreport'), 'state');
    state.upsertFinding(withCve('CVE-2025-3333'), 'live');
    await settle();
    const fp = sent[0]!.fingerprint;
    expect(findings.holds(fp)).toBe(true);
    clock.advance(HOUR);
    await reconciler.tick();
    expect(recentAlerts.get(fp)?.resolvedAt).toBeUndefined();
    // The rescan no longer lists it: resolved now, by the finding going away, not by the quiet period.
    clock.advance(60_000);
    state.upsertFinding(one('vulnerabilityreport'), 'live');
    await settle();
    expect(findings.holds(fp)).toBe(false);
    expect(recentAlerts.get(fp)?.resolvedAt).toBe(clock.now());
    expect(resolvedAlerts.map((a) => a.fingerprint)).toEqual([fp]);
  });

  it('lets the quiet period resolve a finding alert once its report is deleted (not known now)', async () => {
    const { states, findings, sent, settle, clock, recentAlerts, reconciler } = setup();
    const state = states.get('prod');
    state.upsertFinding(one('vulnerabilityreport'), 'state');
    state.upsertFinding(withCve('CVE-2025-4444'), 'live');
    await settle();
    const fp = sent[0]!.fingerprint;
    state.deleteFinding('VulnerabilityReport', 'shop', 'replicaset-checkout-7d4b9c8f6d-checkout', 'live');
    expect(findings.holds(fp)).toBe(false);
    clock.advance(4 * 60_000);
    await reconciler.tick();
    expect(recentAlerts.get(fp)?.resolvedAt).toBeUndefined();
    clock.advance(60_000);
    await reconciler.tick();
    expect(recentAlerts.get(fp)?.resolvedAt).toBe(sent[0]!.lastSeen + 5 * 60_000);
  });

  it('does not hold an alert raised by an Event (an occurrence nothing will say is over)', async () => {
    const { states, findings, sent, settle } = setup();
    const state = states.get('prod');
    for (const event of fixture('events')) state.upsertFinding(event, 'live');
    await settle();
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.some((a) => findings.holds(a.fingerprint))).toBe(false);
  });

  it('alerts a Kyverno blocked request and a Gatekeeper denial arriving live', async () => {
    const { states, sent, settle } = setup();
    const state = states.get('prod');
    const [blocked, , , denied] = fixture('events');
    state.upsertFinding(blocked, 'live');
    state.upsertFinding(denied, 'live');
    await settle();
    expect(sent.map((a) => [a.source, a.rule, a.priority])).toEqual([
      ['kyverno', 'Kyverno policy violation', 'error'],
      ['gatekeeper', 'Gatekeeper constraint violation', 'error'],
    ]);
    expect(sent[0]?.event.k8s).toMatchObject({ namespace: 'shop', pod: 'debug-shell' });
  });

  it('keeps different resources with the same check apart, and maps severities to priorities', () => {
    const finding = {
      id: 'gatekeeper|C/x|Pod/shop/a|',
      source: 'gatekeeper',
      category: 'policy',
      check: 'C/x',
      severity: 'high',
      resource: { kind: 'Pod', name: 'a', namespace: 'shop' },
      message: '',
    } as const;
    const a = findingDetection(finding, 'prod', 0);
    const b = findingDetection(
      { ...finding, id: 'gatekeeper|C/x|Pod/shop/b|', resource: { ...finding.resource, name: 'b' } },
      'prod',
      0,
    );
    expect(fingerprint(a)).not.toBe(fingerprint(b));
    expect(fingerprint(a)).toBe(fingerprint(findingDetection(finding, 'prod', 5_000)));
    expect(PRIORITY_OF_SEVERITY).toEqual({
      critical: 'critical',
      high: 'error',
      medium: 'warning',
      low: 'notice',
      info: 'informational',
    });
  });
});
