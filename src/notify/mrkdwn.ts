/**
 * Making event-controlled text safe to show in Slack. Nothing a value holds may change the
 * message's layout, ping anyone or make a link:
 * - `&`, `<`, `>` are Slack's control characters: unescaped, `<!channel>` pings everyone and
 *   `<https://evil|runbook>` renders a spoofed link;
 * - `*`, `_`, `~` and backticks format mrkdwn, and Slack has no escape for them: they are replaced by
 *   look-alikes (`_` only where it could open or close italics, so `SYS_ADMIN` stays as it is);
 * - a line break would forge a field (`root\n*Priority*\nInformational`) or leave a code span:
 *   breaks become `⏎`, other control characters `�`;
 * - bidi controls (U+202E...) would reorder what the reader sees: they are dropped;
 * - URLs, e-mail addresses and domains would be auto-linked: a zero-width space after `.`, `@` and
 *   the `:` of `://` keeps them from being recognised, invisibly;
 * - `:name:` would render as an emoji: a zero-width space after its first colon;
 * - lone surrogates are replaced, and cuts never split a surrogate pair or an `&amp;` entity.
 * Copy text from Slack with care: the zero-width spaces come along. `/v1/alerts` has exact values.
 */

const ZWSP = '\u200b';

/** Bidi embeddings, overrides and isolates, marks, and the invisible formatting characters that can hide text. */
const BIDI_AND_INVISIBLE = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u200b-\u200d\u2060-\u2064\ufeff\u00ad]/g;
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const LINE_BREAKS = /\r\n|[\n\r\u000b\u000c\u0085\u2028\u2029]/g;
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const OTHER_CONTROLS = /[\u0000-\u0008\u000e-\u001f\u007f-\u0084\u0086-\u009f]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const LINKABLE = /([.@]|:(?=\/\/))(?=[\p{L}\p{N}/])/gu;
const EMOJI_CODE = /:(?=[\p{L}\p{N}_+'-]+:)/gu;

/** Any event-derived text, for `plain_text` (which Slack does not parse) and as the first step for mrkdwn. */
export function plainText(text: string): string {
  return text
    .replace(LONE_SURROGATE, '\ufffd')
    .replace(BIDI_AND_INVISIBLE, '')
    .replace(LINE_BREAKS, '⏎')
    .replace(/\t/g, ' ')
    .replace(OTHER_CONTROLS, '\ufffd')
    .replace(LINKABLE, `$1${ZWSP}`);
}

/** An event-derived value inside mrkdwn text: shown literally, whatever it holds. */
export function mrkdwnValue(text: string): string {
  return escapeMrkdwn(plainText(text))
    .replace(EMOJI_CODE, `:${ZWSP}`)
    .replace(/\*/g, '∗')
    .replace(/~/g, '∼')
    .replace(/`/g, 'ˋ')
    .replace(/(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu, 'ˍ')
    .replace(/^&gt;/, '›'); // a value can start a line, where `>` would open a quote
}

/** Escapes exactly Slack's three control characters. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

/**
 * Cuts to `max` UTF-16 units (so within Slack's limits however it counts), marker included, never
 * inside a surrogate pair or an entity that `escapeMrkdwn` made.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  const amp = text.lastIndexOf('&', end - 1);
  if (amp !== -1 && end - amp < 5 && !text.slice(amp, end).includes(';')) end = amp;
  return text.slice(0, end) + '…';
}

/**
 * Inline code (monospace, no formatting inside) that a value cannot break out of: no backtick, no
 * line break, and cut inside the span so the closing backtick is always there.
 */
export function inlineCode(text: string, max = Infinity): string {
  const inner = escapeMrkdwn(plainText(text)).replace(/`/g, 'ˋ');
  return '`' + truncate(inner, max - 2) + '`';
}
