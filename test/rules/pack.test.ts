import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_RULES_DIR, compileRuleSources } from '../../src/detect/engine';
import { readFixtures, runFixtures } from '../../src/detect/fixtures';
import { readRuleSources } from '../../src/detect/rules/load';
import { formatProblem } from '../../src/detect/rules/types';

const { ruleSet, problems } = compileRuleSources(readRuleSources([BUILTIN_RULES_DIR]));

test('the built-in pack loads without problems', () => {
  expect(problems.map(formatProblem)).toEqual([]);
  expect(ruleSet!.size).toBeGreaterThanOrEqual(60);
});

const rules = ruleSet ? ruleSet.rules.map((r) => r.def) : [];
const results = ruleSet
  ? runFixtures(
      ruleSet,
      readFixtures([BUILTIN_RULES_DIR]),
      rules.map((r) => r.id),
    )
  : [];

// A pack that does not load has no fixtures to run; the test above fails then.
if (results.length)
  test.each(results.map((r) => [`${r.rule} ${r.kind}: ${r.name}`, r] as const))('fixture %s', (_label, r) => {
    expect(r.problem).toBeUndefined();
    expect(r.ok).toBe(true);
  });

if (rules.length)
  describe.each(rules.map((r) => [r.id, r] as const))('rule %s', (_id, rule) => {
    test('carries a MITRE ATT&CK tactic and technique', () => {
      expect(rule.tags.some((t) => /^TA\d{4}$/.test(t))).toBe(true);
      expect(rule.tags.some((t) => /^T\d{4}(\.\d{3})?$/.test(t))).toBe(true);
    });

    test('links a runbook that exists', () => {
      expect(rule.runbook).toBe(`docs/runbooks/${rule.id}.md`);
      expect(existsSync(join(BUILTIN_RULES_DIR, '..', rule.runbook!))).toBe(true);
    });
  });
