/**
 * The silence form's checks and the silence it posts (the same object POST /v1/silences takes from the
 * API, the CLI and Slack). Pure, so jest tests it (test/ui/). The server checks again.
 */
import { parseDuration } from './format';
import type { Matcher } from './types';

export interface SilenceDraft {
  matchers: Matcher[];
  duration: string;
  comment: string;
  createdBy: string;
}

export interface PostableSilence {
  matchers: Matcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The matchers worth previewing: named, with a valid name and (for regexes) a valid pattern. */
export function usableMatchers(matchers: readonly Matcher[]): Matcher[] {
  return matchers.filter((m) => LABEL_NAME.test(m.name) && (!m.isRegex || regexOk(m.value)));
}

function regexOk(pattern: string): boolean {
  try {
    new RegExp(`^(?:${pattern})$`);
    return true;
  } catch {
    return false;
  }
}

/** The first problem with a draft, or the silence to post. */
export function buildSilence(draft: SilenceDraft, now: number): { error: string } | { silence: PostableSilence } {
  if (draft.matchers.length === 0) return { error: 'Add at least one matcher.' };
  for (const m of draft.matchers) {
    if (!LABEL_NAME.test(m.name)) return { error: `Matcher name ${JSON.stringify(m.name)} is not a label name.` };
    if (m.isRegex && !regexOk(m.value)) return { error: `Matcher ${m.name}: ${JSON.stringify(m.value)} is not a valid regex.` };
  }
  const matchesEmpty = (m: Matcher) => {
    const hit = m.isRegex ? new RegExp(`^(?:${m.value})$`).test('') : m.value === '';
    return m.isEqual ? hit : !hit;
  };
  if (draft.matchers.every(matchesEmpty)) return { error: 'At least one matcher must not match the empty value.' };
  const ms = parseDuration(draft.duration);
  if (ms === undefined) return { error: `Duration ${JSON.stringify(draft.duration)} is not one like 2h, 90m or 1d.` };
  if (!draft.createdBy.trim()) return { error: 'Say who creates the silence.' };
  if (!draft.comment.trim()) return { error: 'Say why (a comment is required).' };
  return {
    silence: {
      matchers: draft.matchers.map((m) => ({ name: m.name, value: m.value, isRegex: m.isRegex, isEqual: m.isEqual })),
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + ms).toISOString(),
      createdBy: draft.createdBy.trim(),
      comment: draft.comment.trim(),
    },
  };
}

/** `rule="Terminal shell"`, `pod=~"web-.*"`, `namespace!="kube-system"`. */
export function matcherText(m: Matcher): string {
  const op = m.isRegex ? (m.isEqual ? '=~' : '!~') : m.isEqual ? '=' : '!=';
  return `${m.name}${op}${JSON.stringify(m.value)}`;
}
