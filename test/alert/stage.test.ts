import pino from 'pino';
import { AlertStage } from '../../src/alert/stage';
import { RecentAlerts } from '../../src/alert/recent';
import { fingerprint } from '../../src/alert/fingerprint';
import { runbookUrl } from '../../src/alert/runbook';
import { VirtualClock } from '../../src/core/clock';
import { Dispatcher } from '../../src/notify/dispatcher';
import type { Alert } from '../../src/core/alert';
import type { Notifier } from '../../src/notify/port';
import { createMetrics } from '../../src/observability/metrics';
import { MemoryStateStore } from '../../src/store/memory';
import { detectionOf, falcoSecurityEvent } from '../support/alerts';

const HOUR = 3_600_000;

function setup() {
  const clock = new VirtualClock(0);
  const store = new MemoryStateStore(clock);
  const metrics = createMetrics();
  const sent: Alert[] = [];
  const notifier: Notifier = { name: 'n', minPriority: 'debug', send: async (a) => void sent.push(a) };
  const dispatcher = new Dispatcher([notifier], store, clock, metrics, pino({ level: 'silent' }), {
    maxAttempts: 3,
    baseDelayMs: 1000,
    maxDelayMs: 1000,
    updateDebounceMs: 1000,
    windowMs: HOUR,
    queueCapacity: 100,
    deadLetterCapacity: 10,
  });
  const recent = new RecentAlerts(100);
  const stage = new AlertStage(store, recent, dispatcher, metrics, clock, {
    dedupWindowMs: HOUR,
    runbookUrlTemplate: 'https://runbooks.example.com/{rule}',
    runbooks: { 'Special rule': 'https://wiki.example.com/special' },
  });
  return { clock, stage, sent, recent, dispatcher, metrics, store };
}

const detection = (overrides: Record<string, unknown> = {}) => detectionOf(falcoSecurityEvent(overrides));

describe('fingerprint', () => {
  it('ignores time, uuid and the output text, but not the pod or the command', () => {
    const base = fingerprint(detection());
    expect(fingerprint(detection({ uuid: 'other', time: '2026-01-01T00:00:00Z', output: 'different words' }))).toBe(base);
    expect(
      fingerprint(
        detection({
          output_fields: {
            'k8s.ns.name': 'shop',
            'k8s.pod.name': 'other-pod',
            'container.name': 'nginx',
            'proc.cmdline': 'bash',
          },
        }),
      ),
    ).not.toBe(base);
    expect(
      fingerprint(
        detection({
          output_fields: {
            'k8s.ns.name': 'shop',
            'k8s.pod.name': 'web-7c9f8d-abcde',
            'container.name': 'nginx',
            'proc.cmdline': 'sh',
          },
        }),
      ),
    ).not.toBe(base);
    expect(fingerprint(detection({ rule: 'Other rule' }))).not.toBe(base);
  });
});

describe('AlertStage', () => {
  it('announces the first occurrence and counts the rest within the window', async () => {
    const { clock, stage, sent, dispatcher, recent } = setup();
    const first = await stage.process(detection({ uuid: 'e1' }));
    clock.advance(60_000);
    await stage.process(detection({ uuid: 'e2' }));
    clock.advance(60_000);
    const third = await stage.process(detection({ uuid: 'e3' }));
    await dispatcher.settled();
    expect(sent).toHaveLength(1);
    expect(first.count).toBe(1);
    expect(third).toMatchObject({ count: 3, firstSeen: 0, lastSeen: 120_000, evidence: ['e1', 'e2', 'e3'] });
    expect(recent.list()).toHaveLength(1);
  });

  it('announces again once the window has passed without occurrences', async () => {
    const { clock, stage, sent, dispatcher } = setup();
    await stage.process(detection());
    clock.advance(HOUR);
    const again = await stage.process(detection());
    await dispatcher.settled();
    expect(again.count).toBe(1);
    expect(again.firstSeen).toBe(HOUR);
    expect(sent).toHaveLength(2);
  });

  it('announces an alert whose first count was made by a replica that died before handing it off', async () => {
    const { clock, stage, sent, dispatcher, store } = setup();
    const d = detection({ uuid: 'redelivered' });
    await store.hit(`dedup:${fingerprint(d)}`, clock.now(), HOUR); // counted, then the replica died
    clock.advance(1_000);
    const alert = await stage.process(d);
    await dispatcher.settled();
    expect(alert.count).toBe(2);
    expect(sent.map((a) => a.count)).toEqual([2]);
  });

  it('does not announce again when the counter outlives the window it opened (ongoing duplicates)', async () => {
    const { clock, stage, sent, dispatcher } = setup();
    for (let t = 0; t <= 2 * HOUR; t += HOUR / 2) {
      clock.advance(t === 0 ? 0 : HOUR / 2);
      await stage.process(detection());
    }
    await dispatcher.settled();
    expect(sent).toHaveLength(1);
  });

  it('resolves process only once the announcement is handed off durably', async () => {
    const { stage, store } = setup();
    const alert = await stage.process(detection());
    expect(await store.get(`notify:n:${alert.fingerprint}:${alert.firstSeen}`)).toBeDefined();
  });

  it('counts suppressed duplicates and new alerts in metrics', async () => {
    const { stage, metrics } = setup();
    for (let i = 0; i < 5; i++) await stage.process(detection());
    expect(await metrics.registry.getSingleMetricAsString('falconer_dedup_suppressed_total')).toMatch(/ 4$/m);
    expect(await metrics.registry.getSingleMetricAsString('falconer_alerts_total')).toMatch(
      /rule="Terminal shell in container",priority="notice"} 1/,
    );
  });

  it('links the per-rule runbook, else the templated default', async () => {
    const { stage } = setup();
    expect((await stage.process(detection())).runbookUrl).toBe('https://runbooks.example.com/terminal-shell-in-container');
    expect((await stage.process(detection({ rule: 'Special rule' }))).runbookUrl).toBe('https://wiki.example.com/special');
  });
});

describe('runbookUrl', () => {
  it('prefers config, then an absolute rule runbook, then the template', () => {
    expect(runbookUrl('R x', 'r-x', undefined, 'https://rb/{rule}?id={ruleId}', {})).toBe('https://rb/r-x?id=r-x');
    expect(runbookUrl('R x', 'r-x', 'https://own/r', 'https://rb/{rule}', {})).toBe('https://own/r');
    expect(runbookUrl('R x', 'r-x', 'docs/runbooks/r-x.md', 'https://rb/{rule}', {})).toBe('https://rb/r-x');
    expect(runbookUrl('R x', 'r-x', 'https://own/r', 'https://rb/{rule}', { 'R x': 'https://cfg' })).toBe('https://cfg');
  });
});
