import { RuleEngine } from '../../src/detect/engine';
import { auditRule, compileYaml, falcoEvent, rules } from './helpers';

const onEnrichment = (id: string, enrichment: string, extra = '') => `
- rule: ${id}
  name: ${id}
  description: test
  source: falco
  action: amend
  match: {falcoRules: [Terminal shell in container]}
  condition: 'ns == "shop"'
  enrichment: ${JSON.stringify(enrichment)}
  output: "${id} {rule} in {ns}"
  priority: critical
  tags: [${id}, TA0002, T1059]
${extra}`;
const shop = () =>
  falcoEvent({ rule: 'Terminal shell in container', output_fields: { 'k8s.ns.name': 'shop', 'k8s.pod.name': 'web' } });
const vulns = (criticalFixable: number) => ({
  vulnerabilities: { images: [], critical: criticalFixable, high: 0, medium: 0, fixable: criticalFixable, criticalFixable },
});

describe('rules with an enrichment: condition', () => {
  const engine = new RuleEngine(rules(['r.yaml', onEnrichment('cve', 'enrichment.vulnerabilities.criticalFixable > 0')]));

  test('wait for the enrichment: the detection names them as pending, unamended', () => {
    const [d] = engine.detect(shop());
    expect(d).toMatchObject({ priority: 'notice', pending: ['cve'] });
    expect(d!.tags).not.toContain('cve');
  });

  test('amend after the enrich stage only when the enrichment condition holds', () => {
    const [d] = engine.detect(shop());
    const raised = engine.escalate(d!, vulns(2));
    expect(raised).toMatchObject({ priority: 'critical', rule: 'Terminal shell in container' });
    expect(raised.tags).toContain('cve');
    expect(raised.pending).toBeUndefined();
    const kept = engine.escalate(d!, vulns(0));
    expect(kept.priority).toBe('notice');
    expect(kept.pending).toBeUndefined();
    // Nothing known about the pod: vulnerabilities and policy read as empty, so the condition is false, not an error.
    expect(engine.escalate(d!, {}).priority).toBe('notice');
    expect(engine.ruleSet.byId('cve')!.stats.errors).toBe(0);
  });

  test('a detection whose event condition did not match has nothing pending (no cost after enrichment)', () => {
    const [d] = engine.detect(falcoEvent({ rule: 'Terminal shell in container', output_fields: { 'k8s.ns.name': 'dev' } }));
    expect(d!.pending).toBeUndefined();
  });

  test('an evaluation error counts as "does not hold" and is counted on the rule', () => {
    const e = new RuleEngine(rules(['r.yaml', onEnrichment('bad', 'enrichment.pod.namespace == "shop"')]));
    const [d] = e.detect(shop());
    expect(e.escalate(d!, {}).priority).toBe('notice');
    expect(e.ruleSet.byId('bad')!.stats.errors).toBe(1);
  });

  test('see every part of the enrichment, with whole numbers as ints, and absent parts as absent', () => {
    const condition =
      'has(enrichment.pod) && enrichment.pod.namespace == "shop" && enrichment.subject.findingCount > 1 && !has(enrichment.network)' +
      ' && enrichment.subject.findings.exists(f, f.rule == "secrets") && enrichment.policy.failing == 0' +
      ' && enrichment.exists(k, k == "subject") && !enrichment.exists(k, k == "network") && "vulnerabilities" in enrichment';
    const e = new RuleEngine(rules(['r.yaml', onEnrichment('all', condition)]));
    const [d] = e.detect(shop());
    const enrichment = (findingCount: number) =>
      ({
        pod: { known: true, namespace: 'shop', name: 'web' },
        subject: { known: true, findingCount, findings: [{ rule: 'secrets', count: 3 }] },
      }) as unknown as Parameters<typeof e.escalate>[1];
    expect(e.escalate(d!, enrichment(2)).priority).toBe('critical');
    expect(e.escalate(d!, enrichment(1)).priority).toBe('notice');
    expect(e.ruleSet.byId('all')!.stats.errors).toBe(0);
  });

  test('an answer given while every part it read was absent is given again for such enrichments only', () => {
    const e = new RuleEngine(
      rules([
        'r.yaml',
        onEnrichment('cve', 'enrichment.vulnerabilities.criticalFixable > 0 || !has(enrichment.subject)') +
          onEnrichment('bad', 'enrichment.pod.namespace == "shop"').replace('priority: critical', 'priority: error'),
      ]),
    );
    const [d] = e.detect(shop());
    const evaluated = e.ruleSet.evaluations;
    const run = (enrichment: Parameters<typeof e.escalate>[1]) => e.escalate(d!, enrichment).priority;
    expect(run({ subject: { known: false, reason: 'x' } })).toBe('notice'); // read: vulnerabilities, subject (present)
    expect(e.ruleSet.byId('cve')!.whenAbsent).toBeUndefined();
    expect(run({})).toBe('critical'); // no subject: holds, with every part it read absent
    expect(e.ruleSet.byId('cve')!.whenAbsent?.reads).toEqual(expect.arrayContaining(['vulnerabilities', 'subject']));
    expect(run({})).toBe('critical');
    // A part the condition reads is there now: evaluated, not the kept answer.
    expect(run({ ...vulns(0), subject: { known: false, reason: 'x' } })).toBe('notice');
    expect(run(vulns(1))).toBe('critical');
    expect(run({ network: { known: false, reason: 'x' } })).toBe('critical'); // a part it does not read
    // Errors: counted on every call, kept or evaluated; evaluations counted as before.
    expect(e.ruleSet.byId('bad')!.stats.errors).toBe(6);
    expect(e.ruleSet.evaluations - evaluated).toBe(12);
  });

  test('a rule gone since detection (reload) is skipped', () => {
    const e = new RuleEngine(rules(['r.yaml', onEnrichment('cve', 'enrichment.vulnerabilities.criticalFixable > 0')]));
    const [d] = e.detect(shop());
    e.swap(rules(['r.yaml', auditRule('a', 'true')]));
    expect(e.escalate(d!, vulns(1)).priority).toBe('notice');
  });

  test('the loader refuses them on other kinds of rule, and CEL errors name the enrichment condition', () => {
    const audit = compileYaml(['a.yaml', auditRule('a', 'true', '  enrichment: "true"')]).problems;
    expect(audit).toEqual([
      expect.stringMatching(/a\.yaml:\d+: rule "a": "enrichment" applies to falco rules with action: amend only/),
    ]);
    const alert = compileYaml(['b.yaml', onEnrichment('b', 'true').replace('action: amend', 'action: alert')]).problems;
    expect(alert.join('\n')).toContain('rule "b": "enrichment" applies to falco rules with action: amend only');
    const typo = compileYaml(['c.yaml', onEnrichment('c', 'enrichmnt.policy.failing > 0')]).problems;
    expect(typo).toEqual([expect.stringMatching(/c\.yaml:\d+: rule "c": enrichment: .*enrichmnt/)]);
    const event = compileYaml(['d.yaml', onEnrichment('d', 'ns == "shop"')]).problems;
    expect(event).toEqual([expect.stringMatching(/rule "d": enrichment: .*ns/)]);
  });
});
