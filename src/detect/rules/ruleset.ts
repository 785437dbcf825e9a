import type { Detection, Enrichment } from '../../core/alert';
import type { SecurityEvent } from '../../core/event';
import { AUDIT_VARIABLES, AuditActivation, FALCO_VARIABLES, FalcoActivation, type VariableDecl } from '../activation';
import { buildEnvironment, compile, firstLine, type Program } from '../cel/environment';
import { ExpansionError, expandCondition } from '../cel/expand';
import { compileTemplate, templateVariables, type Template } from '../template';
import {
  ENRICHMENT_VARIABLES,
  enrichmentActivation,
  lacksAll,
  readsOf,
  startReads,
  type EnrichmentActivation,
} from '../enrichment';
import { leadingGuard, type Guard } from './guard';
import { AuditIndex } from './index';
import type { RuleDef, RuleDefinitions, RuleProblem } from './types';

export interface RuleStats {
  evaluations: number;
  matches: number;
  /** Matched the condition but an exception applied. */
  excepted: number;
  /** Evaluation errors (wrong types, a missing key reached through `ka`...): counted, never thrown. */
  errors: number;
  lastError?: string;
}

export interface CompiledRule {
  def: RuleDef;
  order: number;
  match: RuleDef['match'];
  program: Program;
  /** The rule's `enrichment:` condition, evaluated after the enrich stage. */
  onEnrichment?: Program;
  /** An audit rule's condition read natively where it is certainly false (./guard.ts). */
  guard?: Guard;
  exceptions: { name: string; program: Program }[];
  render: Template;
  stats: RuleStats;
  /**
   * The `enrichment:` condition's answer when every part it read was absent (see `enrichmentVerdict`),
   * and the names of those parts.
   */
  whenAbsent?: { reads: readonly string[]; verdict: RuleVerdict };
}

/** The outcome of one rule on one event, for fixtures and tests. */
export interface RuleVerdict {
  matched: boolean;
  error?: string;
  exception?: string;
}

/**
 * An immutable, compiled rule set. Built whole or not at all (see `buildRuleSet`), so swapping one for
 * another is a single reference assignment and a reload never half-applies.
 */
export class RuleSet {
  private readonly audit: AuditIndex<CompiledRule>;
  private readonly falcoByRule = new Map<string, CompiledRule[]>();
  private readonly falcoAny: CompiledRule[] = [];
  private readonly ids: Map<string, CompiledRule>;
  /** Condition evaluations done, for the benchmark's "rule evaluations per event". */
  evaluations = 0;

  constructor(
    readonly rules: readonly CompiledRule[],
    readonly definitions: RuleDefinitions,
  ) {
    this.ids = new Map(rules.map((r) => [r.def.id, r]));
    const enabled = rules.filter((r) => r.def.enabled);
    this.audit = new AuditIndex(enabled.filter((r) => r.def.source === 'k8s_audit'));
    for (const r of enabled.filter((x) => x.def.source === 'falco')) {
      for (const name of r.match.falcoRules) {
        if (name === '*') this.falcoAny.push(r);
        else this.falcoByRule.set(name, [...(this.falcoByRule.get(name) ?? []), r]);
      }
    }
    // With the rules for any Falco rule, in rule order: made once here, not per event.
    for (const [name, named] of this.falcoByRule)
      this.falcoByRule.set(
        name,
        [...named, ...this.falcoAny].sort((a, b) => a.order - b.order),
      );
  }

  get size(): number {
    return this.rules.length;
  }

  byId(id: string): CompiledRule | undefined {
    return this.ids.get(id);
  }

  /** Audit rules that apply to an event of this stage, verb and resource (enabled ones only). */
  auditCandidates(a: AuditActivation): readonly CompiledRule[] {
    return this.audit.candidates(a.stage, a.verb, a.resource, a.subresource);
  }

  falcoCandidates(falcoRule: string): readonly CompiledRule[] {
    return this.falcoByRule.get(falcoRule) ?? this.falcoAny;
  }

  /** Runs a rule's condition and exceptions. Never throws. */
  verdict(rule: CompiledRule, activation: object): RuleVerdict {
    this.evaluations++;
    rule.stats.evaluations++;
    let result: unknown;
    try {
      result = rule.program(activation);
    } catch (err) {
      return { matched: false, error: this.countError(rule, err) };
    }
    if (result !== true) return { matched: false };
    for (const ex of rule.exceptions) {
      try {
        if (ex.program(activation) === true) {
          rule.stats.excepted++;
          return { matched: false, exception: ex.name };
        }
      } catch (err) {
        // A broken exception must not silence the rule: count it and carry on as if it did not apply.
        this.countError(rule, err);
      }
    }
    rule.stats.matches++;
    return { matched: true };
  }

  private countError(rule: CompiledRule, err: unknown): string {
    const message = firstLine(err instanceof Error ? err.message : String(err));
    rule.stats.errors++;
    rule.stats.lastError = message;
    return message;
  }

  /** Audit detections for one event. */
  detectAudit(event: SecurityEvent): Detection[] {
    const activation = new AuditActivation(event.raw);
    const out: Detection[] = [];
    for (const rule of this.auditCandidates(activation)) {
      if (rule.guard && !rule.guard(activation)) {
        // Its condition is false, as evaluating it would have said: counted as an evaluation.
        this.evaluations++;
        rule.stats.evaluations++;
        continue;
      }
      if (!this.verdict(rule, activation).matched) continue;
      out.push({
        rule: rule.def.name,
        ruleId: rule.def.id,
        priority: rule.def.priority!,
        source: 'k8s_audit',
        tags: rule.def.tags,
        summary: rule.render(activation),
        runbook: rule.def.runbook,
        event,
      });
    }
    return out;
  }

  /**
   * Applies Falconer's Falco rules to the detection Falco itself made: `amend` re-prioritises and
   * adds tags, `suppress` drops it, `alert` adds a detection of Falconer's own.
   */
  applyFalcoRules(event: SecurityEvent, falcoDetection: Detection): Detection[] {
    const candidates = this.falcoCandidates(event.falco?.rule ?? '');
    if (candidates.length === 0) return [falcoDetection];
    const activation = new FalcoActivation(event);
    let base: Detection | undefined = falcoDetection;
    const extra: Detection[] = [];
    for (const rule of candidates) {
      if (!this.verdict(rule, activation).matched) continue;
      const d = rule.def;
      if (d.action === 'suppress') base = undefined;
      else if (d.action === 'amend' && base) {
        base = rule.onEnrichment ? { ...base, pending: [...(base.pending ?? []), d.id] } : amend(base, d);
      } else if (d.action === 'alert') {
        extra.push({
          rule: d.name,
          ruleId: d.id,
          priority: d.priority!,
          source: 'falco',
          tags: d.tags,
          summary: rule.render(activation),
          runbook: d.runbook,
          event,
        });
      }
    }
    return base ? [base, ...extra] : extra;
  }

  /**
   * The enrich stage's half of the Falco rules: each pending rule (one whose event condition matched and
   * that has an `enrichment:` condition) amends the detection if its enrichment condition holds. Rules
   * gone since detection (a reload) are skipped. Errors count as "does not hold", as for conditions.
   */
  escalate(detection: Detection, enrichment: Enrichment): Detection {
    const { pending, ...out } = detection;
    if (!pending?.length) return detection;
    const activation = enrichmentActivation(enrichment);
    let current: Detection = out;
    for (const id of pending) {
      const rule = this.ids.get(id);
      if (!rule?.onEnrichment) continue;
      if (this.enrichmentVerdict(rule, activation).matched) current = amend(current, rule.def);
    }
    return current;
  }

  /**
   * Runs a rule's `enrichment:` condition. Never throws. A condition reads the enrichment only (no
   * clock, no other variable), so when every part it read was absent, its answer holds for every
   * enrichment without those parts: a pod nothing is known about (no findings), as most are. That
   * answer is kept and given again without running CEL (2–3 µs per pending rule; docs/performance.md
   * § base-path); an error is counted again, as an evaluation would.
   */
  enrichmentVerdict(rule: CompiledRule, activation: EnrichmentActivation): RuleVerdict {
    this.evaluations++;
    const known = rule.whenAbsent;
    if (known && lacksAll(activation, known.reads)) {
      if (known.verdict.error !== undefined) {
        rule.stats.errors++;
        rule.stats.lastError = known.verdict.error;
      }
      return known.verdict;
    }
    startReads(activation);
    let verdict: RuleVerdict;
    try {
      verdict = { matched: rule.onEnrichment!(activation) === true };
    } catch (err) {
      verdict = { matched: false, error: this.countError(rule, err) };
    }
    const reads = readsOf(activation);
    if (reads && lacksAll(activation, reads)) rule.whenAbsent = { reads, verdict: Object.freeze(verdict) };
    return verdict;
  }

  stats(): { id: string; name: string; enabled: boolean; stats: RuleStats }[] {
    return this.rules.map((r) => ({ id: r.def.id, name: r.def.name, enabled: r.def.enabled, stats: { ...r.stats } }));
  }
}

/** What an `amend` rule does to a detection: its priority (if it has one), its tags added, its runbook. */
function amend(base: Detection, d: RuleDef): Detection {
  return {
    ...base,
    priority: d.priority ?? base.priority,
    tags: [...new Set([...base.tags, ...d.tags])],
    runbook: d.runbook ?? base.runbook,
  };
}

/** Lists with list-name items expanded (Falco lets a list include another). */
function resolveLists(defs: RuleDefinitions, problems: RuleProblem[]): Map<string, string[]> {
  const resolved = new Map<string, string[]>();
  const visit = (name: string, stack: string[]): string[] => {
    const done = resolved.get(name);
    if (done) return done;
    const def = defs.lists.get(name)!;
    if (stack.includes(name)) {
      problems.push({ ...def.origin, subject: `list "${name}"`, problem: `list cycle: ${[...stack, name].join(' -> ')}` });
      return [];
    }
    const items = def.items.flatMap((i) => (defs.lists.has(i) ? visit(i, [...stack, name]) : [i]));
    const unique = [...new Set(items)];
    resolved.set(name, unique);
    return unique;
  };
  for (const name of defs.lists.keys()) visit(name, []);
  return resolved;
}

/**
 * Compiles definitions into a rule set, checking every condition, exception and output template
 * (syntax, unknown macros, lists and fields, types where CEL can tell). Returns every problem found;
 * the rule set only when there are none.
 */
export function buildRuleSet(defs: RuleDefinitions): { ruleSet?: RuleSet; problems: RuleProblem[] } {
  const problems: RuleProblem[] = [];
  const lists = resolveLists(defs, problems);
  const macros = new Map([...defs.macros].map(([k, m]) => [k, m.condition]));
  const badList = (name: string, problem: string) => {
    const def = defs.lists.get(name)!;
    if (!problems.some((p) => p.subject === `list "${name}"` && p.problem === problem)) {
      problems.push({ ...def.origin, subject: `list "${name}"`, problem });
    }
  };
  const envs = {
    k8s_audit: buildEnvironment(AUDIT_VARIABLES, lists, badList),
    falco: buildEnvironment(FALCO_VARIABLES, lists, badList),
    enrichment: buildEnvironment(ENRICHMENT_VARIABLES, lists, badList),
  };
  const variables: Record<string, Readonly<Record<string, VariableDecl>>> = {
    k8s_audit: AUDIT_VARIABLES,
    falco: FALCO_VARIABLES,
  };

  const compileCondition = (
    def: RuleDef,
    what: string,
    condition: string,
    env: keyof typeof envs = def.source,
  ): Program | undefined => {
    const report = (problem: string) =>
      problems.push({ ...def.origin, subject: `rule "${def.id}"`, problem: `${what}: ${problem}` });
    let expanded: string;
    try {
      expanded = expandCondition(condition, macros).source;
    } catch (err) {
      if (err instanceof ExpansionError) return void report(err.message);
      throw err;
    }
    const program = compile(envs[env], expanded);
    if ('error' in program) return void report(program.error);
    return program;
  };

  const rules: CompiledRule[] = [];
  let order = 0;
  for (const def of defs.rules.values()) {
    const program = compileCondition(def, 'condition', def.condition);
    const exceptions = def.exceptions.map((ex) => ({
      name: ex.name,
      program: compileCondition(def, `exception "${ex.name}"`, ex.condition),
    }));
    for (const v of templateVariables(def.output)) {
      if (!Object.hasOwn(variables[def.source]!, v)) {
        problems.push({ ...def.origin, subject: `rule "${def.id}"`, problem: `output: unknown field "{${v}}"` });
      }
    }
    const onEnrichment =
      def.enrichment !== undefined ? compileCondition(def, 'enrichment', def.enrichment, 'enrichment') : undefined;
    if (!program || exceptions.some((e) => !e.program)) continue;
    if (def.enrichment !== undefined && !onEnrichment) continue;
    const guard = def.source === 'k8s_audit' ? leadingGuard(program) : undefined;
    rules.push({
      def,
      order: order++,
      match: def.match,
      program,
      ...(onEnrichment ? { onEnrichment } : {}),
      ...(guard ? { guard } : {}),
      exceptions: exceptions as { name: string; program: Program }[],
      render: compileTemplate(def.output),
      stats: { evaluations: 0, matches: 0, excepted: 0, errors: 0 },
    });
  }
  // Macros that no rule uses are still checked, so a typo in a user macro does not wait for a rule.
  for (const m of defs.macros.values()) {
    try {
      const expanded = expandCondition(m.condition, macros).source;
      const a = compile(envs.k8s_audit, expanded);
      const f = compile(envs.falco, expanded);
      if ('error' in a && 'error' in f) problems.push({ ...m.origin, subject: `macro "${m.name}"`, problem: a.error });
    } catch (err) {
      problems.push({ ...m.origin, subject: `macro "${m.name}"`, problem: (err as Error).message });
    }
  }
  if (problems.length) return { problems };
  return { ruleSet: new RuleSet(rules, defs), problems };
}
