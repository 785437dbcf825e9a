import { MemorySessions } from '../../src/console/session-backends';
import { sessionCookie, tokenDigest } from '../../src/console/session';
import { digestTokens } from '../../src/ingest/auth';
import { req, sessionContract, TOKEN } from './session-contract';

sessionContract('memory', (bounds) => new MemorySessions(bounds));

describe('session cookie and token digest', () => {
  it('parses only its own, well-formed cookie', () => {
    const id = 'A'.repeat(43);
    expect(sessionCookie(req('GET', { cookie: `other=1; falconer_session=${id}; x=y` }))).toBe(id);
    expect(sessionCookie(req('GET', { cookie: 'falconer_session=<script>' }))).toBeUndefined();
    expect(sessionCookie(req('GET', { cookie: `xfalconer_session=${id}` }))).toBeUndefined();
    expect(sessionCookie(req('GET', {}))).toBeUndefined();
  });

  it('digests a token as the bearer check does', () => {
    expect(tokenDigest(TOKEN).equals(digestTokens([{ name: 'x', token: TOKEN, scopes: ['read'] }])[0]!.digest)).toBe(true);
  });
});
