import { alertLabels, severityOf, tacticsOf } from '../../src/alert/labels';
import { PRIORITIES } from '../../src/core/priority';
import type { Enrichment } from '../../src/core/alert';
import { detectionOf, falcoSecurityEvent } from '../support/alerts';

describe('alert labels', () => {
  it('carries rule, priority, severity, source, and where, and one label per tag (user is the Kubernetes actor, absent here)', () => {
    const labels = alertLabels(detectionOf(falcoSecurityEvent({ tags: ['T1059', 'container', 'mitre_execution', 'TA0003'] })));
    expect(labels).toEqual({
      rule: 'Terminal shell in container',
      priority: 'notice',
      severity: 'info',
      source: 'falco',
      cluster: 'prod',
      namespace: 'shop',
      pod: 'web-7c9f8d-abcde',
      container: 'nginx',
      tag_T1059: 'true',
      tag_container: 'true',
      tag_mitre_execution: 'true',
      tag_TA0003: 'true',
      mitre_tactic: 'execution,persistence',
    });
  });

  it('maps the eight priorities onto Alertmanager severities', () => {
    expect(PRIORITIES.map(severityOf)).toEqual([
      'info',
      'info',
      'info',
      'warning',
      'warning',
      'critical',
      'critical',
      'critical',
    ]);
  });

  it('names tactics from ATT&CK ids and Falco mitre_ tags, ignoring techniques and unknown names', () => {
    expect(tacticsOf(['T1059', 'TA0004', 'mitre_discovery', 'mitre_whatever', 'TA0004'])).toEqual([
      'privilege_escalation',
      'discovery',
    ]);
  });

  it('adds enrichment-derived labels only when the enrichment knows', () => {
    const d = detectionOf(falcoSecurityEvent());
    const direction = { isolated: true, policies: [], defaultDeny: true, anyPeerAllowed: false };
    const enrichment = {
      pod: { known: true, pss: { level: 'privileged', version: 'latest', violations: [] } },
      subject: { known: true, findingCount: 2 },
      network: { known: true, namespace: 'shop', ingress: direction, egress: { ...direction, isolated: false } },
    } as unknown as Enrichment;
    expect(alertLabels(d, enrichment)).toMatchObject({ pss_level: 'privileged', risky_subject: 'true', isolated: 'false' });
    const unknown = { pod: { known: false, reason: 'not seen', namespace: 'shop', name: 'x' } } as Enrichment;
    expect(alertLabels(d, unknown)).not.toHaveProperty('pss_level');
  });
});
