import { RuleEngine } from '../../src/detect/engine';
import { auditEvent, auditRule, compileYaml, rules } from './helpers';

const base: [string, string] = [
  'builtin/base.yaml',
  `
- list: admins
  items: [root]
- macro: is_admin
  condition: user in admins
- macro: known_activity
  condition: 'false'
${auditRule('admin-activity', 'is_admin && !known_activity', '  runbook: docs/runbooks/admin-activity.md')}
${auditRule('reads', 'verb == "get"')}
`,
];
const fired = (set: ReturnType<typeof rules>, patch: Record<string, unknown>) =>
  new RuleEngine(set).detect(auditEvent(patch)).map((d) => d.ruleId);
const as = (username: string, extra: Record<string, unknown> = {}) => ({ user: { username, groups: [] }, ...extra });

describe('user overrides, without editing built-in files', () => {
  test('append to a list', () => {
    const set = rules(base, ['user/a.yaml', '- list: admins\n  items: [alice]\n  override: {items: append}']);
    expect(fired(set, as('alice'))).toContain('admin-activity');
    expect(fired(set, as('root'))).toContain('admin-activity');
  });

  test('replace a list', () => {
    const set = rules(base, ['user/a.yaml', '- list: admins\n  items: [alice]\n  override: {items: replace}']);
    expect(fired(set, as('root'))).not.toContain('admin-activity');
  });

  test('a list item naming another list includes it', () => {
    const set = rules(base, [
      'user/a.yaml',
      '- list: more\n  items: [carol]\n- list: admins\n  items: [more]\n  override: {items: append}',
    ]);
    expect(fired(set, as('carol'))).toContain('admin-activity');
  });

  test('append to a "known activity" macro widens it (or-ed)', () => {
    const set = rules(base, [
      'user/a.yaml',
      '- macro: known_activity\n  condition: verb == "list"\n  override: {condition: append}',
    ]);
    expect(fired(set, as('root', { verb: 'list' }))).toEqual([]);
    expect(fired(set, as('root', { verb: 'get' }))).toEqual(['admin-activity', 'reads']);
  });

  test('disable a rule by id', () => {
    const set = rules(base, ['user/a.yaml', '- rule: reads\n  enabled: false']);
    expect(fired(set, as('root'))).toEqual(['admin-activity']);
  });

  test('override priority, append tags and exceptions, narrow the condition', () => {
    const set = rules(base, [
      'user/a.yaml',
      `
- rule: reads
  priority: critical
  tags: [mine]
  condition: ns == "shop"
  exceptions: [{name: bots, condition: 'user.startsWith("bot-")'}]
  override: {priority: replace, tags: append, condition: append, exceptions: append}
`,
    ]);
    const engine = new RuleEngine(set);
    const shop = { objectRef: { resource: 'pods', namespace: 'shop', name: 'x' } };
    const [d] = engine.detect(auditEvent({ ...as('alice'), ...shop }));
    expect(d).toMatchObject({ ruleId: 'reads', priority: 'critical', tags: ['TA0001', 'T1078', 'mine'] });
    expect(engine.detect(auditEvent({ ...as('bot-1'), ...shop }))).toEqual([]);
    expect(engine.detect(auditEvent(as('alice')))).toEqual([]); // namespace default, condition narrowed
  });
});

describe('loader errors name the file, the line, the rule and the problem', () => {
  test.each([
    ['unknown field', auditRule('r', 'true', '  conditon: x'), /x\.yaml:2: rule "r": unknown field "conditon"/],
    ['CEL syntax', auditRule('r', 'verb == '), /x\.yaml:2: rule "r": condition: .+/],
    ['unknown macro or list', auditRule('r', 'not_a_macro && true'), /rule "r": condition: .*not_a_macro/],
    ['type error', auditRule('r', 'verb == 1'), /rule "r": condition: .*(overload|type)/i],
    ['non-bool condition', auditRule('r', 'verb'), /rule "r": condition: must be bool, got string/],
    ['bad priority', auditRule('r', 'true').replace('priority: warning', 'priority: loud'), /rule "r": priority: /],
    [
      'missing fields',
      '- rule: r\n  condition: "true"',
      /rule "r": missing fields "source", "name", "description", "output", "tags", "priority"/,
    ],
    ['bad rule id', auditRule('Not An Id', 'true'), /rule "Not An Id": rule: rule ids are lower-case/],
    ['unknown output field', auditRule('r', 'true').replace('{user}', '{usr}'), /rule "r": output: unknown field "\{usr\}"/],
    ['exception syntax', auditRule('r', 'true', '  exceptions: [{name: e, condition: "(("}]'), /rule "r": exception "e": /],
    ['YAML syntax', '- rule: r\n  name: [unclosed', /x\.yaml:\d+: YAML: /],
    ['not an entry', '- just a string', /x\.yaml:1: each entry must be a mapping/],
    ['unknown entry kind', '- required_engine_version: 15', /entry must have a "list", "macro" or "rule" key/],
    ['macro cycle', '- macro: a\n  condition: b\n- macro: b\n  condition: a\n' + auditRule('r', 'a'), /macro cycle: a -> b -> a/],
    ['reserved word as list name', '- list: namespace\n  items: [x]', /list "namespace": .*reserved/],
    ['list shadowing a field', '- list: user\n  items: [x]', /list "user": "user" is an event field/],
    ['audit rule with falco action', auditRule('r', 'true', '  action: suppress'), /"action" applies to falco rules only/],
  ])('%s', (_name, yaml, expected) => {
    const { ruleSet, problems } = compileYaml(['x.yaml', yaml]);
    expect(ruleSet).toBeUndefined();
    expect(problems.join('\n')).toMatch(expected);
  });

  test('duplicate rule id (without override) is refused', () => {
    const { problems } = compileYaml(base, ['user/a.yaml', auditRule('reads', 'true')]);
    expect(problems).toEqual([
      expect.stringMatching(/^user\/a\.yaml:2: rule "reads": duplicate rule id \(first defined at builtin\/base\.yaml:\d+\)/),
    ]);
  });

  test('redefining a list or macro needs an override', () => {
    const { problems } = compileYaml(base, [
      'user/a.yaml',
      '- list: admins\n  items: [x]\n- macro: is_admin\n  condition: "true"',
    ]);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/list "admins": already defined at builtin\/base\.yaml:2/);
    expect(problems[1]).toMatch(/macro "is_admin": already defined/);
  });

  test('override of something not defined is refused', () => {
    const { problems } = compileYaml(['a.yaml', '- rule: ghost\n  priority: debug\n  override: {priority: replace}']);
    expect(problems).toEqual([expect.stringMatching(/rule "ghost": override of a rule that is not defined earlier/)]);
  });

  test('an override key without its value (and a value without its override key) is refused', () => {
    const { problems } = compileYaml(base, ['u.yaml', '- rule: reads\n  priority: debug\n  override: {tags: append}']);
    expect(problems.join('\n')).toMatch(/"priority" given without override.priority/);
    expect(problems.join('\n')).toMatch(/override.tags given without a "tags" value/);
  });

  test('all problems are reported, not just the first', () => {
    const { problems } = compileYaml(['x.yaml', auditRule('a', 'verb ==') + auditRule('b', 'nope')]);
    expect(problems).toHaveLength(2);
  });
});
