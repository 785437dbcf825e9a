import { Writable } from 'node:stream';
import { startFalconer } from '../../src/app';
import { validateConfig } from '../../src/config/load';
import type { Alert, Enrichment } from '../../src/core/alert';
import { noClusterState } from '../../src/core/alert';
import type { SecurityEvent } from '../../src/core/event';
import { normaliseAudit } from '../../src/ingest/audit';
import { ConsoleNotifier, alertLine } from '../../src/notify/console';
import { createLogger } from '../../src/observability/logger';
import { alertOf, falcoSecurityEvent } from '../support/alerts';
import { sample } from '../support/events';

const T = Date.parse('2025-11-10T12:51:07Z');

function sink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

const noState: Enrichment = {
  subject: { known: false, reason: noClusterState('prod') },
  pod: { known: false, reason: noClusterState('prod'), namespace: 'shop', name: 'web-7c9f8d-abcde' },
  network: { known: false, reason: noClusterState('prod') },
};

function auditAlert(index: number): Alert {
  const list = sample<{ items: unknown[] }>('audit-eventlist.json');
  const event: SecurityEvent = normaliseAudit(list.items[index] as never, {
    cluster: 'prod',
    receivedAt: 0,
    maxFieldLength: 4096,
  });
  return alertOf(falcoSecurityEvent(), { event, rule: 'Some Audit Rule', priority: 'warning', lastSeen: T });
}

describe('alertLine', () => {
  it('says time, priority, rule, where (cluster/namespace/pod and container), who, and no count for a first alert', () => {
    const alert = alertOf(falcoSecurityEvent(), { lastSeen: T });
    expect(alertLine(alert)).toBe(
      '12:51:07  NOTICE         Terminal shell in container  prod/shop/web-7c9f8d-abcde (nginx)  by root',
    );
  });

  it('adds the count once the alert repeats', () => {
    const alert = alertOf(falcoSecurityEvent(), { lastSeen: T, count: 50 });
    expect(alertLine(alert, true)).toMatch(/ {2}by root {2}×50$/);
  });

  it('names the object an audit event touched, and the user who acted', () => {
    const lines = [0, 1, 2].map((i) => alertLine(auditAlert(i)));
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/WARNING +Some Audit Rule {2}prod clusterrolebindings\/pwn {2}by alice@example\.com$/),
        expect.stringMatching(/prod\/shop\/debug-tools {2}by system:serviceaccount:ci:deployer$/),
        expect.stringMatching(/prod\/shop\/web-7c9f8d-abcde \(nginx\) {2}by alice@example\.com$/),
      ]),
    );
  });

  it('escapes control characters from the event, so a hostile name cannot rewrite the terminal', () => {
    const event = falcoSecurityEvent({ rule: 'Evil\u001b[2J\nrule' });
    const line = alertLine(alertOf(event, { rule: event.falco!.rule, lastSeen: T }));
    expect([...line].filter((c) => c.charCodeAt(0) < 0x20)).toEqual([]);
    expect(line).toContain('Evil\\u001b[2J\\u000arule');
  });
});

describe('ConsoleNotifier', () => {
  it('writes one short line per alert in pretty mode, and one per update with the count', async () => {
    const out: string[] = [];
    const notifier = new ConsoleNotifier('console', 'debug', createLogger('silent'), {
      format: 'pretty',
      write: (t) => out.push(t),
    });
    const alert = alertOf(falcoSecurityEvent(), { lastSeen: T });
    const ref = await notifier.send(alert);
    await notifier.update(alertOf(falcoSecurityEvent(), { lastSeen: T, count: 3 }));
    expect(ref).toEqual({ console: 'console' });
    expect(out).toEqual([`${alertLine(alert)}\n`, `${alertLine(alert)}  ×3\n`]);
  });

  it('logs a JSON line per alert in json mode', async () => {
    const { lines, stream } = sink();
    const notifier = new ConsoleNotifier('console', 'debug', createLogger('info', stream), { format: 'json' });
    await notifier.send(alertOf(falcoSecurityEvent(), { lastSeen: T }));
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as { msg: string; alert: { rule: string; pod: string; count: number } };
    expect(entry.msg).toMatch(/^ALERT Terminal shell in container: /);
    expect(entry.alert).toMatchObject({ rule: 'Terminal shell in container', pod: 'web-7c9f8d-abcde', count: 1 });
  });

  it('says "no cluster state" once, not with every alert', async () => {
    const { lines, stream } = sink();
    const out: string[] = [];
    const log = createLogger('info', stream);
    const notifier = new ConsoleNotifier('console', 'debug', log, { format: 'pretty', write: (t) => out.push(t) });
    for (let i = 0; i < 3; i++)
      await notifier.send(alertOf(falcoSecurityEvent(), { fingerprint: `fp-${i}`, enrichment: noState, lastSeen: T }));
    const notices = lines.filter((l) => l.includes('no cluster state (see docs/cluster-state.md)'));
    expect(notices).toHaveLength(1);
    expect(out).toHaveLength(3);
    expect(out.join('')).not.toContain('cluster state');
  });

  it('gives no notice while the cluster has state', async () => {
    const { lines, stream } = sink();
    const notifier = new ConsoleNotifier('console', 'debug', createLogger('info', stream), { format: 'pretty', write: () => {} });
    const known: Enrichment = { network: { known: false, reason: 'pod labels unknown' } };
    await notifier.send(alertOf(falcoSecurityEvent(), { enrichment: known }));
    expect(lines.filter((l) => l.includes('cluster state'))).toEqual([]);
  });
});

describe('start-up line', () => {
  it('lists the console receiver Falconer falls back to', async () => {
    const { lines, stream } = sink();
    const running = await startFalconer(
      validateConfig({ server: { host: '127.0.0.1', port: 0 }, ingest: { token: 'test-token-0123456789abcdef' } }),
      {
        logger: createLogger('info', stream),
      },
    );
    await running.stop();
    const listening = lines
      .map((l) => JSON.parse(l) as { msg: string; receivers?: string[] })
      .find((e) => e.msg === 'falconer listening');
    expect(listening?.receivers).toEqual(['console']);
  });
});
