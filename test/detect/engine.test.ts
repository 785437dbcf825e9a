import { RuleEngine } from '../../src/detect/engine';
import { auditEvent, auditRule, compileYaml, falcoEvent, rules } from './helpers';

const ids = (engine: RuleEngine, e = auditEvent()) => engine.detect(e).map((d) => d.ruleId);

describe('list semantics (Falco: `in` on a list means all values, `intersects` any)', () => {
  const set = rules([
    'r.yaml',
    `
- list: ok_groups
  items: [devs, system:authenticated]
${auditRule('all-in', 'groups.within(ok_groups)')}
${auditRule('any-in', 'groups.intersects(["admins", "devs"])')}
`,
  ]);
  const engine = new RuleEngine(set);

  test.each([
    [
      ['devs', 'system:authenticated'],
      ['all-in', 'any-in'],
    ],
    [['devs', 'outsiders'], ['any-in']],
    [['outsiders'], []],
    [[], []], // an empty list is "missing": within is false, intersects is false
  ])('groups %j fire %j', (groups, expected) => {
    expect(ids(engine, auditEvent({ user: { username: 'u', groups } }))).toEqual(expected);
  });
});

describe('missing fields', () => {
  const build = () =>
    rules([
      'r.yaml',
      `
${auditRule('helper-default', 'name == "x" || impersonatedUser == "admin"')}
${auditRule('negated-helper', '!(impersonatedUser in ["admin"])')}
${auditRule('raw-path', 'ka.requestObject.spec.hostNetwork == true')}
${auditRule('raw-optional', 'ka.?requestObject.?spec.?hostNetwork.orValue(false) == false')}
`,
    ]);

  test('helpers default to neutral values: a comparison is false, its negation true, no error', () => {
    const set = build();
    const engine = new RuleEngine(set);
    expect(ids(engine)).toEqual(['negated-helper', 'raw-optional']);
    const stats = Object.fromEntries(set.stats().map((s) => [s.id, s.stats]));
    expect(stats['helper-default']!.errors).toBe(0);
    expect(stats['negated-helper']!.errors).toBe(0);
  });

  test('a missing key reached through `ka` is an evaluation error: counted per rule, never thrown', () => {
    const set = build();
    const engine = new RuleEngine(set);
    expect(() => engine.detect(auditEvent())).not.toThrow();
    engine.detect(auditEvent());
    const raw = set.stats().find((s) => s.id === 'raw-path')!.stats;
    expect(raw.errors).toBe(2);
    expect(raw.lastError).toMatch(/requestObject|spec|key/i);
    expect(raw.matches).toBe(0);
  });
});

test('a broken exception does not silence its rule (counted as an error instead)', () => {
  const set = rules([
    'r.yaml',
    auditRule(
      'with-exceptions',
      'verb == "get"',
      `  exceptions:
    - {name: broken, condition: 'ka.nothing.here == "x"'}
    - {name: bob, condition: 'user == "bob"'}`,
    ),
  ]);
  const engine = new RuleEngine(set);
  expect(ids(engine)).toEqual(['with-exceptions']);
  expect(ids(engine, auditEvent({ user: { username: 'bob', groups: [] } }))).toEqual([]);
  const s = set.byId('with-exceptions')!.stats;
  expect(s).toMatchObject({ matches: 1, excepted: 1, errors: 2 });
});

test('matches() uses RE2: a catastrophic-backtracking pattern on a hostile value completes with the right answer', () => {
  const set = rules([
    'r.yaml',
    auditRule('redos', 'userAgent.matches("^(a+)+$")') + auditRule('re', 'userAgent.matches("^kubectl/v1\\\\.[0-9]+")'),
  ]);
  const engine = new RuleEngine(set);
  // As long as normalisation keeps a field (16 KiB here); backtracking would take ~2^16000 steps.
  const hostile = 'a'.repeat(16_000) + '!';
  expect(ids(engine, auditEvent({ userAgent: hostile }))).toEqual([]);
  expect(ids(engine, auditEvent({ userAgent: 'a'.repeat(16_000) }))).toEqual(['redos']);
  expect(ids(engine)).toEqual(['re']);
});

describe('match selector and index', () => {
  const set = rules([
    'r.yaml',
    `
${auditRule('exec-started', 'true', '  match: {stages: [ResponseStarted], verbs: [get, create], resources: [pods/exec]}')}
${auditRule('any-pod-sub', 'true', '  match: {verbs: ["*"], resources: ["pods/*"]}')}
${auditRule('pods-only', 'true', '  match: {verbs: [create], resources: [pods]}')}
${auditRule('everything', 'true', '  match: {stages: ["*"]}')}
`,
  ]);
  const engine = new RuleEngine(set);
  const exec = {
    verb: 'get',
    stage: 'ResponseStarted',
    objectRef: { resource: 'pods', subresource: 'exec', name: 'p', namespace: 'n' },
  };

  test.each([
    // any-pod-sub keeps the default stage (ResponseComplete)
    ['exec session start', exec, ['exec-started', 'everything']],
    ['exec session end', { ...exec, stage: 'ResponseComplete' }, ['any-pod-sub', 'everything']],
    ['pod create', { verb: 'create', objectRef: { resource: 'pods', name: 'p' } }, ['pods-only', 'everything']],
    ['pod log', { verb: 'get', objectRef: { resource: 'pods', subresource: 'log' } }, ['any-pod-sub', 'everything']],
    ['RequestReceived', { stage: 'RequestReceived' }, ['everything']],
  ])('%s', (_n, patch, expected) => {
    expect(ids(engine, auditEvent(patch))).toEqual(expected);
  });

  test('evaluations per event do not grow with rules on other resources', () => {
    const other = Array.from({ length: 200 }, (_, i) =>
      auditRule(`other-${i}`, 'true', `  match: {verbs: [create], resources: [widgets${i}]}`),
    ).join('\n');
    const big = rules(['r.yaml', auditRule('pods-only', 'true', '  match: {verbs: [create], resources: [pods]}') + other]);
    const small = rules(['r.yaml', auditRule('pods-only', 'true', '  match: {verbs: [create], resources: [pods]}')]);
    const e = auditEvent({ verb: 'create', objectRef: { resource: 'pods', name: 'p' } });
    new RuleEngine(big).detect(e);
    new RuleEngine(small).detect(e);
    expect(big.evaluations).toBe(1);
    expect(small.evaluations).toBe(1);
  });
});

test('disabled rules are not evaluated', () => {
  const set = rules(['r.yaml', auditRule('off', 'true', '  enabled: false')]);
  expect(ids(new RuleEngine(set))).toEqual([]);
  expect(set.evaluations).toBe(0);
});

test('detections carry name, id, priority, tags, the rendered output and the runbook', () => {
  const set = rules(['r.yaml', auditRule('r1', 'true', '  runbook: docs/runbooks/r1.md')]);
  const e = auditEvent();
  expect(new RuleEngine(set).detect(e)).toEqual([
    {
      rule: 'r1 name',
      ruleId: 'r1',
      priority: 'warning',
      source: 'k8s_audit',
      tags: ['TA0001', 'T1078'],
      summary: 'r1 by alice@example.com on pods',
      runbook: 'docs/runbooks/r1.md',
      event: e,
    },
  ]);
});

describe('Falco events', () => {
  const falcoRule = (id: string, action: string, extra: string) => `
- rule: ${id}
  name: ${id}
  description: test
  source: falco
  action: ${action}
  condition: 'ns == "shop"'
  output: "${id} {rule} in {ns}"
  tags: [TA0002, T1059]
${extra}`;
  const shop = () =>
    falcoEvent({ rule: 'Terminal shell in container', output_fields: { 'k8s.ns.name': 'shop', 'k8s.pod.name': 'web' } });

  test('without Falconer rules, a Falco event passes through as Falco said it', () => {
    const d = new RuleEngine(rules(['r.yaml', auditRule('a', 'true')])).detect(shop());
    expect(d.map((x) => [x.rule, x.priority, x.source])).toEqual([['Terminal shell in container', 'notice', 'falco']]);
  });

  test("amend raises the priority and adds tags, keeping Falco's rule", () => {
    const engine = new RuleEngine(
      rules([
        'r.yaml',
        falcoRule('raise', 'amend', '  priority: critical\n  match: {falcoRules: [Terminal shell in container]}'),
      ]),
    );
    const [d] = engine.detect(shop());
    expect(d).toMatchObject({ rule: 'Terminal shell in container', priority: 'critical' });
    expect(d!.tags).toEqual(expect.arrayContaining(['TA0002', 'T1059']));
    expect(engine.detect(falcoEvent({ output_fields: { 'k8s.ns.name': 'dev' } }))[0]!.priority).toBe('notice');
  });

  test('amend only applies to the Falco rules it names', () => {
    const engine = new RuleEngine(
      rules(['r.yaml', falcoRule('raise', 'amend', '  priority: critical\n  match: {falcoRules: [Other rule]}')]),
    );
    expect(engine.detect(shop())[0]!.priority).toBe('notice');
  });

  test("suppress drops it; alert adds a detection of Falconer's own", () => {
    expect(new RuleEngine(rules(['r.yaml', falcoRule('drop', 'suppress', '')])).detect(shop())).toEqual([]);
    const d = new RuleEngine(rules(['r.yaml', falcoRule('extra', 'alert', '  priority: error')])).detect(shop());
    expect(d.map((x) => [x.ruleId, x.priority, x.summary])).toEqual([
      ['Terminal shell in container', 'notice', expect.any(String)],
      ['extra', 'error', 'extra Terminal shell in container in shop'],
    ]);
  });
});

test('swap replaces the rule set atomically and returns the previous one', () => {
  const a = rules(['a.yaml', auditRule('a', 'true')]);
  const b = rules(['b.yaml', auditRule('b', 'true')]);
  const engine = new RuleEngine(a);
  expect(ids(engine)).toEqual(['a']);
  expect(engine.swap(b)).toBe(a);
  expect(ids(engine)).toEqual(['b']);
});

test('reload keeps the running rule set when the new one has problems', () => {
  const a = rules(['a.yaml', auditRule('a', 'true')]);
  const engine = new RuleEngine(a);
  expect(() => engine.reload({ builtin: false, dirs: ['/nonexistent-falconer-rules'] })).toThrow();
  expect(engine.ruleSet).toBe(a);
  expect(compileYaml(['x.yaml', auditRule('a', 'nope')]).ruleSet).toBeUndefined();
});
