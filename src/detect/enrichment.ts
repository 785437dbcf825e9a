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
 * the subject's RBAC facts with every number made a BigInt was most of what a pending rule cost.
 */
export function enrichmentActivation(enrichment: Enrichment): { enrichment: Record<string, unknown> } {
  const view: Record<string, unknown> = {};
  for (const key of Object.keys(enrichment) as (keyof Enrichment)[]) {
    const part = enrichment[key];
    if (part !== undefined) lazily(view, key, () => celValue(part));
  }
  lazily(view, 'vulnerabilities', () => ({
    ...NO_VULNERABILITIES,
    ...(celValue(enrichment.vulnerabilities) as object | undefined),
  }));
  lazily(view, 'policy', () => ({ ...NO_POLICY, ...(celValue(enrichment.policy) as object | undefined) }));
  return { enrichment: view };
}

/** An own, enumerable property (CEL reads a map's fields only if `Object.hasOwn`), made on first read, then kept. */
function lazily(target: Record<string, unknown>, key: string, make: () => unknown): void {
  Object.defineProperty(target, key, {
    enumerable: true,
    configurable: true,
    get() {
      const value = make();
      Object.defineProperty(target, key, { value, enumerable: true, configurable: true, writable: true });
      return value;
    },
  });
}

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
