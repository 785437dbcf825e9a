import type { Alert, Enrichment } from '../../src/core/alert';
import { alertView, alertViewJson } from '../../src/alert/view';
import { alertOf, falcoSecurityEvent } from '../support/alerts';

const enrichment: Enrichment = {
  subject: { known: false, reason: 'the event names no Kubernetes user', user: 'root' },
  pod: { known: false, reason: 'pod shop/web not in cluster state', namespace: 'shop', name: 'web' },
  network: { known: false, reason: 'pod labels unknown' },
};

describe('alertViewJson', () => {
  const event = falcoSecurityEvent({
    output_fields: { 'k8s.ns.name': 'shop', 'k8s.pod.name': 'web', '"enrichment":{}': '</script>' },
  });
  const cases: [string, Alert][] = [
    ['a firing alert', alertOf(event, { enrichment })],
    ['an empty enrichment', alertOf(event)],
    ['a silenced one', alertOf(event, { enrichment, silencedBy: ['s1'] })],
    ['an inhibited one with silencedBy unset', alertOf(event, { enrichment, silencedBy: undefined, inhibitedBy: ['i1'] })],
    ['a resolved one', alertOf(event, { enrichment, resolvedAt: 5 })],
    [
      'an attribution and an incident',
      alertOf(event, {
        enrichment,
        attribution: {
          user: 'alice',
          groups: [],
          sourceIPs: ['10.0.0.1'],
          userAgent: null,
          auditID: 'a1',
          command: 'sh',
          confidence: 'exact',
          candidates: [],
        },
        incident: { id: 'inc-1', parent: 'fp-0', severity: 'critical', alerts: 2, chain: null },
      }),
    ],
  ];

  it.each(cases)('writes the same text as JSON.stringify(alertView(...)) for %s', (_name, alert) => {
    expect(alertViewJson(alert)).toBe(JSON.stringify(alertView(alert)));
  });

  it('keeps the key order when the enrichment comes first or is missing', () => {
    const { enrichment: e, ...rest } = alertOf(event, { enrichment });
    const first = { enrichment: e, ...rest } as Alert;
    expect(alertViewJson(first)).toBe(JSON.stringify(alertView(first)));
    const none = rest as Alert;
    expect(alertViewJson(none)).toBe(JSON.stringify(alertView(none)));
  });

  it('serialises a part shared by alerts once, and each alert its own fields', () => {
    const pod = { known: false as const, reason: 'pod shop/api not in cluster state', namespace: 'shop', name: 'api' };
    const a = alertOf(event, { enrichment: { ...enrichment, pod }, fingerprint: 'a', count: 1 });
    const b = alertOf(event, { enrichment: { ...enrichment, pod }, fingerprint: 'b', count: 7 });
    const stringify = jest.spyOn(JSON, 'stringify');
    try {
      alertViewJson(a);
      alertViewJson(b);
      expect(stringify.mock.calls.filter(([v]) => v === pod)).toHaveLength(1);
    } finally {
      stringify.mockRestore();
    }
    expect(alertViewJson(b)).toBe(JSON.stringify(alertView(b)));
    expect(JSON.parse(alertViewJson(b))).toMatchObject({ fingerprint: 'b', count: 7, enrichment: { pod } });
  });

  it('serialises an incident reference shared by alerts once, wherever it stands among the keys', () => {
    const incident = { id: 'inc-2', parent: 'fp-0', severity: 'critical' as const, alerts: 3, chain: 'exec → secret read' };
    const a = alertOf(event, { enrichment, incident, fingerprint: 'a' });
    const { incident: _i, ...rest } = alertOf(event, { enrichment, fingerprint: 'b' });
    const b = { incident, ...rest } as Alert; // the reference before every other key
    const c = { ...rest, silencedBy: ['s1'], incident } as Alert; // and after the state's inputs
    const stringify = jest.spyOn(JSON, 'stringify');
    try {
      alertViewJson(a);
      alertViewJson(b);
      alertViewJson(c);
      expect(stringify.mock.calls.filter(([v]) => v === incident)).toHaveLength(1);
    } finally {
      stringify.mockRestore();
    }
    for (const alert of [a, b, c]) expect(alertViewJson(alert)).toBe(JSON.stringify(alertView(alert)));
    expect(alertViewJson({ ...a, incident: undefined })).toBe(JSON.stringify(alertView({ ...a, incident: undefined })));
  });
});
