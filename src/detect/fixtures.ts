import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Json, JsonObject, SecurityEvent } from '../core/event';
import { normaliseAudit } from '../ingest/audit';
import { normaliseFalco } from '../ingest/falco';
import type { Enrichment } from '../core/alert';
import { AuditActivation, FalcoActivation } from './activation';
import { enrichmentActivation } from './enrichment';
import { selectorAdmits } from './rules/index';
import type { RuleSet } from './rules/ruleset';

/**
 * Rule fixtures: for each rule, events that must fire it and near-misses that must not. They live in
 * `<rules dir>/fixtures/*.yaml`. An audit fixture event is a partial audit Event merged over a complete
 * default one (objects merge, arrays and scalars replace, `null` removes a key), so a fixture shows
 * only what matters to the rule.
 */
const fixtureEvent = z.strictObject({
  name: z.string().min(1),
  event: z.record(z.string(), z.unknown()),
  /** For a rule with an `enrichment:` condition: the alert's enrichment (as in docs/enrichment.md). */
  enrichment: z.record(z.string(), z.unknown()).optional(),
});
const fixtureEntry = z.strictObject({
  rule: z.string().min(1),
  fire: z.array(fixtureEvent).default([]),
  miss: z.array(fixtureEvent).default([]),
});
const fixtureFile = z.array(fixtureEntry);

export type FixtureEntry = z.infer<typeof fixtureEntry>;

export interface FixtureFile {
  file: string;
  entries: FixtureEntry[];
}

export interface FixtureResult {
  rule: string;
  file: string;
  kind: 'fire' | 'miss' | 'coverage';
  name: string;
  ok: boolean;
  problem?: string;
}

export const BASE_AUDIT_EVENT: JsonObject = {
  kind: 'Event',
  apiVersion: 'audit.k8s.io/v1',
  level: 'RequestResponse',
  auditID: '00000000-0000-4000-8000-000000000000',
  stage: 'ResponseComplete',
  requestURI: '/api/v1/namespaces/default/pods',
  verb: 'get',
  user: { username: 'alice@example.com', groups: ['devs', 'system:authenticated'] },
  sourceIPs: ['10.0.0.12'],
  userAgent: 'kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0',
  objectRef: { resource: 'pods', namespace: 'default', name: 'web', apiVersion: 'v1' },
  responseStatus: { metadata: {}, code: 200 },
  requestReceivedTimestamp: '2025-11-10T12:00:00.000000Z',
  stageTimestamp: '2025-11-10T12:00:00.010000Z',
  annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': 'RBAC: allowed' },
};

export const BASE_FALCO_EVENT: JsonObject = {
  uuid: '00000000-0000-4000-8000-00000000f000',
  output: 'fixture',
  priority: 'Notice',
  rule: 'Terminal shell in container',
  time: '2025-11-10T12:00:00.000000000Z',
  output_fields: {},
  source: 'syscall',
  tags: [],
  hostname: 'node-1',
};

/** Objects merge, everything else replaces, `null` deletes. */
export function overlay(base: JsonObject, patch: Record<string, unknown>): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (isObject(v) && isObject(out[k])) out[k] = overlay(out[k] as JsonObject, v);
    else out[k] = v as Json;
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The security event a fixture describes: `source: falco` events are Falco payloads, others audit. */
export function fixtureToEvent(patch: Record<string, unknown>, index: number, source: 'k8s_audit' | 'falco'): SecurityEvent {
  const ctx = { cluster: 'fixture', receivedAt: 0, maxFieldLength: 16 * 1024 };
  if (source === 'falco') return normaliseFalco(overlay(BASE_FALCO_EVENT, patch), ctx);
  const auditID = `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;
  return normaliseAudit(overlay({ ...BASE_AUDIT_EVENT, auditID }, patch), ctx);
}

/** Reads `fixtures/*.yaml` of each rules folder. Throws on a malformed fixture file. */
export function readFixtures(dirs: readonly string[]): FixtureFile[] {
  const files: FixtureFile[] = [];
  for (const dir of dirs) {
    const fdir = join(dir, 'fixtures');
    if (!existsSync(fdir)) continue;
    for (const name of readdirSync(fdir).sort()) {
      if (!/\.ya?ml$/.test(name)) continue;
      const path = join(fdir, name);
      const shown = relative(process.cwd(), path) || path;
      const parsed = fixtureFile.safeParse(parseYaml(readFileSync(path, 'utf8'), { merge: true }) ?? []);
      if (!parsed.success) {
        throw new Error(`${shown}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      }
      files.push({ file: shown, entries: parsed.data });
    }
  }
  return files;
}

/**
 * Runs every fixture against its rule (enabled or not: a disabled built-in rule must still work when a
 * user turns it on). A fixture fails if the rule's match selector or condition disagrees with it, or
 * if evaluating the rule raised an error (an erroring rule must not pass a near-miss by accident).
 * Rules listed in `requireCoverage` without a firing and a near-miss fixture fail too.
 */
export function runFixtures(ruleSet: RuleSet, files: readonly FixtureFile[], requireCoverage: Iterable<string>): FixtureResult[] {
  const results: FixtureResult[] = [];
  const covered = new Map<string, { fire: number; miss: number }>();
  let index = 1;
  for (const { file, entries } of files) {
    for (const entry of entries) {
      const rule = ruleSet.byId(entry.rule);
      const cov = covered.get(entry.rule) ?? { fire: 0, miss: 0 };
      covered.set(entry.rule, cov);
      for (const kind of ['fire', 'miss'] as const) {
        for (const fx of entry[kind]) {
          const base = { rule: entry.rule, file, kind, name: fx.name };
          if (!rule) {
            results.push({ ...base, ok: false, problem: `no rule with id "${entry.rule}"` });
            continue;
          }
          cov[kind]++;
          let event: SecurityEvent;
          try {
            event = fixtureToEvent(fx.event, index++, rule.def.source);
          } catch (err) {
            results.push({ ...base, ok: false, problem: `fixture event is invalid: ${(err as Error).message}` });
            continue;
          }
          const { matched, error } = evaluate(ruleSet, entry.rule, event, fx.enrichment as Enrichment | undefined);
          const ok = !error && matched === (kind === 'fire');
          results.push({
            ...base,
            ok,
            problem: ok ? undefined : error ? `evaluation error: ${error}` : kind === 'fire' ? 'did not fire' : 'fired',
          });
        }
      }
    }
  }
  for (const id of requireCoverage) {
    const cov = covered.get(id);
    if (!cov || cov.fire === 0 || cov.miss === 0) {
      results.push({
        rule: id,
        file: '',
        kind: 'coverage',
        name: 'has a firing and a near-miss fixture',
        ok: false,
        problem: `missing ${!cov || cov.fire === 0 ? 'a firing' : 'a near-miss'} fixture`,
      });
    }
  }
  return results;
}

/**
 * One rule on one event, selector included. A rule with an `enrichment:` condition must also hold on
 * `enrichment` (an empty enrichment when the fixture gives none).
 */
export function evaluate(
  ruleSet: RuleSet,
  ruleId: string,
  event: SecurityEvent,
  enrichment: Enrichment = {},
): { matched: boolean; error?: string } {
  const rule = ruleSet.byId(ruleId);
  if (!rule) return { matched: false, error: `no rule with id "${ruleId}"` };
  if (rule.def.source === 'falco') {
    if (event.source !== 'falco') return { matched: false };
    const names = rule.match.falcoRules;
    if (!names.includes('*') && !names.includes(event.falco?.rule ?? '')) return { matched: false };
    const verdict = ruleSet.verdict(rule, new FalcoActivation(event));
    if (!verdict.matched || !rule.onEnrichment) return verdict;
    return ruleSet.enrichmentVerdict(rule, enrichmentActivation(enrichment));
  }
  if (event.source !== 'k8s_audit') return { matched: false };
  const a = new AuditActivation(event.raw);
  if (!selectorAdmits(rule.match, a.stage, a.verb, a.resource, a.subresource)) return { matched: false };
  return ruleSet.verdict(rule, a);
}
