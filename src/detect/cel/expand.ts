/**
 * Source-level preprocessing of a rule condition before CEL parses it:
 * - macro names are replaced by their (parenthesised, recursively expanded) conditions, the way Falco
 *   users know macros;
 * - `matches` is routed to Falconer's RE2 implementation (`safeMatches`): the CEL library's own uses
 *   backtracking JS regexes, and conditions run against attacker-controlled strings.
 * Only identifiers outside string literals are touched, and never a field selection (`x.name`).
 */

export type Token = { kind: 'ident' | 'other'; text: string; afterDot: boolean };

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;

/** Splits CEL source into identifiers and everything else (string literals kept whole). */
export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let other = '';
  let lastSignificant = '';
  const flush = () => {
    if (other) out.push({ kind: 'other', text: other, afterDot: false });
    other = '';
  };
  while (i < src.length) {
    const c = src[i]!;
    const stringStart = stringLiteralStart(src, i);
    if (stringStart) {
      const end = endOfStringLiteral(src, i + stringStart.prefix, stringStart.quote, stringStart.raw);
      other += src.slice(i, end);
      lastSignificant = '"';
      i = end;
    } else if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < src.length && IDENT_PART.test(src[j]!)) j++;
      flush();
      out.push({ kind: 'ident', text: src.slice(i, j), afterDot: lastSignificant === '.' });
      lastSignificant = 'a';
      i = j;
    } else {
      other += c;
      if (!/\s/.test(c)) lastSignificant = c;
      i++;
    }
  }
  flush();
  return out;
}

/** Length of the prefix (r, b, rb...) and the quote if a string literal starts at `i`. */
function stringLiteralStart(src: string, i: number): { prefix: number; quote: string; raw: boolean } | undefined {
  const m = /^([rRbB]{0,2})("""|'''|"|')/.exec(src.slice(i, i + 5));
  if (!m) return undefined;
  if (m[1] && i > 0 && IDENT_PART.test(src[i - 1]!)) return undefined;
  return { prefix: m[1]!.length, quote: m[2]!, raw: /r/i.test(m[1]!) };
}

function endOfStringLiteral(src: string, start: number, quote: string, raw: boolean): number {
  let i = start + quote.length;
  while (i < src.length) {
    if (!raw && src[i] === '\\') {
      i += 2;
      continue;
    }
    if (src.startsWith(quote, i)) return i + quote.length;
    i++;
  }
  return src.length;
}

export class ExpansionError extends Error {}

/**
 * Expands macros in `condition`. `macros` maps a name to its raw condition. Throws ExpansionError on a
 * cycle. Returns the expanded source and the macros and identifiers it used.
 */
export function expandCondition(
  condition: string,
  macros: ReadonlyMap<string, string>,
): { source: string; macrosUsed: Set<string>; identifiers: Set<string> } {
  const macrosUsed = new Set<string>();
  const identifiers = new Set<string>();
  const memo = new Map<string, string>();

  const expand = (src: string, stack: string[]): string => {
    let out = '';
    const tokens = tokenize(src);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t.kind === 'other') {
        out += t.text;
      } else if (t.text === 'matches' && /^\s*\(/.test(tokens[i + 1]?.text ?? '')) {
        out += 'safeMatches';
      } else if (!t.afterDot && macros.has(t.text)) {
        if (stack.includes(t.text)) {
          throw new ExpansionError(`macro cycle: ${[...stack, t.text].join(' -> ')}`);
        }
        macrosUsed.add(t.text);
        let body = memo.get(t.text);
        if (body === undefined) {
          body = expand(macros.get(t.text)!, [...stack, t.text]);
          memo.set(t.text, body);
        }
        out += `(${body})`;
      } else {
        if (!t.afterDot) identifiers.add(t.text);
        out += t.text;
      }
    }
    return out;
  };

  return { source: expand(condition, []), macrosUsed, identifiers };
}
