import type { Enrichment } from '../core/alert';
import type { VariableDecl } from './activation';

/** The one variable of an `enrichment:` condition (docs/rules.md#conditions-on-the-enrichment). */
export const ENRICHMENT_VARIABLES: Readonly<Record<string, VariableDecl>> = {
  enrichment: {
    type: 'map',
    doc: "the alert's enrichment: subject, pod, network, vulnerabilities, policy (docs/enrichment.md)",
  },
};

const NO_VULNERABILITIES = { images: [], critical: 0n, high: 0n, medium: 0n, fixable: 0n, criticalFixable: 0n };
const NO_POLICY = { failing: 0n, results: [] };

/**
 * The enrichment as CEL sees it: whole numbers become CEL ints, and `vulnerabilities` and `policy` are
 * always present (zero counts, empty lists), so `enrichment.vulnerabilities.criticalFixable > 0` is
 * simply false for a pod nothing is known about, as with the event fields.
 *
 * Each part is converted when a condition first reads it: rules look at one or two parts, and copying
 * the whole enrichment (the pod's facts and the subject's RBAC, every number made a BigInt) was most
 * of what a pending rule cost. A proxy, because CEL reads a map's fields with `Object.hasOwn` (lazy
 * own accessors put the object in dictionary mode and cost more than the copy).
 */
export function enrichmentActivation(enrichment: Enrichment): EnrichmentActivation {
  const parts = new Parts(enrichment);
  return { enrichment: new Proxy(parts, PARTS) as unknown as Record<string, unknown>, [PARTS_READ]: parts };
}

/** What a condition sees (`enrichment`), and which parts of it a condition read (`readsOf`). */
export interface EnrichmentActivation {
  enrichment: Record<string, unknown>;
  [PARTS_READ]: Parts;
}

const PARTS_READ = Symbol('parts read');

/** Starts noting the parts a condition reads: `readsOf` then says which, since this call. */
export function startReads(activation: EnrichmentActivation): void {
  activation[PARTS_READ].reads = [];
}

/**
 * The names of the parts read since `startReads` (present or not), or undefined when the condition
 * listed the enrichment's keys (its answer then depends on which parts there are).
 */
export function readsOf(activation: EnrichmentActivation): readonly string[] | undefined {
  return activation[PARTS_READ].reads;
}

/** Whether the enrichment has none of these parts: a condition reading only those sees the same defaults. */
export function lacksAll(activation: EnrichmentActivation, names: readonly string[]): boolean {
  const enrichment = activation[PARTS_READ].enrichment as Record<string, unknown>;
  // As `has` reads a part: an own key with a value (`constructor` and the like are no part).
  for (const name of names) if (Object.hasOwn(enrichment, name) && enrichment[name] !== undefined) return false;
  return true;
}

type PartName = keyof Enrichment;

/** The proxy's target: the enrichment and the parts converted so far (what CEL reads goes through `PARTS`). */
class Parts {
  private converted?: Map<PartName, unknown>;
  private listed?: PartName[];
  /** The part names looked up since `startReads`; undefined once the keys were listed. */
  reads?: string[] | undefined;

  constructor(readonly enrichment: Enrichment) {}

  has(key: string | symbol): key is PartName {
    if (typeof key === 'string' && this.reads && !this.reads.includes(key)) this.reads.push(key);
    if (key === 'vulnerabilities' || key === 'policy') return true;
    return typeof key === 'string' && Object.hasOwn(this.enrichment, key) && this.enrichment[key as PartName] !== undefined;
  }

  keys(): PartName[] {
    this.reads = undefined;
    if (!this.listed) {
      const keys = (Object.keys(this.enrichment) as PartName[]).filter((k) => this.enrichment[k] !== undefined);
      for (const always of ['vulnerabilities', 'policy'] as const) if (!keys.includes(always)) keys.push(always);
      this.listed = keys;
    }
    return this.listed;
  }

  part(key: PartName): unknown {
    this.converted ??= new Map();
    if (this.converted.has(key)) return this.converted.get(key);
    const value = celValue(this.enrichment[key]);
    const part =
      key === 'vulnerabilities'
        ? { ...NO_VULNERABILITIES, ...(value as object | undefined) }
        : key === 'policy'
          ? { ...NO_POLICY, ...(value as object | undefined) }
          : value;
    this.converted.set(key, part);
    return part;
  }
}

/** Reads as a plain object with exactly the parts present (and the two always there); `constructor` is Object's. */
const PARTS: ProxyHandler<Parts> = {
  get: (t, key) => (t.has(key) ? t.part(key) : Reflect.get(Object.prototype, key)),
  has: (t, key) => t.has(key),
  ownKeys: (t) => t.keys(),
  getOwnPropertyDescriptor: (t, key) =>
    t.has(key) ? { value: t.part(key), enumerable: true, configurable: true, writable: false } : undefined,
  getPrototypeOf: () => Object.prototype,
  set: () => false,
  defineProperty: () => false,
  deleteProperty: () => false,
};

function celValue(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map(celValue);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== undefined) out[k] = celValue(x);
  }
  return out;
}
