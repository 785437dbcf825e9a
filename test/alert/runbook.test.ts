import { MAX_URL_LENGTH, runbookUrl } from '../../src/alert/runbook';

describe('runbookUrl with hostile rule names', () => {
  const template = 'https://rb.example.com/{rule}?id={ruleId}';

  it('encodes a lone surrogate as U+FFFD instead of throwing "URI malformed"', () => {
    expect(runbookUrl('x\ud800', 'x\ud800', undefined, template, {})).toBe('https://rb.example.com/x?id=x%EF%BF%BD');
    expect(runbookUrl('\udc00', '\udc00y', undefined, 'https://rb/{ruleId}', {})).toBe('https://rb/%EF%BF%BDy');
  });

  it('keeps a long non-ASCII id within Slack’s URL limit, cut between code points', () => {
    const id = '日本語🦅'.repeat(2_000);
    const url = runbookUrl(id, id, undefined, 'https://rb.example.com/r/{ruleId}', {});
    expect(url.length).toBeLessThanOrEqual(MAX_URL_LENGTH);
    expect(url.length).toBeGreaterThan(MAX_URL_LENGTH - 20);
    const encoded = url.slice('https://rb.example.com/r/'.length);
    const decoded = decodeURIComponent(encoded); // throws if an escape or a pair was split
    expect(id.startsWith(decoded)).toBe(true);
  });

  it('cuts a long slug and a long id together when the template holds both', () => {
    const rule = 'a'.repeat(5_000);
    const url = runbookUrl(rule, `${rule}é`, undefined, template, {});
    expect(url.length).toBeLessThanOrEqual(MAX_URL_LENGTH);
    expect(url).toMatch(/^https:\/\/rb\.example\.com\/a+\?id=a+$/);
  });

  it('leaves a short URL exactly as before', () => {
    expect(runbookUrl('Terminal shell in container', 'T 1', undefined, template, {})).toBe(
      'https://rb.example.com/terminal-shell-in-container?id=T%201',
    );
  });
});
