import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { describeIssues, listEntry, macroEntry, ruleEntry, type RuleEntry } from './schema';
import type { MatchDef, Origin, RuleDef, RuleDefinitions, RuleProblem } from './types';

export interface RuleSourceFile {
  /** Path as shown in messages. */
  file: string;
  text: string;
}

/** Folders a rules folder may hold that are not rules: fixture events, override files to copy, the correlate stage's chains. */
const NOT_RULES = new Set(['fixtures', 'examples', 'chains']);

/** Rule files of a folder: `*.yaml` / `*.yml`, recursively, sorted, skipping `fixtures/`, `examples/` and `chains/`. */
export function ruleFilesIn(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) {
        if (!NOT_RULES.has(name) && !name.startsWith('.')) walk(p);
      } else if (/\.ya?ml$/.test(name)) {
        out.push(p);
      }
    }
  };
  walk(dir);
  return out;
}

/** Reads the folders in order (built-in first, then user folders): later files extend earlier ones. */
export function readRuleSources(dirs: readonly string[]): RuleSourceFile[] {
  return dirs.flatMap((dir) =>
    ruleFilesIn(dir).map((file) => ({ file: relative(process.cwd(), file) || file, text: readFileSync(file, 'utf8') })),
  );
}

const DEFAULT_MATCH: MatchDef = { stages: ['ResponseComplete'], verbs: ['*'], resources: ['*'], falcoRules: ['*'] };

/**
 * Merges rule files into one set of definitions. Pure: give it file contents, get definitions and
 * every problem found (it does not stop at the first, so `rules lint` can list them all).
 */
export function mergeRuleSources(sources: readonly RuleSourceFile[]): {
  definitions: RuleDefinitions;
  problems: RuleProblem[];
} {
  const definitions: RuleDefinitions = { lists: new Map(), macros: new Map(), rules: new Map() };
  const problems: RuleProblem[] = [];

  for (const { file, text } of sources) {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
    if (doc.errors.length) {
      for (const e of doc.errors) {
        problems.push({ file, line: lineCounter.linePos(e.pos[0]).line, problem: `YAML: ${e.message.split('\n')[0]}` });
      }
      continue;
    }
    if (doc.contents === null) continue;
    if (!isSeq(doc.contents)) {
      problems.push({ file, line: 1, problem: 'a rule file is a YAML list of list, macro and rule entries' });
      continue;
    }
    for (const node of doc.contents.items) {
      const line = isMap(node) && node.range ? lineCounter.linePos(node.range[0]).line : 1;
      const origin: Origin = { file, line };
      const value: unknown = isMap(node) ? node.toJSON() : undefined;
      if (!value || typeof value !== 'object') {
        problems.push({ file, line, problem: 'each entry must be a mapping with a list, macro or rule key' });
        continue;
      }
      const entry = value as Record<string, unknown>;
      const report = (subject: string | undefined, problem: string) => problems.push({ file, line, subject, problem });
      if ('list' in entry) mergeList(entry, origin, definitions, report);
      else if ('macro' in entry) mergeMacro(entry, origin, definitions, report);
      else if ('rule' in entry) mergeRule(entry, origin, definitions, report);
      else
        report(
          undefined,
          `entry must have a "list", "macro" or "rule" key (got ${
            Object.keys(entry)
              .map((k) => `"${k}"`)
              .join(', ') || 'nothing'
          })`,
        );
    }
  }
  return { definitions, problems };
}

type Report = (subject: string | undefined, problem: string) => void;

function parse<T>(schema: z.ZodType<T>, entry: unknown, subject: string, report: Report): T | undefined {
  const r = schema.safeParse(entry);
  if (r.success) return r.data;
  for (const p of describeIssues(r.error)) report(subject, p);
  return undefined;
}

function at(o: Origin): string {
  return `${o.file}:${o.line}`;
}

function mergeList(entry: Record<string, unknown>, origin: Origin, defs: RuleDefinitions, report: Report): void {
  const subject = `list "${String(entry.list)}"`;
  const e = parse(listEntry, entry, subject, report);
  if (!e) return;
  const items = e.items.map(String);
  const existing = defs.lists.get(e.list);
  if (!existing) {
    if (e.override) return report(subject, 'override of a list that is not defined earlier');
    defs.lists.set(e.list, { name: e.list, items, origin });
  } else if (!e.override) {
    report(subject, `already defined at ${at(existing.origin)}; use override: {items: append} or {items: replace}`);
  } else {
    existing.items = e.override.items === 'append' ? [...existing.items, ...items] : items;
  }
}

function mergeMacro(entry: Record<string, unknown>, origin: Origin, defs: RuleDefinitions, report: Report): void {
  const subject = `macro "${String(entry.macro)}"`;
  const e = parse(macroEntry, entry, subject, report);
  if (!e) return;
  const existing = defs.macros.get(e.macro);
  if (!existing) {
    if (e.override) return report(subject, 'override of a macro that is not defined earlier');
    defs.macros.set(e.macro, { name: e.macro, condition: e.condition, origin });
  } else if (!e.override) {
    report(subject, `already defined at ${at(existing.origin)}; use override: {condition: append} or {condition: replace}`);
  } else {
    // Appending widens a macro: typically a "known activity" exception the user adds to.
    existing.condition = e.override.condition === 'append' ? `(${existing.condition}) || (${e.condition})` : e.condition;
  }
}

function mergeRule(entry: Record<string, unknown>, origin: Origin, defs: RuleDefinitions, report: Report): void {
  const subject = `rule "${String(entry.rule)}"`;
  const e = parse(ruleEntry, entry, subject, report);
  if (!e) return;
  const existing = defs.rules.get(e.rule);
  if (!existing) {
    if (e.override) return report(subject, 'override of a rule that is not defined earlier');
    const rule = newRule(e, origin, (p) => report(subject, p));
    if (rule) defs.rules.set(rule.id, rule);
    return;
  }
  const keys = Object.keys(e).filter((k) => k !== 'rule' && k !== 'override');
  if (!e.override) {
    if (keys.length === 1 && keys[0] === 'enabled') {
      existing.enabled = e.enabled!;
      return;
    }
    return report(
      subject,
      `duplicate rule id (first defined at ${at(existing.origin)}); to change it use "override", to switch it on or off give only "enabled"`,
    );
  }
  applyOverride(existing, e, keys, (p) => report(subject, p));
}

function newRule(e: RuleEntry, origin: Origin, problem: (p: string) => void): RuleDef | undefined {
  const source = e.source ?? 'k8s_audit';
  const action = e.action ?? (source === 'falco' ? 'amend' : 'alert');
  const missing = (['name', 'description', 'condition', 'output', 'tags'] as const).filter((k) => e[k] === undefined);
  if (e.source === undefined) missing.unshift('source' as never);
  if (e.priority === undefined && !(source === 'falco' && action !== 'alert')) missing.push('priority' as never);
  if (missing.length) {
    problem(`missing field${missing.length > 1 ? 's' : ''} ${missing.map((k) => `"${k}"`).join(', ')}`);
    return undefined;
  }
  if (source === 'k8s_audit' && action !== 'alert') problem('"action" applies to falco rules only');
  if (source === 'k8s_audit' && e.match?.falcoRules) problem('"match.falcoRules" applies to falco rules only');
  if (source === 'falco' && (e.match?.stages || e.match?.verbs || e.match?.resources)) {
    problem('"match.stages/verbs/resources" apply to k8s_audit rules only');
  }
  if (e.enrichment !== undefined && !(source === 'falco' && action === 'amend')) {
    problem('"enrichment" applies to falco rules with action: amend only');
  }
  return {
    id: e.rule,
    name: e.name!,
    description: e.description!,
    source,
    condition: e.condition!,
    priority: e.priority,
    tags: e.tags!,
    output: e.output!,
    runbook: e.runbook,
    enabled: e.enabled ?? true,
    exceptions: e.exceptions ?? [],
    match: { ...DEFAULT_MATCH, ...e.match },
    action,
    ...(e.enrichment !== undefined ? { enrichment: e.enrichment } : {}),
    origin,
  };
}

function applyOverride(rule: RuleDef, e: RuleEntry, keys: string[], problem: (p: string) => void): void {
  const o = e.override!;
  for (const k of keys) if (!(k in o)) problem(`"${k}" given without override.${k}`);
  for (const k of Object.keys(o)) if (!keys.includes(k)) problem(`override.${k} given without a "${k}" value`);
  if (e.name !== undefined && o.name) rule.name = e.name;
  if (e.description !== undefined && o.description) rule.description = e.description;
  if (e.condition !== undefined && o.condition) {
    // Appending narrows a rule, as in Falco: the extra clause must also hold.
    rule.condition = o.condition === 'append' ? `(${rule.condition}) && (${e.condition})` : e.condition;
  }
  if (e.priority !== undefined && o.priority) rule.priority = e.priority;
  if (e.tags !== undefined && o.tags) rule.tags = o.tags === 'append' ? [...rule.tags, ...e.tags] : e.tags;
  if (e.output !== undefined && o.output) rule.output = e.output;
  if (e.runbook !== undefined && o.runbook) rule.runbook = e.runbook;
  if (e.enabled !== undefined && o.enabled) rule.enabled = e.enabled;
  if (e.exceptions !== undefined && o.exceptions) {
    rule.exceptions = o.exceptions === 'append' ? [...rule.exceptions, ...e.exceptions] : e.exceptions;
  }
  if (e.match !== undefined && o.match) rule.match = { ...DEFAULT_MATCH, ...e.match };
  if (e.enrichment !== undefined && o.enrichment) rule.enrichment = e.enrichment;
}
