import type { Priority } from '../../core/priority';
import type { RuleSource } from '../../core/event';

/** Where a definition came from, for error messages. */
export interface Origin {
  file: string;
  line: number;
}

export interface ListDef {
  name: string;
  /** Items as written; an item naming another list is expanded when the rule set is built. */
  items: string[];
  origin: Origin;
}

export interface MacroDef {
  name: string;
  condition: string;
  origin: Origin;
}

export interface ExceptionDef {
  name: string;
  condition: string;
}

/**
 * Which events a rule looks at. It is both part of the rule's meaning and the index key, so a rule only
 * costs anything for events of its stage, verb and resource.
 */
export interface MatchDef {
  /** Audit stages (default ResponseComplete); `*` for any. */
  stages: string[];
  /** Audit verbs; `*` for any. */
  verbs: string[];
  /** `pods` (no subresource), `pods/exec`, `pods/*` (any subresource), `*` (anything). */
  resources: string[];
  /** For Falco rules: Falco rule names; `*` for any. */
  falcoRules: string[];
}

/** What a rule on Falco events does when it matches. Audit rules always `alert`. */
export type RuleAction = 'alert' | 'amend' | 'suppress';

export interface RuleDef {
  id: string;
  name: string;
  description: string;
  source: RuleSource;
  condition: string;
  /** Absent only for a Falco `amend` rule that leaves Falco's priority alone. */
  priority?: Priority;
  tags: string[];
  output: string;
  runbook?: string;
  enabled: boolean;
  exceptions: ExceptionDef[];
  match: MatchDef;
  action: RuleAction;
  /**
   * A condition over the alert's enrichment (CEL, variable `enrichment`). A rule with one amends only
   * after the enrich stage, and only if it also holds (docs/rules.md#conditions-on-the-enrichment).
   */
  enrichment?: string;
  origin: Origin;
}

/** Everything loaded from rule folders, after appends and overrides, before compilation. */
export interface RuleDefinitions {
  lists: Map<string, ListDef>;
  macros: Map<string, MacroDef>;
  rules: Map<string, RuleDef>;
}

export interface RuleProblem {
  file: string;
  line: number;
  /** The list, macro or rule the problem is in, as `rule "id"`, `macro "x"`, ... */
  subject?: string;
  problem: string;
}

export function formatProblem(p: RuleProblem): string {
  return `${p.file}:${p.line}: ${p.subject ? p.subject + ': ' : ''}${p.problem}`;
}
