/** Slack refuses a button or link whose URL is longer (Block Kit's limit for `url`). */
export const MAX_URL_LENGTH = 3000;

/**
 * The runbook link of a rule: a per-rule URL if configured, else the template with `{rule}` /
 * `{ruleId}`. Any string works: lone surrogates are replaced first (`encodeURIComponent` throws on
 * them), and an event-supplied rule that would make the URL too long for Slack is cut by code point,
 * never inside a percent-escape.
 */
export function runbookUrl(
  rule: string,
  ruleId: string,
  ruleRunbook: string | undefined,
  template: string,
  perRule: Readonly<Record<string, string>>,
): string {
  if (Object.hasOwn(perRule, rule)) return perRule[rule]!;
  if (ruleRunbook && /^https?:\/\//.test(ruleRunbook)) return ruleRunbook;
  const full = fill(template, slug(rule), encodeUpTo(ruleId, Infinity));
  if (full.length <= MAX_URL_LENGTH) return full;
  const bare = fill(template, '', '');
  const slots = occurrences(template, '{rule}') + occurrences(template, '{ruleId}');
  const each = Math.floor((MAX_URL_LENGTH - bare.length) / Math.max(1, slots));
  // A template too long by itself: the operator's text, as configured (there is nothing of ours to cut).
  if (each <= 0) return bare;
  return fill(template, slug(rule).slice(0, each), encodeUpTo(ruleId, each));
}

/** `Terminal shell in container` → `terminal-shell-in-container`. */
export function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

function fill(template: string, rule: string, ruleId: string): string {
  return template.replaceAll('{rule}', rule).replaceAll('{ruleId}', ruleId);
}

function occurrences(s: string, part: string): number {
  return s.split(part).length - 1;
}

/** `s` percent-encoded, as many whole code points as fit in `limit` characters. */
function encodeUpTo(s: string, limit: number): string {
  const whole = s.toWellFormed();
  if (limit === Infinity) return encodeURIComponent(whole);
  let out = '';
  for (const codePoint of whole) {
    const encoded = encodeURIComponent(codePoint);
    if (out.length + encoded.length > limit) break;
    out += encoded;
  }
  return out;
}
