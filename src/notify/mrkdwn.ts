/**
 * Escapes text for Slack mrkdwn. `&`, `<` and `>` are Slack's control characters: unescaped, an
 * attacker-controlled command line like `<!channel>` pings everyone and `<https://evil|runbook>`
 * renders a spoofed link. Every event-derived string goes through this before it reaches mrkdwn.
 */
export function escapeMrkdwn(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

/** Cuts to Slack's per-field limits, counting the marker. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + '…';
}

/** Inline code that cannot be broken out of by backticks in the value. */
export function inlineCode(text: string): string {
  return '`' + escapeMrkdwn(text).replace(/`/g, 'ˋ') + '`';
}
