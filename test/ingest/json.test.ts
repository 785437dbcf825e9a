import { parseJson, parseJsonWithFacts } from '../../src/ingest/json';
import { InvalidJsonError } from '../../src/core/errors';

const parse = (text: string, maxDepth = 64) => parseJson(text, { maxDepth });

describe('parseJson', () => {
  it('keeps integers beyond 2^53 exactly, as decimal strings', () => {
    const v = parse('{"evt.time":1762779060891344775,"neg":-9223372036854775807}') as Record<string, unknown>;
    expect(v['evt.time']).toBe('1762779060891344775');
    expect(v.neg).toBe('-9223372036854775807');
  });

  it('leaves safe integers, fractions and exponents as numbers', () => {
    const v = parse('{"a":9007199254740991,"b":0.12345678901234567890,"c":1.5e300,"d":-1,"e":12345678901234567890.5}');
    expect(v).toEqual({ a: 9007199254740991, b: 0.12345678901234568, c: 1.5e300, d: -1, e: 12345678901234567000 });
  });

  it('does not touch digits inside strings, including escaped quotes', () => {
    const text = '{"output":"evt.time: 1762779060891344775, \\"q\\" 12345678901234567890","n":1}';
    expect(parse(text)).toEqual({ output: 'evt.time: 1762779060891344775, "q" 12345678901234567890', n: 1 });
  });

  it('drops __proto__ keys at any depth without changing any prototype', () => {
    const v = parse('{"__proto__":{"polluted":true},"a":{"__proto__":{"x":1},"b":[{"__proto__":{"y":2}}]}}') as Record<
      string,
      any
    >;
    expect(Object.keys(v)).toEqual(['a']);
    expect(Object.hasOwn(v.a, '__proto__')).toBe(false);
    expect(Object.hasOwn(v.a.b[0], '__proto__')).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
  });

  it('drops __proto__ keys spelt with \\u escapes, which JSON.parse decodes to the same key', () => {
    const all = [...'__proto__'].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
    for (const key of ['\\u005f_proto__', '__pr\\u006fto__', '\\u005F\\u005Fproto\\u005F\\u005F', all]) {
      const v = parse(`{"a":1,"${key}":{"polluted":true},"b":[{"${key}":{"polluted":true}}]}`) as Record<string, any>;
      expect(Object.keys(v)).toEqual(['a', 'b']);
      expect(Object.hasOwn(v.b[0], '__proto__')).toBe(false);
      expect(Object.assign({}, v, v.b[0]).polluted).toBeUndefined(); // what a kept key would do to a merge
    }
    // Strings that only look alike stay as they are.
    expect(parse('{"\\u005f_proto_":1,"_\\u005fproto__x":2,"proto":"__proto__"}')).toEqual({
      __proto_: 1,
      __proto__x: 2,
      proto: '__proto__',
    });
  });

  it('refuses nesting deeper than the limit before parsing', () => {
    expect(() => parse('['.repeat(65) + ']'.repeat(65))).toThrow(InvalidJsonError);
    expect(() => parse('['.repeat(64) + ']'.repeat(64))).not.toThrow();
    expect(() => parse('{"a":"' + '['.repeat(500) + '"}')).not.toThrow(); // brackets in strings do not count
    expect(() => parse('['.repeat(1_000_000))).toThrow(/nesting exceeds the limit of 64/);
  });

  it.each(['', '{', '{"a":}', 'nul', '{"a":1}x'])('rejects invalid JSON %p with InvalidJsonError', (text) => {
    expect(() => parse(text)).toThrow(InvalidJsonError);
  });

  describe('parsing first (audit bodies) gives what scanning first gives', () => {
    const both = (text: string, maxDepth = 64) => {
      const outcome = (parseFirst: boolean) => {
        try {
          return parseJsonWithFacts(text, { maxDepth, parseFirst });
        } catch (err) {
          return { error: err instanceof InvalidJsonError ? err.message : String(err) };
        }
      };
      return [outcome(true), outcome(false)] as const;
    };
    const all = [...'__proto__'].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');

    it.each([
      ['big integers', '{"evt.time":1762779060891344775,"neg":-9223372036854775807,"n":[1,2]}'],
      [
        'safe integers, fractions, exponents',
        '{"a":9007199254740991,"b":0.12345678901234567890,"c":1.5e300,"e":12345678901234567890.5}',
      ],
      ['2^53 exactly', '{"a":9007199254740992,"b":-9007199254740993}'],
      ['digits in strings', '{"output":"evt.time: 1762779060891344775, \\"q\\" 12345678901234567890","n":1}'],
      ['__proto__ keys', '{"__proto__":{"polluted":true},"a":{"__proto__":{"x":1},"b":[{"__proto__":{"y":2}}]}}'],
      ['escaped __proto__ keys', `{"a":1,"\\u005f_proto__":{"polluted":true},"b":[{"${all}":{"polluted":true}}]}`],
      ['look-alikes', '{"\\u005f_proto_":1,"_\\u005fproto__x":2,"proto":"__proto__"}'],
      ['nesting at the limit', '['.repeat(64) + ']'.repeat(64)],
      ['nesting past the limit', '{"a":' + '['.repeat(64) + ']'.repeat(64) + '}'],
      ['brackets in strings', '{"a":"' + '['.repeat(500) + '"}'],
      ['an unclosed deep text', '['.repeat(100_000)],
      ['a deep text with a big integer', '['.repeat(70) + '12345678901234567890' + ']'.repeat(70)],
      ['invalid JSON', '{"a":}'],
      ['invalid JSON after a big integer', '{"a":12345678901234567890,"b":}'],
      ['nothing', ''],
      ['a lone surrogate escape', '{"a":"x\\ud800"}'],
      [
        'an EventList',
        '{"kind":"EventList","items":[{"auditID":"a","stage":"ResponseComplete","requestObject":{"spec":{"replicas":3}}}]}',
      ],
    ])('%s', (_, text) => {
      const [first, scanned] = both(text);
      if (!('value' in first) || !('value' in scanned)) return expect(first).toEqual(scanned);
      expect(first.value).toEqual(scanned.value);
      const stack: unknown[] = [first.value];
      while (stack.length) {
        const v = stack.pop();
        if (v && typeof v === 'object') {
          expect(Object.hasOwn(v, '__proto__')).toBe(false);
          stack.push(...Object.values(v));
        }
      }
      expect(Object.getPrototypeOf(first.value)).toBe(Object.getPrototypeOf(scanned.value));
      expect(first.strings.wellFormed).toBe(scanned.strings.wellFormed);
      // The walk sees decoded strings, the scan literals as written: both bound every string.
      expect(first.strings.longest).toBeLessThanOrEqual(scanned.strings.longest);
    });

    it.each([
      ['arrays back to back (left to the scan)', '['.repeat(200_000) + ']'.repeat(200_000)],
      ['spaced arrays (JSON.parse does not recurse)', '[ '.repeat(200_000) + ']'.repeat(200_000)],
      ['objects', '{"a":'.repeat(200_000) + '1' + '}'.repeat(200_000)],
      ['objects in arrays', '[{"a":'.repeat(100_000) + '1' + '}]'.repeat(100_000)],
    ])('refuses nesting past the limit: %s', (_, text) => {
      const [first, scanned] = both(text);
      expect(first).toEqual({ error: 'JSON nesting exceeds the limit of 64' });
      expect(scanned).toEqual(first);
    });

    it('leaves arrays nested back to back past the limit to the scan, which refuses them before JSON.parse', () => {
      const parse = jest.spyOn(JSON, 'parse');
      try {
        expect(() => parseJsonWithFacts('['.repeat(65) + ']'.repeat(65), { maxDepth: 64, parseFirst: true })).toThrow(
          'JSON nesting exceeds the limit of 64',
        );
        expect(parse).not.toHaveBeenCalled();
        parseJsonWithFacts('['.repeat(64) + ']'.repeat(64), { maxDepth: 64, parseFirst: true });
        expect(parse).toHaveBeenCalledTimes(1); // at the limit: parsed first, once
      } finally {
        parse.mockRestore();
      }
    });

    it('says the longest string exactly, keys included', () => {
      const [first, scanned] = both('{"abc":"de","x":["\\u0041\\u0042"],"' + 'k'.repeat(7) + '":1}');
      expect('value' in first && first.strings.longest).toBe(7);
      expect('value' in scanned && scanned.strings.longest).toBeGreaterThanOrEqual(7); // the scan counts escapes as written
    });
  });
});
