import { api, ApiError, errorText, sessionEnded, setCsrf, setOnUnauthorized } from '../../ui/src/api';

/** The console's calls, against a stand-in for the browser's fetch (what Falconer answers is tested in test/http/). */
describe('console API calls', () => {
  const realFetch = globalThis.fetch;
  let calls: { url: string; init: RequestInit }[];
  let answer: () => Response;

  beforeEach(() => {
    calls = [];
    answer = () => new Response(JSON.stringify({ ok: true }), { status: 200 });
    globalThis.fetch = (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return answer();
    }) as typeof fetch;
    setCsrf(undefined);
    setOnUnauthorized(() => undefined);
  });
  afterAll(() => {
    globalThis.fetch = realFetch;
  });

  const headers = (i = 0) => calls[i]!.init.headers as Record<string, string>;

  it('sends the CSRF token on writes only, and JSON bodies as JSON', async () => {
    setCsrf('tok-123');
    await api('/v1/console/alerts');
    await api('/v1/silences', { method: 'POST', body: { comment: '<b>' } });
    await api('/v1/silences/x', { method: 'DELETE' });
    expect(headers(0)['X-CSRF-Token']).toBeUndefined();
    expect(headers(1)['X-CSRF-Token']).toBe('tok-123');
    expect(headers(1)['Content-Type']).toBe('application/json');
    expect(calls[1]!.init.body).toBe('{"comment":"<b>"}');
    expect(calls[1]!.init.credentials).toBe('same-origin');
    expect(headers(2)['X-CSRF-Token']).toBe('tok-123');
    expect(calls[2]!.init.body).toBeUndefined();
  });

  it('sends no CSRF header once the token is forgotten (logged out)', async () => {
    setCsrf('tok-123');
    setCsrf(undefined);
    await api('/v1/silences', { method: 'POST', body: {} });
    expect(headers()['X-CSRF-Token']).toBeUndefined();
  });

  it("reads Falconer's error shape, and the nested one", async () => {
    answer = () => new Response(JSON.stringify({ error: 'csrf', message: 'missing X-CSRF-Token' }), { status: 403 });
    await expect(api('/v1/silences', { method: 'POST', body: {} })).rejects.toMatchObject({
      status: 403,
      code: 'csrf',
      message: 'missing X-CSRF-Token',
    });
    answer = () =>
      new Response(JSON.stringify({ error: { code: 'invalid_silence', message: 'comment is required' } }), { status: 400 });
    await expect(api('/v1/silences', { method: 'POST', body: {} })).rejects.toMatchObject({ code: 'invalid_silence' });
    answer = () => new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' });
    const err = await api('/v1/posture').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(errorText(err)).toBe('502 Bad Gateway (502)');
  });

  it('says the session ended on a 401, except from the session check itself', async () => {
    let ended = 0;
    setOnUnauthorized(() => ended++);
    answer = () => new Response(JSON.stringify({ error: 'unauthorized', message: 'sign in' }), { status: 401 });
    await expect(api('/v1/console/alerts')).rejects.toMatchObject({ status: 401 });
    expect(ended).toBe(1);
    await expect(api('/ui/session')).rejects.toMatchObject({ status: 401 });
    await expect(api('/ui/session', { method: 'POST', body: { token: 'bad' } })).rejects.toMatchObject({ status: 401 });
    expect(ended).toBe(1);
    sessionEnded();
    expect(ended).toBe(2);
  });

  it('turns a network failure into a readable error and an empty 204 into undefined', async () => {
    globalThis.fetch = (async () => {
      throw new TypeError('Failed to fetch');
    }) as typeof fetch;
    const err = await api('/v1/incidents').catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 0, code: 'network' });
    expect(errorText(err)).toBe('Falconer did not answer (Failed to fetch)');
    globalThis.fetch = (async () => new Response(null, { status: 204 })) as typeof fetch;
    await expect(api('/ui/session', { method: 'DELETE' })).resolves.toBeUndefined();
  });
});
