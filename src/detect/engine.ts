import { resolve } from 'node:path';
import type { Detection, Enrichment } from '../core/alert';
import type { SecurityEvent } from '../core/event';
import { RuleError } from '../core/errors';
import { falcoPassthrough } from './falco-passthrough';
import type { Detector } from './port';
import { mergeRuleSources, readRuleSources, type RuleSourceFile } from './rules/load';
import { buildRuleSet, type RuleSet } from './rules/ruleset';
import { formatProblem, type RuleProblem } from './rules/types';

/** The built-in pack shipped with Falconer (`rules/` at the package root, from src/ or dist/). */
export const BUILTIN_RULES_DIR = resolve(__dirname, '..', '..', 'rules');

export interface RuleSources {
  /** Load the built-in pack first (default true). */
  builtin?: boolean;
  /** User folders, applied after the built-in pack in this order. */
  dirs?: readonly string[];
}

export function ruleDirs({ builtin = true, dirs = [] }: RuleSources): string[] {
  return [...(builtin ? [BUILTIN_RULES_DIR] : []), ...dirs];
}

/** Everything wrong with a set of rule files, or the compiled rule set. */
export function compileRuleSources(sources: readonly RuleSourceFile[]): { ruleSet?: RuleSet; problems: RuleProblem[] } {
  const merged = mergeRuleSources(sources);
  if (merged.problems.length) return { problems: merged.problems };
  return buildRuleSet(merged.definitions);
}

/** Loads and compiles rule folders; throws one RuleError listing every problem (file:line: rule: problem). */
export function loadRuleSet(from: RuleSources): RuleSet {
  const { ruleSet, problems } = compileRuleSources(readRuleSources(ruleDirs(from)));
  if (!ruleSet) {
    throw new RuleError(
      `${problems.length} problem${problems.length === 1 ? '' : 's'} in rules:\n${problems.map(formatProblem).join('\n')}`,
      problems,
    );
  }
  return ruleSet;
}

/**
 * The detect stage: Falconer's rules for audit events, Falco's own verdict (optionally amended by
 * Falconer's Falco rules) for Falco events. `swap` replaces the rule set atomically: an event is
 * evaluated against exactly one rule set, old or new.
 */
export class RuleEngine implements Detector {
  constructor(private current: RuleSet) {}

  get ruleSet(): RuleSet {
    return this.current;
  }

  swap(next: RuleSet): RuleSet {
    const previous = this.current;
    this.current = next;
    return previous;
  }

  /** Rebuilds from folders; on any problem keeps the running rule set and throws RuleError. */
  reload(from: RuleSources): RuleSet {
    return this.swap(loadRuleSet(from));
  }

  detect(event: SecurityEvent): Detection[] {
    const rules = this.current;
    if (event.source === 'falco') {
      const base = falcoPassthrough.detect(event);
      return base.length ? rules.applyFalcoRules(event, base[0]!) : [];
    }
    if (event.source === 'k8s_audit' && event.raw) return rules.detectAudit(event);
    return [];
  }

  escalate(detection: Detection, enrichment: Enrichment): Detection {
    return this.current.escalate(detection, enrichment);
  }
}
