import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { alertView, alertViewJson } from '../../src/alert/view';
import { detailJson, estimateJsonLength, estimateViewLength, incidentLength, lazyDetail } from '../../src/console/detail';
import { MemoryConsoleHistory } from '../../src/console/history/memory';
import { storedRowOf } from '../../src/console/row';
import type { Alert, AlertIncident, Enrichment } from '../../src/core/alert';
import type { Json, JsonObject, SecurityEvent } from '../../src/core/event';
import { normaliseAudit, splitAuditPayload } from '../../src/ingest/audit';
import { normaliseFalco } from '../../src/ingest/falco';
import { sample } from '../support/events';

const CTX = { cluster: 'prod', receivedAt: 0, maxFieldLength: 4096, maxJsonDepth: 64 };

const enrichment: Enrichment = {
  subject: { known: false, reason: 'the event names no Kubernetes user', user: 'root' },
  pod: {
    known: true,
    namespace: 'shop',
    name: 'web-7c9f8d-abcde',
    origin: 'state',
    serviceAccount: 'web',
    node: 'node-a',
    privileged: false,
    privilegedContainers: [],
    hostNetwork: false,
    hostPID: false,
    hostIPC: false,
    capabilitiesAdded: [],
    runAsRoot: 'possible',
    hostPathVolumes: [],
    pss: {
      level: 'baseline',
      version: 'latest',
      violations: [{ check: 'runAsNonRoot', reason: 'runAsNonRoot != true', detail: 'pod must set runAsNonRoot=true' }],
    },
    namespacePolicy: {
      known: true,
      enforce: 'baseline:latest',
      audit: 'restricted:latest',
      warn: 'restricted:latest',
      meetsEnforce: true,
      errors: [],
    },
  },
  network: {
    known: true,
    namespace: 'shop',
    ingress: { isolated: true, policies: ['web-ingress'], defaultDeny: true, anyPeerAllowed: false },
    egress: { isolated: false, policies: [], defaultDeny: false, anyPeerAllowed: false },
  },
};

/** The samples' events (examples/events), normalised. */
function sampleEvents(): SecurityEvent[] {
  const falco = ['falco-terminal-shell.json', 'falco-raw-http-output.json', 'falco-k8saudit-exec.json'].map((f) =>
    normaliseFalco(sample(f), CTX),
  );
  const audit = splitAuditPayload(sample('audit-eventlist.json') as Json).map((e) => normaliseAudit(e, CTX));
  return [...falco, ...audit];
}

function alertFrom(event: SecurityEvent, over: Partial<Alert> = {}): Alert {
  const rule = event.falco?.rule ?? 'Attach/Exec Pod';
  return {
    fingerprint: 'fp-1',
    rule,
    ruleId: rule,
    priority: event.falco?.priority ?? 'notice',
    source: event.source,
    tags: event.falco?.tags ?? ['k8s'],
    summary: event.falco?.output ?? `${event.audit?.verb} ${event.audit?.requestURI}`,
    runbookUrl: 'https://runbooks.example.com/terminal-shell-in-container',
    labels: { rule, namespace: event.k8s.namespace ?? '', pod: event.k8s.pod ?? '' },
    evidence: [event.id],
    event,
    enrichment,
    count: 1,
    firstSeen: 1_700_000_000_000,
    lastSeen: 1_700_000_000_000,
    ...over,
  };
}

describe('the lazy detail', () => {
  it('reads back the text alertViewJson wrote when the alert was recorded, whatever changes the alert after', async () => {
    const h = new MemoryConsoleHistory(
      { maxAlerts: 100, maxBytes: 1e9, maxAgeMs: 1e12, evidencePerAlert: 1, evidenceMaxBytes: 8192 },
      () => 0,
    );
    const incident = { id: 'inc-1', parent: 'fp-0', severity: 'critical' as const, alerts: 2, chain: null };
    for (const [i, event] of sampleEvents().entries()) {
      const alert = alertFrom(event, { fingerprint: `fp-${i}`, incident, silencedBy: i % 2 ? ['s1'] : undefined });
      const written = alertViewJson(alert);
      h.recordSync({ stored: storedRowOf(alert), alert });
      // What the stage and the resolver change on a stored alert: its own fields, never what they hold.
      alert.resolvedAt = 5;
      delete alert.silencedBy;
      alert.count = 99;
      expect((await h.get(`fp-${i}`))?.detail).toBe(written);
      expect(detailJson(lazyDetail(alert))).toBe(alertViewJson(alert));
    }
  });

  it('leaves the raw payload out of the detail whether or not its evidence keeps the same payload', async () => {
    const bounds = { maxAlerts: 100, maxBytes: 1e9, maxAgeMs: 1e12, evidenceMaxBytes: 8192 };
    for (const evidencePerAlert of [0, 2])
      for (const [i, event] of sampleEvents().entries()) {
        const h = new MemoryConsoleHistory({ ...bounds, evidencePerAlert }, () => 0);
        const alert = alertFrom(event, { fingerprint: `fp-${i}` });
        h.recordSync({ stored: storedRowOf(alert), alert, evidence: [alert.event] });
        const entry = await h.get(`fp-${i}`);
        expect(entry?.detail).toBe(alertViewJson(alert));
        expect(JSON.parse(entry!.detail).event).not.toHaveProperty('raw');
        expect(entry?.evidence).toEqual(evidencePerAlert ? [JSON.stringify(event.raw)] : []);
      }
  });

  it('estimates the JSON length of real alerts within 10–25% above it', () => {
    for (const event of sampleEvents()) {
      const alert = alertFrom(event);
      const ratio = lazyDetail(alert).bytes / alertViewJson(alert).length;
      expect(ratio).toBeGreaterThanOrEqual(1.05);
      expect(ratio).toBeLessThanOrEqual(1.25);
    }
  });

  it('counts what it holds: a longer alert is a larger estimate', () => {
    const event = sampleEvents()[0]!;
    const small = lazyDetail(alertFrom(event)).bytes;
    const long = lazyDetail(alertFrom(event, { summary: 'x'.repeat(10_000) })).bytes;
    expect(long - small).toBeGreaterThanOrEqual(10_000 - event.falco!.output.length);
    expect(estimateViewLength(lazyDetail(alertFrom(event)).view)).toBe(small);
  });

  it('estimates the view it will show without making it: the same count as from the view', () => {
    const incident = { id: 'inc-1', parent: 'fp-0', severity: 'critical' as const, alerts: 2, chain: 'c', timeline: [] };
    const attribution = { user: 'alice', groups: [], sourceIPs: ['203.0.113.7'], userAgent: null, auditID: 'a-1' };
    for (const event of sampleEvents())
      for (const over of [
        {},
        { incident, silencedBy: ['s1'] },
        { attribution: { ...attribution, command: null, confidence: 'high' as const, candidates: [] }, resolvedAt: 5 },
        { inhibitedBy: ['fp-9'], silencedBy: undefined },
      ]) {
        const alert = alertFrom(event, over);
        expect(lazyDetail(alert).bytes).toBe(estimateViewLength(alertView(alert)));
        expect(lazyDetail(alert).view).toEqual(alertView(alert));
      }
  });

  it("counts an alert's incident as the generic estimate does, and what it holds", () => {
    const timeline: NonNullable<AlertIncident['timeline']> = [
      { time: '2026-12-01T10:00:00.000Z', source: 'k8s_audit', rule: 'Attach/Exec Pod', user: 'alice@example.com' },
      { time: '2026-12-01T10:00:01.000Z', source: 'falco', rule: 'Terminal shell in container' },
    ];
    const incidents: AlertIncident[] = [
      { id: 'inc-1', parent: 'fp-0', severity: 'critical', alerts: 2, chain: null },
      { id: 'inc-1', parent: 'fp-0', severity: 'critical', alerts: 2, chain: 'exec-then-credential-access', timeline },
      {
        id: 'inc-2',
        parent: 'fp-9',
        severity: 'warning',
        alerts: 7,
        chain: 'c',
        chainCompletedBy: 'fp-3',
        mergedInto: 'inc-1',
        timeline: [],
      },
    ];
    for (const incident of incidents) expect(incidentLength(incident)).toBe(estimateJsonLength(incident));
    const longer = { ...incidents[1]!, timeline: [...timeline, { ...timeline[1]!, rule: 'x'.repeat(500) }] };
    expect(incidentLength(longer) - incidentLength(incidents[1]!)).toBeGreaterThan(500);
    const event = sampleEvents()[0]!;
    const without = lazyDetail(alertFrom(event)).bytes;
    expect(lazyDetail(alertFrom(event, { incident: incidents[1]! })).bytes).toBe(
      without + 'incident'.length + 8 + estimateJsonLength(incidents[1]!),
    );
  });
});

describe('the memory history bounded by the estimate', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const MAX_BYTES = 4 * 1024 * 1024;

  /** Heap the history holds, per byte of maxBytes, once `count` alerts made by `make` went through it. */
  function heldPerByte(make: (i: number) => Alert, count: number): { perByte: number; bytes: number; evicted: number } {
    const h = new MemoryConsoleHistory(
      { maxAlerts: 1e6, maxBytes: MAX_BYTES, maxAgeMs: 1e15, evidencePerAlert: 5, evidenceMaxBytes: 8192 },
      () => 0,
    );
    const before = heap();
    let evicted = 0;
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const alert = make(i);
      const r = h.recordSync({ stored: storedRowOf(alert), alert, evidence: [alert.event] });
      evicted += r.evicted.bytes;
      bytes = r.bytes;
    }
    const perByte = (heap() - before) / MAX_BYTES;
    expect(h.scanSync(undefined, 1).items).toHaveLength(1); // the history is still alive here
    return { perByte, bytes, evicted };
  }

  /** A Falco event whose output fields are `keys` short names no other event has, without values. */
  function hostile(i: number, keys: number): Alert {
    const fields: Record<string, null | string> = { 'k8s.ns.name': 'shop', 'k8s.pod.name': `pod-${i}` };
    for (let k = 0; k < keys; k++) fields[`${i.toString(36)}.${k.toString(36)}`] = null;
    const raw = { ...sample('falco-terminal-shell.json'), uuid: `u-${i}`, output_fields: fields };
    const event = normaliseFalco(JSON.parse(JSON.stringify(raw)) as JsonObject, CTX);
    return alertFrom(event, { fingerprint: `fp-${i}`, labels: { pod: `pod-${i}` }, enrichment: {} });
  }

  it.each([
    ['the samples', (i: number) => alertFrom(sampleEvents()[i % 6]!, { fingerprint: `fp-${i}` }), 3000, 1.5],
    ['hostile: 120 short field names each that no other alert has', (i: number) => hostile(i, 120), 2000, 4],
    ['hostile: 2000 such field names each (the worst measured)', (i: number) => hostile(i, 2000), 300, 4],
    [
      'hostile: long two-byte strings',
      // Flat, as a parsed payload's strings are ('...'.repeat() would share one string between the alerts).
      (i: number) =>
        alertFrom(sampleEvents()[0]!, {
          fingerprint: `fp-${i}`,
          summary: JSON.parse(JSON.stringify(`${i}${'漢'.repeat(5000)}`)) as string,
          enrichment: {},
        }),
      1000,
      4,
    ],
  ])('holds %s within the stated factor of maxBytes', (_name, make, count, factor) => {
    const { perByte, bytes, evicted } = heldPerByte(make, count);
    expect(evicted).toBeGreaterThan(0); // it was filled past the bound
    expect(bytes).toBeLessThanOrEqual(MAX_BYTES);
    expect(bytes).toBeGreaterThan(MAX_BYTES * 0.9);
    expect(perByte).toBeLessThanOrEqual(factor);
  });
});
