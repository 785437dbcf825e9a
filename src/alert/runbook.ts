/** The runbook link of a rule: a per-rule URL if configured, else the template with `{rule}` / `{ruleId}`. */
export function runbookUrl(
  rule: string,
  ruleId: string,
  ruleRunbook: string | undefined,
  template: string,
  perRule: Readonly<Record<string, string>>,
): string {
  if (Object.hasOwn(perRule, rule)) return perRule[rule]!;
  if (ruleRunbook && /^https?:\/\//.test(ruleRunbook)) return ruleRunbook;
  return template.replaceAll('{rule}', slug(rule)).replaceAll('{ruleId}', encodeURIComponent(ruleId));
}

/** `Terminal shell in container` → `terminal-shell-in-container`. */
export function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}
