import { parseJson } from '../../src/ingest/json';
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
});
