import type { JsonObject, SecurityEvent } from '../../src/core/event';
import { compileRuleSources } from '../../src/detect/engine';
import { BASE_AUDIT_EVENT, BASE_FALCO_EVENT, overlay } from '../../src/detect/fixtures';
import { normaliseAudit } from '../../src/ingest/audit';
import { normaliseFalco } from '../../src/ingest/falco';
import type { RuleSet } from '../../src/detect/rules/ruleset';
import { formatProblem } from '../../src/detect/rules/types';

const ctx = { cluster: 'test', receivedAt: 0, maxFieldLength: 16 * 1024 };
let n = 0;

/** An audit SecurityEvent: the fixture default event with `patch` merged over it. */
export function auditEvent(patch: Record<string, unknown> = {}): SecurityEvent {
  n++;
  return normaliseAudit(overlay({ ...BASE_AUDIT_EVENT, auditID: `id-${n}` }, patch), ctx);
}

export function falcoEvent(patch: Record<string, unknown> = {}): SecurityEvent {
  n++;
  return normaliseFalco(overlay({ ...BASE_FALCO_EVENT, uuid: `uuid-${n}` } as JsonObject, patch), ctx);
}

/** Compiles YAML rule files given as [name, text] pairs; returns problems as formatted strings. */
export function compileYaml(...files: [string, string][]): { ruleSet?: RuleSet; problems: string[] } {
  const r = compileRuleSources(files.map(([file, text]) => ({ file, text })));
  return { ruleSet: r.ruleSet, problems: r.problems.map(formatProblem) };
}

/** A rule set that must compile. */
export function rules(...files: [string, string][]): RuleSet {
  const { ruleSet, problems } = compileYaml(...files);
  if (!ruleSet) throw new Error(problems.join('\n'));
  return ruleSet;
}

/** One audit rule in YAML, with the given condition and selector. */
export function auditRule(id: string, condition: string, extra = ''): string {
  return `
- rule: ${id}
  name: ${id} name
  description: test rule
  source: k8s_audit
  condition: ${JSON.stringify(condition)}
  output: "${id} by {user} on {resource}"
  priority: warning
  tags: [TA0001, T1078]
${extra}`;
}
