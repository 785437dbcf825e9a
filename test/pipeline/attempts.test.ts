import { UnavailableError } from '../../src/core/errors';
import { attempt } from '../../src/pipeline/attempts';
import { summarise, text } from '../../src/pipeline/summary';
import { falcoSecurityEvent } from '../support/alerts';

describe('attempt', () => {
  it('stops at the first success', async () => {
    let calls = 0;
    const failure = await attempt(3, async () => {
      if (++calls < 2) throw new Error('flaky');
    });
    expect(failure).toBeUndefined();
    expect(calls).toBe(2);
  });

  it('gives up after the last attempt, naming the stage the last one failed in', async () => {
    let calls = 0;
    const failure = await attempt(3, async (enter) => {
      calls++;
      enter('detect');
      if (calls === 3) enter('alert');
      throw new TypeError(`boom ${calls}`);
    });
    expect(calls).toBe(3);
    expect(failure).toMatchObject({ stage: 'alert', attempts: 3 });
    expect((failure!.error as Error).message).toBe('boom 3');
  });

  it('throws an unavailable dependency on at once, without using attempts', async () => {
    let calls = 0;
    await expect(
      attempt(5, async () => {
        calls++;
        throw new UnavailableError('redis: down');
      }),
    ).rejects.toBeInstanceOf(UnavailableError);
    expect(calls).toBe(1);
  });
});

describe('parked-event summary', () => {
  it('cuts long text by code point, never inside a surrogate pair, and replaces lone surrogates', () => {
    expect(text('🦅'.repeat(300), 5)).toBe(`${'🦅'.repeat(5)}…`);
    expect(text('a\ud800b')).toBe('a\ufffdb');
    expect(text(undefined)).toBeUndefined();
    expect(text({ toString: 'not a function' })).toBe('{"toString":"not a function"}');
  });

  it('keeps what identifies the event, bounded', () => {
    const summary = summarise(falcoSecurityEvent({ uuid: 'u'.repeat(10_000), rule: 'R\udc00' }));
    expect(summary).toMatchObject({
      source: 'falco',
      rule: 'R\ufffd',
      pod: 'web-7c9f8d-abcde',
      namespace: 'shop',
      cluster: 'prod',
    });
    // Normalisation already replaced the over-long uuid by its hash (ingest/normalise.ts boundId).
    expect(summary.id).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
