import { buildSilence, matcherText, usableMatchers, type SilenceDraft } from '../../ui/src/silence-form';

const m = (name: string, value: string, isRegex = false, isEqual = true) => ({ name, value, isRegex, isEqual });

function draft(over: Partial<SilenceDraft> = {}): SilenceDraft {
  return {
    matchers: [m('namespace', 'store'), m('rule', 'Terminal shell in container')],
    duration: '2h',
    comment: 'store is being rebuilt',
    createdBy: 'alice',
    ...over,
  };
}

describe('the silence the form posts', () => {
  const now = Date.parse('2026-12-01T11:00:00Z');

  it('starts now and ends after the duration, with the matchers as typed', () => {
    const out = buildSilence(draft({ duration: '1h30m', comment: '  rebuilding  ' }), now);
    expect(out).toEqual({
      silence: {
        matchers: [m('namespace', 'store'), m('rule', 'Terminal shell in container')],
        startsAt: '2026-12-01T11:00:00.000Z',
        endsAt: '2026-12-01T12:30:00.000Z',
        createdBy: 'alice',
        comment: 'rebuilding',
      },
    });
  });

  it('says what is wrong, the checks the API makes too', () => {
    const error = (d: Partial<SilenceDraft>) => {
      const out = buildSilence(draft(d), now);
      return 'error' in out ? out.error : undefined;
    };
    expect(error({ matchers: [] })).toMatch(/at least one matcher/i);
    expect(error({ matchers: [m('not a label', 'x')] })).toMatch(/not a label name/);
    expect(error({ matchers: [m('pod', '(', true)] })).toMatch(/not a valid regex/);
    expect(error({ matchers: [m('pod', '.*', true)] })).toMatch(/must not match the empty value/);
    expect(error({ matchers: [m('pod', '')] })).toMatch(/must not match the empty value/);
    expect(error({ matchers: [m('pod', 'web', false, false)] })).toMatch(/must not match the empty value/);
    expect(error({ duration: 'soon' })).toMatch(/Duration "soon"/);
    expect(error({ createdBy: ' ' })).toMatch(/who creates/);
    expect(error({ comment: '' })).toMatch(/comment is required/);
    expect(error({ matchers: [m('pod', 'web', false, false), m('namespace', 'shop')] })).toBeUndefined();
  });

  it('previews only matchers the API would take', () => {
    expect(usableMatchers([m('', 'x'), m('pod', '('), m('pod', '(', true), m('ns', 'a.*', true), m('9x', 'y')])).toEqual([
      m('pod', '('),
      m('ns', 'a.*', true),
    ]);
  });

  it('writes matchers as Alertmanager does', () => {
    expect(matcherText(m('rule', 'Terminal shell'))).toBe('rule="Terminal shell"');
    expect(matcherText(m('pod', 'web-.*', true))).toBe('pod=~"web-.*"');
    expect(matcherText(m('namespace', 'kube-system', false, false))).toBe('namespace!="kube-system"');
    expect(matcherText(m('pod', 'a"b', true, false))).toBe('pod!~"a\\"b"');
  });
});
