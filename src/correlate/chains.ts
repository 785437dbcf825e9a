import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { RuleError } from '../core/errors';
import { PRIORITIES, priorityRank, type Priority } from '../core/priority';
import { FACT_NAMES, factValues, type AlertFacts } from './facts';

/** The built-in chain pack, beside the rule pack. */
export const BUILTIN_CHAINS_DIR = resolve(__dirname, '..', '..', 'rules', 'chains');

const factName = z.enum(FACT_NAMES);
const variable = z.string().regex(/^[a-z][A-Za-z0-9_]*$/, 'a variable is a lower-camel-case word');

const step = z.strictObject({
  name: z.string().min(1),
  /** Rule ids or names; any of them (empty: any rule). */
  rules: z.array(z.string().min(1)).default([]),
  /** Any of these tags (empty: any tags). */
  tags: z.array(z.string().min(1)).default([]),
  source: z.enum(['falco', 'k8s_audit']).optional(),
  minPriority: z.enum(PRIORITIES).optional(),
  /** Facts that must hold one of the given values. */
  facts: z.partialRecord(factName, z.array(z.string()).min(1)).default({}),
  /** Variables this step sets from its alert's facts (a list fact may set any of its values). */
  bind: z.record(variable, factName).default({}),
  /** Variables an earlier step set that this alert's fact must equal. */
  equal: z.record(variable, factName).default({}),
  /** Variables an earlier step set that this alert's fact must differ from. */
  differ: z.record(variable, factName).default({}),
});

const chainEntry = z.strictObject({
  chain: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'a chain id is lower-case words joined by "-"'),
  name: z.string().min(1),
  description: z.string().min(1),
  /** The incident's severity on a match; at least one above its members' in any case. */
  severity: z.enum(PRIORITIES).optional(),
  /** Longest time from the first step's alert to the last one's, e.g. `30m`, `2h`. */
  maxSpan: z.string().regex(/^\d+(s|m|h)$/, 'a duration like 90s, 30m or 2h'),
  runbook: z.string().min(1).optional(),
  enabled: z.boolean().default(true),
  steps: z.array(step).min(2).max(6),
});

export type ChainStep = z.infer<typeof step>;
export type ChainDef = Omit<z.infer<typeof chainEntry>, 'maxSpan'> & { maxSpanMs: number; file: string };

const fixtureAlert = z.record(z.string(), z.unknown());
const chainFixture = z.strictObject({
  chain: z.string().min(1),
  fire: z.array(z.strictObject({ name: z.string().min(1), alerts: z.array(fixtureAlert).min(1) })).default([]),
  miss: z.array(z.strictObject({ name: z.string().min(1), alerts: z.array(fixtureAlert).min(1) })).default([]),
});
export type ChainFixture = z.infer<typeof chainFixture> & { file: string };

export interface ChainMatch {
  chain: ChainDef;
  /** The member alerts that made each step, in step order. */
  fingerprints: string[];
  variables: Record<string, string>;
}

function chainFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((n) => join(dir, n))
    .filter((p) => /\.ya?ml$/.test(p) && statSync(p).isFile());
}

function spanMs(text: string): number {
  const n = Number(text.slice(0, -1));
  const unit = text.at(-1);
  return n * (unit === 'h' ? 3_600_000 : unit === 'm' ? 60_000 : 1000);
}

/** Loads chain folders in order; a later chain with the same id replaces the earlier. Throws one RuleError listing every problem. */
export function loadChains(dirs: readonly string[]): ChainDef[] {
  const byId = new Map<string, ChainDef>();
  const problems: string[] = [];
  for (const dir of dirs) {
    for (const path of chainFiles(dir)) {
      const file = relative(process.cwd(), path) || path;
      let doc: unknown;
      try {
        doc = parseYaml(readFileSync(path, 'utf8'));
      } catch (err) {
        problems.push(`${file}: YAML: ${(err as Error).message.split('\n')[0]}`);
        continue;
      }
      const parsed = z.array(chainEntry).safeParse(doc ?? []);
      if (!parsed.success) {
        for (const i of parsed.error.issues) problems.push(`${file}: ${i.path.join('.')}: ${i.message}`);
        continue;
      }
      for (const entry of parsed.data) {
        const problem = checkVariables(entry.steps);
        if (problem) problems.push(`${file}: chain ${entry.chain}: ${problem}`);
        const { maxSpan, ...rest } = entry;
        byId.set(entry.chain, { ...rest, maxSpanMs: spanMs(maxSpan), file });
      }
    }
  }
  if (problems.length) throw new RuleError(`${problems.length} problem(s) in chains:\n${problems.join('\n')}`, []);
  return [...byId.values()];
}

/** Every variable a step compares was set by an earlier step. */
function checkVariables(steps: ChainStep[]): string | undefined {
  const bound = new Set<string>();
  for (const s of steps) {
    for (const v of [...Object.keys(s.equal), ...Object.keys(s.differ)]) {
      if (!bound.has(v)) return `step "${s.name}" compares $${v}, which no earlier step binds`;
    }
    for (const v of Object.keys(s.bind)) bound.add(v);
  }
  return undefined;
}

export function readChainFixtures(dirs: readonly string[]): ChainFixture[] {
  const out: ChainFixture[] = [];
  for (const dir of dirs) {
    for (const path of chainFiles(join(dir, 'fixtures'))) {
      const file = relative(process.cwd(), path) || path;
      const parsed = z.array(chainFixture).safeParse(parseYaml(readFileSync(path, 'utf8')) ?? []);
      if (!parsed.success) {
        throw new RuleError(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, []);
      }
      out.push(...parsed.data.map((f) => ({ ...f, file })));
    }
  }
  return out;
}

/** A step's `facts` as entries, once per step (a step is matched against every new member). */
const stepFacts = new WeakMap<ChainStep, [string, string[]][]>();

export function stepAdmits(s: ChainStep, a: AlertFacts): boolean {
  return stepAdmitsRule(s, a) && stepAdmitsFacts(s, a);
}

/** The part of `stepAdmits` that reads only the alert's rule, rule id, source, tags and priority. */
export function stepAdmitsRule(s: ChainStep, a: Pick<AlertFacts, 'source' | 'rule' | 'ruleId' | 'tags' | 'priority'>): boolean {
  if (s.source && a.source !== s.source) return false;
  if (s.rules.length && !s.rules.includes(a.ruleId) && !s.rules.includes(a.rule)) return false;
  if (s.tags.length && !anyIn(a.tags, s.tags)) return false;
  if (s.minPriority && priorityRank(a.priority) < priorityRank(s.minPriority)) return false;
  return true;
}

/** The rest of `stepAdmits`: the step's `facts` (none for most steps: then always true). */
export function stepAdmitsFacts(s: ChainStep, a: AlertFacts): boolean {
  const facts = factEntries(s);
  for (const [fact, values] of facts) if (!anyIn(factValues(a, fact), values)) return false;
  return true;
}

/** Whether the step matches on facts beyond the rule's (`stepAdmitsFacts` can be false). */
export function stepHasFacts(s: ChainStep): boolean {
  return factEntries(s).length > 0;
}

function factEntries(s: ChainStep): [string, string[]][] {
  let facts = stepFacts.get(s);
  if (!facts) stepFacts.set(s, (facts = Object.entries(s.facts) as [string, string[]][]));
  return facts;
}

/** Whether any of `values` is in `allowed` (a loop: this runs for every step on every new member). */
function anyIn(values: readonly string[], allowed: readonly string[]): boolean {
  for (const v of values) if (allowed.includes(v)) return true;
  return false;
}

/**
 * The first way the timeline (oldest first) makes the chain: alerts in step order, strictly later
 * ones for later steps (ties in time keep timeline order), variables agreeing, within the span.
 * A depth-first search; the timeline is bounded, so is the search.
 */
export function matchChain(
  chain: ChainDef,
  timeline: readonly AlertFacts[],
  last?: AlertFacts,
  member?: AlertFacts,
): ChainMatch | undefined {
  // With `last`, only matches that end at that alert count (an incident's newest member: any match
  // without it was looked for when the earlier members arrived).
  if (last && !stepAdmits(chain.steps.at(-1)!, last)) return undefined;
  // Only `last` may take the last step, and earlier steps must come before it: the search jumps to
  // it instead of scanning the rest of the timeline for every partial match (O(n) instead of O(n²)
  // per chain for a new member of a 50-member incident; bench/correlate.js).
  const lastIndex = last ? timeline.indexOf(last) : -1;
  if (last && lastIndex === -1) return undefined;
  // With `member` (a late member, not the newest), only matches that include it count: any other
  // was looked for when its own last member arrived. A partial match without it cannot pass it by.
  const memberIndex = member ? timeline.indexOf(member) : -1;
  // The last step `member` can take: a partial match without it past that step cannot include it any more.
  const memberLastStep = member ? chain.steps.findLastIndex((s) => stepAdmits(s, member)) : -1;
  if (member && (memberIndex === -1 || memberLastStep === -1)) return undefined;
  // Once per call, not per alert tried: the search runs for every chain on every new member.
  const equal = chain.steps.map((s) => Object.entries(s.equal));
  const differ = chain.steps.map((s) => Object.entries(s.differ));
  const picked: string[] = [];
  const search = (
    stepIndex: number,
    from: number,
    vars: Record<string, string>,
    startMs: number,
    hasMember: boolean,
  ): Record<string, string> | undefined => {
    if (stepIndex === chain.steps.length) return member && !hasMember ? undefined : vars;
    const s = chain.steps[stepIndex]!;
    const isLast = stepIndex === chain.steps.length - 1;
    // The last step of a match still without `member` can only be `member` itself.
    const only = last && isLast ? lastIndex : member && isLast && !hasMember ? memberIndex : -1;
    const begin = only !== -1 ? Math.max(from, only) : from;
    const end = only !== -1 ? only + 1 : last ? lastIndex : timeline.length;
    for (let i = begin; i < end; i++) {
      const a = timeline[i]!;
      if (stepIndex > 0 && a.timeMs - startMs > chain.maxSpanMs) break;
      if (member && !hasMember && i > memberIndex) break;
      if (last && (isLast ? a !== last : a === last)) continue;
      if (member && !hasMember && a !== member && stepIndex >= memberLastStep) continue;
      if (!stepAdmits(s, a)) continue;
      if (!equal[stepIndex]!.every(([v, fact]) => factValues(a, fact).includes(vars[v]!))) continue;
      if (differ[stepIndex]!.some(([v, fact]) => factValues(a, fact).includes(vars[v]!))) continue;
      if (differ[stepIndex]!.some(([, fact]) => factValues(a, fact).length === 0)) continue;
      for (const next of bindings(s, a, vars)) {
        picked.push(a.fingerprint);
        const found = search(stepIndex + 1, i + 1, next, stepIndex === 0 ? a.timeMs : startMs, hasMember || a === member);
        if (found) return found;
        picked.pop();
      }
    }
    return undefined;
  };
  const variables = search(0, 0, {}, 0, false);
  return variables ? { chain, fingerprints: [...picked], variables } : undefined;
}

/**
 * Every way the step's `bind` can set its variables from the alert (a fact may have several values).
 * A plain array, not a generator: it is built for every admitted alert of every search, and the
 * generators were about a third of the chain search's time (bench/correlate.js profile).
 */
function bindings(s: ChainStep, a: AlertFacts, vars: Record<string, string>): Record<string, string>[] {
  let out = [vars];
  for (const [v, fact] of Object.entries(s.bind)) {
    const values = [...new Set(factValues(a, fact))];
    out = out.flatMap((acc) => values.map((value) => ({ ...acc, [v]: value })));
  }
  return out;
}

/** The incident's severity when it matches the chain: the chain's own, and above every member's. */
export function chainSeverity(chain: ChainDef, members: Priority): Priority {
  const above = Math.min(PRIORITIES.length - 1, priorityRank(members) + 1);
  const own = chain.severity ? priorityRank(chain.severity) : 0;
  return PRIORITIES[Math.max(above, own)]!;
}

export interface ChainFixtureResult {
  chain: string;
  file: string;
  kind: 'fire' | 'miss' | 'coverage';
  name: string;
  ok: boolean;
  problem?: string;
}

/**
 * Runs chain fixtures: each lists member alerts as facts (`timeMs` may be written as `at: 90s`, an
 * offset); a `fire` case must make the chain, a `miss` case must not. Every chain needs one of each.
 */
export function runChainFixtures(chains: readonly ChainDef[], fixtures: readonly ChainFixture[]): ChainFixtureResult[] {
  const results: ChainFixtureResult[] = [];
  const byId = new Map(chains.map((c) => [c.chain, c]));
  const covered = new Map<string, { fire: number; miss: number }>();
  for (const f of fixtures) {
    const chain = byId.get(f.chain);
    if (!chain) {
      results.push({
        chain: f.chain,
        file: f.file,
        kind: 'coverage',
        name: 'unknown chain',
        ok: false,
        problem: 'no such chain',
      });
      continue;
    }
    const c = covered.get(f.chain) ?? { fire: 0, miss: 0 };
    covered.set(f.chain, c);
    for (const kind of ['fire', 'miss'] as const) {
      for (const fixture of f[kind]) {
        c[kind]++;
        const match = matchChain(chain, fixture.alerts.map(fixtureFacts));
        const ok = kind === 'fire' ? match !== undefined : match === undefined;
        results.push({
          chain: f.chain,
          file: f.file,
          kind,
          name: fixture.name,
          ok,
          ...(ok ? {} : { problem: kind === 'fire' ? 'the chain did not match' : `matched ${match!.fingerprints.join(', ')}` }),
        });
      }
    }
  }
  for (const chain of chains) {
    const c = covered.get(chain.chain);
    if (!c || c.fire === 0 || c.miss === 0) {
      results.push({
        chain: chain.chain,
        file: chain.file,
        kind: 'coverage',
        name: 'needs a fire and a miss fixture',
        ok: false,
        problem: `fire ${c?.fire ?? 0}, miss ${c?.miss ?? 0}`,
      });
    }
  }
  return results;
}

const BASE_FACTS: AlertFacts = {
  fingerprint: '',
  timeMs: Date.parse('2025-11-10T12:00:00Z'),
  time: '2025-11-10T12:00:00Z',
  source: 'k8s_audit',
  rule: '',
  ruleId: '',
  priority: 'notice',
  tags: [],
  summary: 'fixture',
  cluster: 'default',
};

let fixtureSeq = 0;
function fixtureFacts(value: Record<string, unknown>): AlertFacts {
  const { at, ...rest } = value;
  const facts = { ...BASE_FACTS, fingerprint: `fixture-${++fixtureSeq}`, ...rest } as AlertFacts;
  if (typeof at === 'string') facts.timeMs = BASE_FACTS.timeMs + spanMs(at);
  if (!facts.rule) facts.rule = facts.ruleId;
  return facts;
}
