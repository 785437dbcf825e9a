import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig, validateConfig } from '../../src/config/load';
import { ConfigError } from '../../src/core/errors';
import { startTestFalconer } from '../support/falconer';

const problems = (doc: unknown): string[] => {
  try {
    validateConfig(doc);
  } catch (err) {
    if (err instanceof ConfigError) return err.details as string[];
    throw err;
  }
  return [];
};

describe('config: API tokens, HTTP limits, retry dedup', () => {
  it('reads named tokens with scopes from FALCONER_AUTH_TOKENS (a token may hold colons)', () => {
    const c = loadConfig({
      env: { FALCONER_AUTH_TOKENS: 'falco:ingest:aaaaaaaaaaaaaaaa1, ops:read+admin:b:bbbbbbbbbbbbbbbb' },
    });
    expect(c.auth.tokens).toEqual([
      { name: 'falco', scopes: ['ingest'], token: 'aaaaaaaaaaaaaaaa1' },
      { name: 'ops', scopes: ['read', 'admin'], token: 'b:bbbbbbbbbbbbbbbb' },
    ]);
  });

  it('names the variable when an entry is malformed', () => {
    expect(() => loadConfig({ env: { FALCONER_AUTH_TOKENS: 'just-a-token-0123456789' } })).toThrow(
      /FALCONER_AUTH_TOKENS entry 1/,
    );
  });

  it.each<[string, unknown, RegExp]>([
    ['an unknown scope', [{ name: 'a', token: 'x'.repeat(16), scopes: ['write'] }], /auth\.tokens\.0\.scopes\.0/],
    ['no scope', [{ name: 'a', token: 'x'.repeat(16), scopes: [] }], /auth\.tokens\.0\.scopes/],
    ['both token and tokenFile', [{ name: 'a', token: 'x'.repeat(16), tokenFile: '/t', scopes: ['read'] }], /exactly one/],
    ['neither token nor tokenFile', [{ name: 'a', scopes: ['read'] }], /exactly one/],
    ['a short token', [{ name: 'a', token: 'short', scopes: ['read'] }], /at least 16/],
    [
      'two tokens with one name',
      [
        { name: 'a', token: 'x'.repeat(16), scopes: ['read'] },
        { name: 'a', token: 'y'.repeat(16), scopes: ['read'] },
      ],
      /unique/,
    ],
  ])('refuses %s', (_n, tokens, message) => {
    expect(problems({ auth: { tokens } }).join('\n')).toMatch(message);
  });

  it('refuses a headers timeout longer than the request timeout, and takes fractions of a second', () => {
    expect(problems({ server: { headersTimeoutSeconds: 30, requestTimeoutSeconds: 10 } }).join()).toMatch(
      /headersTimeoutSeconds/,
    );
    const c = validateConfig({ server: { headersTimeoutSeconds: 0.5, requestTimeoutSeconds: 0.5, maxConnections: 3 } });
    expect(c.server).toMatchObject({ headersTimeoutSeconds: 0.5, requestTimeoutSeconds: 0.5, maxConnections: 3 });
  });

  it('defaults retryDedupSeconds to 600 and keeps auditDedupSeconds as its deprecated alias', () => {
    expect(validateConfig({}).ingest.retryDedupSeconds).toBe(600);
    expect(validateConfig({ ingest: { auditDedupSeconds: 60 } }).ingest.retryDedupSeconds).toBe(60);
    expect(validateConfig({ ingest: { retryDedupSeconds: 30, auditDedupSeconds: 60 } }).ingest.retryDedupSeconds).toBe(30);
  });

  it('warns at start-up when the deprecated name is used', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _e, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const f = await startTestFalconer({ ingest: { auditDedupSeconds: 60 } }, { logger: pino({ level: 'warn' }, sink) });
    await f.stop();
    expect(lines.join('')).toMatch(/ingest\.auditDedupSeconds is deprecated.*retryDedupSeconds/);
  });
});
