import type { Json } from '../core/event';
import { InvalidJsonError } from '../core/errors';

export interface ParseOptions {
  /** Deepest nesting of objects and arrays accepted. */
  maxDepth: number;
}

/**
 * JSON.parse made safe for hostile payloads, at close to JSON.parse's speed:
 * - nesting deeper than `maxDepth` is refused before parsing (no recursion blow-ups later);
 * - integers beyond 2^53 (Falco's `evt.time` in ns) are kept exactly, as decimal strings, instead of
 *   being silently rounded;
 * - `__proto__` keys are dropped, so nothing merged from the payload can change a prototype.
 * One linear scan outside string literals finds both depth and unsafe integers; a JSON.parse reviver
 * would do the same but costs 3-8× the parse.
 */
export function parseJson(text: string, { maxDepth }: ParseOptions): Json {
  const bigInts = scan(text, maxDepth);
  let value: Json;
  try {
    value = JSON.parse(bigInts.length ? quoteRanges(text, bigInts) : text) as Json;
  } catch (err) {
    throw new InvalidJsonError(`body is not valid JSON: ${(err as Error).message}`);
  }
  if (text.includes('"__proto__"')) dropProtoKeys(value);
  return value;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;

/** Returns [start, end) ranges of integer literals that a double cannot hold exactly. */
function scan(text: string, maxDepth: number): number[] {
  const ranges: number[] = [];
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = endOfString(text, i);
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) throw new InvalidJsonError(`JSON nesting exceeds the limit of ${maxDepth}`);
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if ((c >= 0x30 && c <= 0x39) || c === MINUS) {
      let j = i + 1;
      while (j < n && isDigit(text.charCodeAt(j))) j++;
      let end = j;
      while (end < n && isNumberChar(text.charCodeAt(end))) end++; // fraction and exponent
      if (end === j && j - i > 15 && !Number.isSafeInteger(Number(text.slice(i, j)))) ranges.push(i, j);
      i = end - 1;
    }
  }
  return ranges;
}

/** Index of the quote that closes the string opened at `start` (or the end of text). */
function endOfString(text: string, start: number): number {
  let q = text.indexOf('"', start + 1);
  while (q !== -1) {
    let backslashes = 0;
    for (let k = q - 1; text.charCodeAt(k) === BACKSLASH; k--) backslashes++;
    if (backslashes % 2 === 0) return q;
    q = text.indexOf('"', q + 1);
  }
  return text.length;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Characters that continue a number past its integer part: `.`, digits, `e`, `E`, `+`, `-`. */
function isNumberChar(c: number): boolean {
  return isDigit(c) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === MINUS;
}

function quoteRanges(text: string, ranges: number[]): string {
  let out = '';
  let last = 0;
  for (let r = 0; r < ranges.length; r += 2) {
    out += text.slice(last, ranges[r]) + '"' + text.slice(ranges[r], ranges[r + 1]) + '"';
    last = ranges[r + 1]!;
  }
  return out + text.slice(last);
}

function dropProtoKeys(root: Json): void {
  const stack: Json[] = [root];
  while (stack.length) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
    } else {
      if (Object.hasOwn(v, '__proto__')) delete v['__proto__'];
      for (const k in v) stack.push(v[k]!);
    }
  }
}
