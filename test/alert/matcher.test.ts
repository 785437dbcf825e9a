import { matches, matchesAll, parseMatchers, toApiMatcher, fromApiMatcher, type MatchType } from '../../src/alert/matcher';

// Cases from Alertmanager's classic matcher parser (pkg/labels/parse_test.go): input → [name, op, value][].
const PARSED: [string, [string, MatchType, string][]][] = [
  ['{}', []],
  ["{foo='}", [['foo', '=', "'"]]],
  ['{foo=\\"}', [['foo', '=', '"']]],
  ['{foo=bar}', [['foo', '=', 'bar']]],
  ['{foo="bar"}', [['foo', '=', 'bar']]],
  ['{foo=~bar.*}', [['foo', '=~', 'bar.*']]],
  ['{foo!~"bar.*"}', [['foo', '!~', 'bar.*']]],
  [
    '{foo="bar", baz!="quux"}',
    [
      ['foo', '=', 'bar'],
      ['baz', '!=', 'quux'],
    ],
  ],
  ['{foo=""}', [['foo', '=', '']]],
  [
    '{foo="bar,quux", job="job1"}',
    [
      ['foo', '=', 'bar,quux'],
      ['job', '=', 'job1'],
    ],
  ],
  [
    '{foo = "bar", dings != "bums", }',
    [
      ['foo', '=', 'bar'],
      ['dings', '!=', 'bums'],
    ],
  ],
  [
    'foo=bar,dings!=bums',
    [
      ['foo', '=', 'bar'],
      ['dings', '!=', 'bums'],
    ],
  ],
  ['{quote="She said: \\"Hi, ladies!\\""}', [['quote', '=', 'She said: "Hi, ladies!"']]],
  ['statuscode=~"5.."', [['statuscode', '=~', '5..']]],
  ['tricky=~~~', [['tricky', '=~', '~~']]],
  ['trickier==\\\\=\\=\\"', [['trickier', '=', '=\\=\\="']]],
  [
    'contains_quote != "\\"" , contains_comma !~ "foo,bar" , ',
    [
      ['contains_quote', '!=', '"'],
      ['contains_comma', '!~', 'foo,bar'],
    ],
  ],
  ['{foo=bar}}', [['foo', '=', 'bar}']]],
  ['line="a\\nb"', [['line', '=', 'a\nb']]],
];

const REJECTED: [string, RegExp][] = [
  [',', /bad matcher format/],
  ['{,}', /bad matcher format/],
  ['{foo=bar"}', /unescaped double quote/],
  ['{foo="bar}', /unescaped double quote/],
  ['{foo=~"("}', /invalid regular expression/],
  ['{1foo="bar"}', /bad matcher format/],
  ['{foo=="bar"}', /unescaped double quote/],
];

describe('Alertmanager matcher syntax', () => {
  it.each(PARSED)('parses %s', (input, want) => {
    expect(parseMatchers(input).map((m) => [m.name, m.type, m.value])).toEqual(want);
  });

  it.each(REJECTED)('rejects %s', (input, error) => {
    expect(() => parseMatchers(input)).toThrow(error);
  });
});

describe('matching', () => {
  const one = (text: string) => parseMatchers(text)[0]!;
  it.each([
    // [matcher, label value (undefined: label absent), matches]
    ['pod="web"', 'web', true],
    ['pod="web"', 'web-1', false],
    ['pod=""', undefined, true], // a missing label equals ""
    ['pod!=""', undefined, false],
    ['pod!="web"', undefined, true],
    ['pod=~"web"', 'web-1', false], // anchored at both ends
    ['pod=~"web.*"', 'web-1', true],
    ['pod=~"eb"', 'web', false],
    ['pod=~"a|b"', 'b', true],
    ['pod=~"a|b"', 'ab', false], // the alternation is grouped before anchoring
    ['pod!~"web.*"', 'db-0', true],
    ['pod!~"web.*"', 'web-0', false],
    ['pod=~".*"', undefined, true],
    ['pod=~".+"', undefined, false],
    ['pod=~"(?i)WEB"', 'web', true], // RE2 flags, as Go's regexp
  ] as const)('%s against %s → %s', (text, value, expected) => {
    expect(matches(one(text), value)).toBe(expected);
  });

  it('ANDs matchers, an empty list matching everything', () => {
    const ms = parseMatchers('{namespace="shop", priority=~"critical|error"}');
    expect(matchesAll(ms, { namespace: 'shop', priority: 'error' })).toBe(true);
    expect(matchesAll(ms, { namespace: 'shop', priority: 'warning' })).toBe(false);
    expect(matchesAll(ms, { priority: 'error' })).toBe(false);
    expect(matchesAll([], {})).toBe(true);
  });

  it('round-trips the API form (isRegex, isEqual)', () => {
    for (const text of ['a="1"', 'a!="1"', 'a=~"1.*"', 'a!~"1.*"']) {
      const m = one(text);
      const back = fromApiMatcher(toApiMatcher(m));
      expect([back.name, back.type, back.value]).toEqual([m.name, m.type, m.value]);
    }
    expect(toApiMatcher(one('a!~"x"'))).toEqual({ name: 'a', value: 'x', isRegex: true, isEqual: false });
  });
});
