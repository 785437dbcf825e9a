import { z } from 'zod';
import { PRIORITIES } from '../../core/priority';

/** Lists and macros are referred to by name inside CEL, so their names must be CEL identifiers. */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Rule ids are stable, URL- and file-name-safe. */
export const RULE_ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

const mode = z.enum(['append', 'replace']);
const scalar = z.union([z.string(), z.number(), z.boolean()]);
const priority = z
  .string()
  .transform((s) => s.toLowerCase())
  .transform((s) => (s === 'info' ? 'informational' : s))
  .pipe(z.enum(PRIORITIES));

export const listEntry = z.strictObject({
  list: z.string().regex(IDENTIFIER, 'list names must be identifiers (letters, digits, _)'),
  description: z.string().optional(),
  items: z.array(scalar),
  override: z.strictObject({ items: mode }).optional(),
});

export const macroEntry = z.strictObject({
  macro: z.string().regex(IDENTIFIER, 'macro names must be identifiers (letters, digits, _)'),
  description: z.string().optional(),
  condition: z.string().trim().min(1),
  override: z.strictObject({ condition: mode }).optional(),
});

const exception = z.strictObject({ name: z.string().min(1), condition: z.string().trim().min(1) });

const match = z.strictObject({
  stages: z.array(z.string().min(1)).min(1).optional(),
  verbs: z.array(z.string().min(1)).min(1).optional(),
  resources: z.array(z.string().min(1)).min(1).optional(),
  falcoRules: z.array(z.string().min(1)).min(1).optional(),
});

export const ruleEntry = z.strictObject({
  rule: z.string().regex(RULE_ID, 'rule ids are lower-case words joined by "-"'),
  name: z.string().min(1).optional(),
  description: z.string().min(1).optional(),
  source: z.enum(['k8s_audit', 'falco']).optional(),
  condition: z.string().trim().min(1).optional(),
  priority: priority.optional(),
  tags: z.array(z.string().min(1)).optional(),
  output: z.string().trim().min(1).optional(),
  runbook: z.string().min(1).optional(),
  enabled: z.boolean().optional(),
  exceptions: z.array(exception).optional(),
  match: match.optional(),
  action: z.enum(['alert', 'amend', 'suppress']).optional(),
  enrichment: z.string().trim().min(1).optional(),
  /** For a rule defined earlier: how each listed key changes it (Falco's `override`). */
  override: z
    .strictObject({
      name: z.literal('replace').optional(),
      description: z.literal('replace').optional(),
      condition: mode.optional(),
      priority: z.literal('replace').optional(),
      tags: mode.optional(),
      output: z.literal('replace').optional(),
      runbook: z.literal('replace').optional(),
      enabled: z.literal('replace').optional(),
      exceptions: mode.optional(),
      match: z.literal('replace').optional(),
      enrichment: z.literal('replace').optional(),
    })
    .optional(),
});

export type ListEntry = z.infer<typeof listEntry>;
export type MacroEntry = z.infer<typeof macroEntry>;
export type RuleEntry = z.infer<typeof ruleEntry>;

/** Turns zod issues into short problems: `unknown field "conditon"`, `priority: invalid option...`. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys')
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    const where = issue.path.join('.');
    return where ? `${where}: ${issue.message}` : issue.message;
  });
}
