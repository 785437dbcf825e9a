import type { z } from 'zod';

/** The parts of a zod schema's definition that say where its keys are. */
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
  element?: z.ZodType;
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** The schemas a value at `schema` may match, with optional/default/pipe wrappers and unions taken apart. */
function alternatives(schema: z.ZodType): z.ZodType[] {
  const def = defOf(schema);
  if (def.innerType) return alternatives(def.innerType);
  if (def.type === 'pipe' && def.in) return alternatives(def.in);
  if (def.type === 'union' && def.options) return def.options.flatMap(alternatives);
  return [schema];
}

/**
 * Every key that takes a value, as dotted paths; array elements are `[]` (`receivers[].channel`). A key
 * whose value can only be an object (`server`, `server.tls`) is not listed itself, only its keys; one
 * that can also be a scalar (`kafka.tls`: `true` or `{caFile, ...}`) is listed, and so are its keys.
 */
export function keyPaths(schema: z.ZodType, prefix = ''): string[] {
  const paths = new Set<string>();
  for (const alt of alternatives(schema)) {
    const def = defOf(alt);
    if (def.type === 'object' && def.shape) {
      for (const [key, child] of Object.entries(def.shape)) {
        const path = prefix ? `${prefix}.${key}` : key;
        if (alternatives(child).some((a) => defOf(a).type !== 'object')) paths.add(path);
        for (const p of keyPaths(child, path)) paths.add(p);
      }
    } else if (def.type === 'array' && def.element) {
      for (const p of keyPaths(def.element, `${prefix}[]`)) paths.add(p);
    }
  }
  return [...paths];
}

/** The keys an object at `path` (as in a zod issue: keys and array indexes) may have. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let level = alternatives(schema);
  for (const segment of path) {
    level = level.flatMap((alt) => {
      const def = defOf(alt);
      if (typeof segment === 'number') return def.type === 'array' && def.element ? alternatives(def.element) : [];
      const child = def.type === 'object' ? def.shape?.[String(segment)] : undefined;
      return child ? alternatives(child) : [];
    });
  }
  return [...new Set(level.flatMap((alt) => Object.keys(defOf(alt).shape ?? {})))];
}

/** The candidate closest to `word` by edit distance (ignoring case), if any is reasonably close. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  // Past about half the word, the "nearest" one is just some other key.
  return bestDistance <= Math.max(2, Math.floor(word.length / 2)) ? best : undefined;
}

/** Levenshtein distance, with a swap of two neighbours counting as one edit (`prot` → `port`). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
