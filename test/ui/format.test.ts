import {
  formatAgo,
  formatDuration,
  formatTime,
  formatWhere,
  incidentTitle,
  matchersFromLabels,
  parseDuration,
  portsText,
  prettyJson,
  safeHref,
} from '../../ui/src/format';

describe('console formatting', () => {
  it('writes absolute times in UTC from ms or ISO strings', () => {
    expect(formatTime(Date.parse('2026-12-01T10:46:20.123Z'))).toBe('2026-12-01 10:46:20 UTC');
    expect(formatTime('2025-11-10T12:51:00.891344775Z')).toBe('2025-11-10 12:51:00 UTC');
    expect(formatTime(undefined)).toBe('—');
    expect(formatTime('not a time')).toBe('—');
  });

  it('writes relative times in the largest whole unit', () => {
    const now = Date.parse('2026-12-01T12:00:00Z');
    expect(formatAgo(now - 4_000, now)).toBe('4 s ago');
    expect(formatAgo(now - 3 * 60_000 - 59_000, now)).toBe('3 min ago');
    expect(formatAgo(now - 2 * 3_600_000, now)).toBe('2 h ago');
    expect(formatAgo(now - 4 * 86_400_000, now)).toBe('4 d ago');
    expect(formatAgo(now + 2 * 3_600_000, now)).toBe('in 2 h');
    expect(formatAgo(now + 20_000, now)).toBe('just now');
    expect(formatAgo(now - 500, now)).toBe('just now');
    expect(formatAgo(now + 61_000, now)).toBe('in 1 min');
    expect(formatAgo(null, now)).toBe('—');
  });

  it('joins where an alert happened, leaving out what it does not know', () => {
    expect(formatWhere({ cluster: 'prod', namespace: 'shop', pod: 'web', container: 'nginx' })).toBe('prod/shop/web/nginx');
    expect(formatWhere({ cluster: 'prod', namespace: null, pod: undefined })).toBe('prod');
  });

  it('parses silence durations people type', () => {
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration(' 1d 4h ')).toBe(100_800_000);
    expect(parseDuration('1w')).toBe(604_800_000);
    expect(parseDuration('45s')).toBe(45_000);
    for (const bad of ['', '2', 'h', '2x', '-1h', '0m', '1.5h', 'two hours']) expect(parseDuration(bad)).toBeUndefined();
  });

  it('writes spans in the two largest units', () => {
    expect(formatDuration(7_200_000)).toBe('2h');
    expect(formatDuration(100_800_000 + 61_000)).toBe('1d 4h');
    expect(formatDuration(90_000)).toBe('1m 30s');
    expect(formatDuration(0)).toBe('0s');
  });

  it('prefills silence matchers from the labels that say what and where', () => {
    const labels = {
      rule: 'Terminal shell in container',
      priority: 'notice',
      cluster: 'prod',
      namespace: 'shop',
      pod: 'web',
      tag_T1059: 'true',
    };
    expect(matchersFromLabels(labels)).toEqual([
      { name: 'rule', value: 'Terminal shell in container', isRegex: false, isEqual: true },
      { name: 'cluster', value: 'prod', isRegex: false, isEqual: true },
      { name: 'namespace', value: 'shop', isRegex: false, isEqual: true },
      { name: 'pod', value: 'web', isRegex: false, isEqual: true },
    ]);
    expect(matchersFromLabels({})).toEqual([]);
  });

  it('pretty-prints evidence, and survives what JSON cannot write', () => {
    expect(prettyJson({ a: [1, '<b>'] })).toBe('{\n  "a": [\n    1,\n    "<b>"\n  ]\n}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(prettyJson(cyclic)).toBe('[object Object]');
    expect(prettyJson(undefined)).toBe('undefined');
  });
});

describe('links and ports', () => {
  it('links only http(s) URLs and paths on this server', () => {
    expect(safeHref('https://runbooks.example.com/terminal-shell')).toBe('https://runbooks.example.com/terminal-shell');
    expect(safeHref('/docs/runbooks/x.md')).toBe('/docs/runbooks/x.md');
    for (const bad of [
      'javascript:alert(1)',
      ' JavaScript:alert(1)',
      'data:text/html,<script>',
      '//evil.example',
      '/\\evil',
      'docs/x.md',
      'https://a b',
      '',
      null,
      undefined,
    ])
      expect(safeHref(bad)).toBeUndefined();
  });

  it('writes the graph endpoint ports as one line', () => {
    expect(portsText(['TCP 80', 'UDP 53'])).toBe('TCP 80, UDP 53');
    expect(portsText('all')).toBe('all ports');
    expect(portsText([{ protocol: 'TCP', port: 8080 }])).toBe('TCP 8080');
    expect(portsText({ TCP: ['80', '443'] })).toBe('TCP 80, 443');
    expect(portsText([])).toBe('');
    expect(portsText(null)).toBe('');
  });
});

describe('incident titles', () => {
  it('name the chain and the first alert, and count the rest', () => {
    expect(incidentTitle({ chain: null, alertCount: 1, timeline: [{ rule: 'Terminal shell in container' }] })).toBe(
      'Terminal shell in container',
    );
    expect(
      incidentTitle({
        chain: 'exec-then-shell',
        alertCount: 3,
        timeline: [{ rule: 'Attach/Exec Pod' }, { rule: 'Terminal shell' }],
      }),
    ).toBe('exec-then-shell: Attach/Exec Pod + 2 more');
    expect(incidentTitle({ chain: null, alertCount: 0, timeline: [] })).toBe('Incident');
  });
});
