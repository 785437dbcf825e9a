import { Environment } from '@marcbachmann/cel-js';
import { RE2JS } from '@bufbuild/re2';
import type { VariableDecl } from '../activation';

/** A compiled condition: returns CEL's result (anything but `true` is "no match"). */
export type Program = (activation: object) => unknown;

const RE_CACHE_LIMIT = 2048;
const reCache = new Map<string, RE2JS>();

/**
 * `matches` with RE2 semantics: linear time in the input whatever the pattern, so a hostile field
 * value cannot stall detection. Compiled patterns are cached (rules use a handful of literals).
 */
export function safeMatches(input: string, pattern: string): boolean {
  let re = reCache.get(pattern);
  if (!re) {
    re = RE2JS.compile(pattern);
    if (reCache.size >= RE_CACHE_LIMIT) reCache.clear();
    reCache.set(pattern, re);
  }
  return re.test(input);
}

/** Falco's `in` on a list field: true only if there is at least one value and every value is in the set. */
export function within(values: readonly unknown[], set: readonly unknown[]): boolean {
  return values.length > 0 && values.every((v) => set.includes(v));
}

/** Falco's `intersects`: true if any value is in the set. */
export function intersects(values: readonly unknown[], set: readonly unknown[]): boolean {
  return values.some((v) => set.includes(v));
}

/** Whether any string item of `list` passes `test` (other items are skipped; no filtered copy is made per call). */
function anyString(list: readonly unknown[], test: (item: string) => boolean): boolean {
  for (const item of list) if (typeof item === 'string' && test(item)) return true;
  return false;
}

/** Names callable in conditions besides CEL's standard library (documented in docs/rules.md). */
export const FALCONER_FUNCTIONS = [
  'within',
  'intersects',
  'startsWithAny',
  'endsWithAny',
  'containsAny',
  'anyStartsWith',
  'matches (RE2)',
] as const;

/**
 * A CEL environment for one source: its activation variables, the rule set's lists as constants, and
 * Falconer's helper functions. Built once per rule set (lists are part of it), so a reload swaps it too.
 */
export function buildEnvironment(
  variables: Readonly<Record<string, VariableDecl>>,
  lists: ReadonlyMap<string, readonly string[]>,
  onBadList: (name: string, problem: string) => void = () => {},
): Environment {
  const env = new Environment({
    homogeneousAggregateLiterals: false,
    enableOptionalTypes: true,
    limits: { maxAstNodes: 5000, maxDepth: 100, maxListElements: 5000, maxMapEntries: 1000, maxCallArguments: 32 },
  });
  for (const [name, decl] of Object.entries(variables)) env.registerVariable(name, decl.type);
  for (const [name, items] of lists) {
    if (Object.hasOwn(variables, name)) {
      onBadList(name, `"${name}" is an event field; give the list another name`);
      continue;
    }
    try {
      env.registerConstant(name, 'list<string>', [...items]);
    } catch (err) {
      onBadList(name, firstLine((err as Error).message)); // e.g. a CEL reserved word
    }
  }
  env
    .registerFunction('list.within(list): bool', (a: unknown[], b: unknown[]) => within(a, b))
    .registerFunction('list.intersects(list): bool', (a: unknown[], b: unknown[]) => intersects(a, b))
    .registerFunction('string.startsWithAny(list): bool', (s: string, l: unknown[]) => anyString(l, (p) => s.startsWith(p)))
    .registerFunction('string.endsWithAny(list): bool', (s: string, l: unknown[]) => anyString(l, (p) => s.endsWith(p)))
    .registerFunction('string.containsAny(list): bool', (s: string, l: unknown[]) => anyString(l, (p) => s.includes(p)))
    .registerFunction('list.anyStartsWith(list): bool', (values: unknown[], l: unknown[]) =>
      anyString(values, (v) => anyString(l, (p) => v.startsWith(p))),
    )
    .registerFunction('string.safeMatches(string): bool', (s: string, p: string) => safeMatches(s, p))
    .registerFunction('safeMatches(string, string): bool', (s: string, p: string) => safeMatches(s, p));
  return env;
}

/**
 * Parses and type-checks `source`. Returns the program or a one-line error message
 * (the library's messages carry a multi-line source excerpt; the first line says what is wrong).
 */
export function compile(env: Environment, source: string): Program | { error: string } {
  try {
    const parsed = env.parse(source);
    const checked = parsed.check();
    if (!checked.valid) return { error: firstLine(checked.error?.message ?? 'type check failed') };
    if (checked.type !== 'bool' && checked.type !== 'dyn') return { error: `must be bool, got ${checked.type}` };
    return parsed as unknown as Program;
  } catch (err) {
    return { error: firstLine((err as Error).message) };
  }
}

export function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}
