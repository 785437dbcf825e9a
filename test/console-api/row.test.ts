import { storedRowOf } from '../../src/console/row';
import { alertOf, falcoSecurityEvent } from '../support/alerts';

describe('console alert rows', () => {
  const event = falcoSecurityEvent();

  it('takes where and who from the event, status from the alert', () => {
    const s = storedRowOf(alertOf(event, { firstSeen: 1000, lastSeen: 5000, count: 3, labels: { pod: 'web-7c9f8d-abcde' } }));
    expect(s.row).toEqual({
      fingerprint: 'fp-1',
      priority: 'notice',
      rule: 'Terminal shell in container',
      source: 'falco',
      cluster: 'prod',
      namespace: 'shop',
      pod: 'web-7c9f8d-abcde',
      container: 'nginx',
      user: 'root',
      summary: event.falco!.output,
      count: 3,
      firstSeen: new Date(1000).toISOString(),
      lastSeen: new Date(5000).toISOString(),
      tags: ['T1059', 'container', 'shell'],
      incidentId: null,
      status: 'firing',
    });
    expect(s.command).toBe('bash');
    expect(s.labels).toEqual({ pod: 'web-7c9f8d-abcde' });
    expect([s.firstSeenMs, s.lastSeenMs]).toEqual([1000, 5000]);
  });

  it('prefers the attributed user, shows the incident, and says silenced or resolved', () => {
    const attributed = alertOf(event, {
      attribution: {
        user: 'alice@example.com',
        groups: [],
        sourceIPs: [],
        userAgent: null,
        auditID: 'a1',
        command: 'kubectl exec -it web -- bash',
        confidence: 'exact',
        candidates: [],
      },
      incident: { id: 'inc-0123456789abcdef', parent: 'fp-1', severity: 'critical', alerts: 2, chain: null },
      silencedBy: ['s1'],
    });
    const s = storedRowOf(attributed);
    expect(s.row.user).toBe('alice@example.com');
    expect(s.command).toBe('kubectl exec -it web -- bash');
    expect(s.row.incidentId).toBe('inc-0123456789abcdef');
    expect(s.row.status).toBe('silenced');
    expect(storedRowOf({ ...attributed, resolvedAt: 10 }).row.status).toBe('resolved');
    expect(storedRowOf({ ...attributed, silencedBy: [], inhibitedBy: ['fp-9'] }).row.status).toBe('silenced');
  });
});
