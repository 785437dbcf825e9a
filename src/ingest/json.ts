import type { Json } from '../core/event';
import { InvalidJsonError } from '../core/errors';

export interface ParseOptions {
  /** Deepest nesting of objects and arrays accepted. */
  maxDepth: number;
  /**
   * Parse first and check the value after (see `parsedFirst`), for payloads that seldom hold integers
   * beyond 2^53 (audit events); without it the text is scanned first, as Falco events need (`evt.time`).
   */
  parseFirst?: boolean;
}

/**
 * JSON.parse made safe for hostile payloads, at close to JSON.parse's speed:
 * - nesting deeper than `maxDepth` is refused before anything walks the value (no recursion blow-ups
 *   later): by the scan before parsing, or with `parseFirst` by the walk right after JSON.parse;
 * - integers beyond 2^53 (Falco's `evt.time` in ns) are kept exactly, as decimal strings, instead of
 *   being silently rounded;
 * - `__proto__` keys are dropped, so nothing merged from the payload can change a prototype, however
 *   the key is spelt (`"\u005f_proto__"` is the same key to JSON.parse).
 * One linear scan outside string literals finds depth, unsafe integers and any string that may be
 * `__proto__`; a JSON.parse reviver would do the same but costs 3-8× the parse. `parseFirst` gets the
 * same answer from one walk of the parsed value instead, falling back to the scan when it must.
 */
export function parseJson(text: string, options: ParseOptions): Json {
  return parseJsonWithFacts(text, options).value;
}

/**
 * What the parser learnt of the strings on the way, so that a caller that bounds every string of the
 * value (normalise.ts `boundJson`) can skip checking each one when none can need it.
 */
export interface StringFacts {
  /** No string of the value, keys included, is longer than this (UTF-16 code units). */
  longest: number;
  /** Every string of the value, keys included, is well-formed UTF-16 (no lone surrogate). */
  wellFormed: boolean;
}

/** parseJson, and what it learnt of the value's strings. */
export function parseJsonWithFacts(text: string, { maxDepth, parseFirst }: ParseOptions): { value: Json; strings: StringFacts } {
  const quick = parseFirst ? parsedFirst(text, maxDepth) : undefined;
  if (quick) return quick;
  const found = scan(text, maxDepth);
  let value: Json;
  try {
    value = JSON.parse(found.bigInts.length ? quoteRanges(text, found.bigInts) : text) as Json;
  } catch (err) {
    throw new InvalidJsonError(`body is not valid JSON: ${(err as Error).message}`);
  }
  if (found.proto) dropProtoKeys(value);
  return { value, strings: { longest: found.longest, wellFormed: text.isWellFormed() && !surrogateEscape(text) } };
}

/**
 * The same answer as scanning first, for text that holds no integer a double cannot hold: JSON.parse,
 * then one walk of the value for what the scan finds in the text (depth, `__proto__` keys, the
 * longest string). Undefined when only the scan can decide: the text does not parse (so the error is
 * the one the scan or the parse of the quoted text gives, as before), or some number is beyond 2^53
 * (a big integer to keep exactly, or a float the scan leaves alone: it tells them apart). On the
 * server a scan of an audit EventList cost about as much as its JSON.parse (the walk a fraction).
 * JSON.parse itself is iterative: nesting far beyond `maxDepth` cannot overflow its stack, costs it
 * no more than flat input of the same size (once arrays back to back go to the scan, below), and is
 * refused by the walk before anything else sees the value.
 */
function parsedFirst(text: string, maxDepth: number): { value: Json; strings: StringFacts } | undefined {
  // Arrays nested past the limit back to back, the one nesting that costs JSON.parse more than flat
  // input of the same size (12 MB of `[`: 1.6 s and 330 MB, against 0.8 s and 260 MB for `{},`):
  // the scan refuses those at once. The search costs about 0.1 µs per audit event.
  if (text.includes(openingRun(maxDepth))) return undefined;
  let value: Json;
  try {
    value = JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
  const seen: Walked = { longest: 0, proto: false, unsafeNumber: false };
  walk(value, 1, maxDepth, seen);
  if (seen.unsafeNumber) return undefined;
  if (seen.proto) dropProtoKeys(value);
  return { value, strings: { longest: seen.longest, wellFormed: text.isWellFormed() && !surrogateEscape(text) } };
}

let run = '';

/** `maxDepth + 1` opening brackets, remembered for the limit last asked. */
function openingRun(maxDepth: number): string {
  if (run.length !== maxDepth + 1) run = '['.repeat(maxDepth + 1);
  return run;
}

interface Walked {
  longest: number;
  proto: boolean;
  unsafeNumber: boolean;
}

/** Throws past `maxDepth` (as the scan does, with the same error); notes the rest in `seen`. */
function walk(v: Json, depth: number, maxDepth: number, seen: Walked): void {
  if (typeof v === 'string') {
    if (v.length > seen.longest) seen.longest = v.length;
    return;
  }
  if (typeof v === 'number') {
    if (v > Number.MAX_SAFE_INTEGER || v < -Number.MAX_SAFE_INTEGER) seen.unsafeNumber = true;
    return;
  }
  if (v === null || typeof v !== 'object') return;
  if (depth > maxDepth) throw new InvalidJsonError(`JSON nesting exceeds the limit of ${maxDepth}`);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) walk(v[i]!, depth + 1, maxDepth, seen);
    return;
  }
  for (const key in v) {
    if (key.length > seen.longest) seen.longest = key.length;
    if (key === '__proto__') seen.proto = true;
    walk(v[key]!, depth + 1, maxDepth, seen);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;

interface Scanned {
  /** [start, end) ranges of integer literals that a double cannot hold exactly. */
  bigInts: number[];
  /** Some string literal may decode to `__proto__`. */
  proto: boolean;
  /** The longest string literal's length between its quotes (a quoted big integer's included). */
  longest: number;
}

function scan(text: string, maxDepth: number): Scanned {
  const ranges: number[] = [];
  let proto = false;
  let longest = 0;
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = endOfString(text, i);
      if (end - i - 1 > longest) longest = end - i - 1;
      if (!proto && mayBeProto(text, i, end)) proto = true;
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) throw new InvalidJsonError(`JSON nesting exceeds the limit of ${maxDepth}`);
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if ((c >= 0x30 && c <= 0x39) || c === MINUS) {
      let j = i + 1;
      while (j < n && isDigit(text.charCodeAt(j))) j++;
      let end = j;
      while (end < n && isNumberChar(text.charCodeAt(end))) end++; // fraction and exponent
      if (end === j && j - i > 15 && !Number.isSafeInteger(Number(text.slice(i, j)))) {
        ranges.push(i, j);
        if (j - i > longest) longest = j - i;
      }
      i = end - 1;
    }
  }
  return { bigInts: ranges, proto, longest };
}

/**
 * Whether the text holds a `\uD800`–`\uDFFF` escape, the only way a JSON string literal in well-formed
 * text can decode to a lone surrogate (a `\\ud…` that is not an escape only makes this say yes).
 */
function surrogateEscape(text: string): boolean {
  for (let at = text.indexOf('\\u'); at !== -1; at = text.indexOf('\\u', at + 2)) {
    const c = text.charCodeAt(at + 2);
    if (c === 0x64 || c === 0x44) return true; // d, D
  }
  return false;
}

const PROTO = '__proto__';

/**
 * Whether the string literal between the quotes at `open` and `close` may decode to `__proto__`: its
 * nine characters can only be written as themselves or as `\uXXXX` escapes (six characters each),
 * so only a literal of 9, 14, ... 54 characters that starts with `_` or a backslash can; those few
 * are decoded to be sure. Every other string costs a length check.
 */
function mayBeProto(text: string, open: number, close: number): boolean {
  const length = close - open - 1;
  if (length === PROTO.length) return text.startsWith(PROTO, open + 1);
  if (length < PROTO.length || length > PROTO.length * 6 || (length - PROTO.length) % 5 !== 0) return false;
  const first = text.charCodeAt(open + 1);
  if (first !== 0x5f && first !== BACKSLASH) return false;
  try {
    return JSON.parse(text.slice(open, close + 1)) === PROTO;
  } catch {
    return false; // not a valid string literal: JSON.parse refuses the whole text anyway
  }
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
