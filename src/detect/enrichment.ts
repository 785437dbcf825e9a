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
 */
export function enrichmentActivation(enrichment: Enrichment): { enrichment: Record<string, unknown> } {
  const value = celValue(enrichment) as Record<string, unknown>;
  return {
    enrichment: {
      ...value,
      vulnerabilities: { ...NO_VULNERABILITIES, ...(value.vulnerabilities as object | undefined) },
      policy: { ...NO_POLICY, ...(value.policy as object | undefined) },
    },
  };
}

function celValue(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(celValue);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = celValue(x);
    return out;
  }
  return v;
}
