import { PRIORITIES } from '../../src/core/priority';
import { dedupKey, pagerdutySeverity, truncateCodePoints } from '../../src/notify/pagerduty-event';
import { singleAlert } from '../../src/notify/payload';
import { retryAfterMs } from '../../src/notify/http-post';
import { validateConfig } from '../../src/config/load';
import { alertOf, falcoSecurityEvent } from '../support/alerts';

describe('PagerDuty event pieces', () => {
  it('maps priorities onto Events v2 severities', () => {
    expect(PRIORITIES.map(pagerdutySeverity)).toEqual([
      'info',
      'info',
      'info',
      'warning',
      'error',
      'critical',
      'critical',
      'critical',
    ]);
  });

  it.each([
    ['short', 10, 'short'],
    ['exactly10!', 10, 'exactly10!'],
    ['eleven chars', 10, 'eleven ch…'],
    ['🦅🦅🦅🦅', 3, '🦅🦅…'], // counted in code points: no half surrogate pair
  ])('truncates %s to %i code points', (text, max, expected) => {
    expect(truncateCodePoints(text, max)).toBe(expected);
  });

  it('derives a dedup_key within 255 characters that is stable per group and differs between groups', () => {
    const a = alertOf(falcoSecurityEvent(), { fingerprint: 'one' });
    const key = dedupKey(singleAlert('pd', a, ''));
    expect(key.length).toBeLessThanOrEqual(255);
    expect(dedupKey(singleAlert('pd', { ...a, count: 9 }, ''))).toBe(key);
    expect(dedupKey(singleAlert('pd', { ...a, fingerprint: 'two' }, ''))).not.toBe(key);
  });
});

describe('Retry-After', () => {
  it.each([
    ['120', 120_000],
    ['0', 0],
    ['Wed, 21 Oct 2015 07:28:30 GMT', 30_000],
    ['soon', undefined],
    [undefined, undefined],
  ])('%s → %s ms', (header, ms) => {
    expect(retryAfterMs(header, Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(ms);
  });
});

describe('receiver configuration', () => {
  it('accepts webhook, kafka and pagerduty receivers with their defaults', () => {
    const config = validateConfig({
      receivers: [
        { type: 'webhook', name: 'w', url: 'https://hooks.example.com/x' },
        { type: 'kafka', name: 'k', brokers: ['kafka:9092'], topic: 'alerts' },
        { type: 'pagerduty', name: 'p', routingKey: 'R0UT1NGKEY0123456789abcdefABCDEF' },
      ],
    });
    expect(config.receivers).toMatchObject([
      { format: 'falconer', signatureHeader: 'X-Falconer-Signature', timeoutSeconds: 10, minPriority: 'debug' },
      { key: 'fingerprint', clientId: 'falconer-notify' },
      { url: 'https://events.pagerduty.com/v2/enqueue' },
    ]);
  });

  it.each([
    [{ type: 'webhook', name: 'w', url: 'ftp://x' }, 'receivers.0.url'],
    [
      { type: 'webhook', name: 'w', url: 'http://x', bearerToken: 't', basicAuth: { username: 'u', password: 'p' } },
      'bearerToken or basicAuth',
    ],
    [{ type: 'webhook', name: 'w', url: 'http://x', hmacSecret: 'short' }, 'receivers.0.hmacSecret: must be at least 16'],
    [
      { type: 'webhook', name: 'w', url: 'http://x', headers: { 'bad header': 'v' } },
      'receivers.0.headers.bad header: Invalid key',
    ],
    [{ type: 'pagerduty', name: 'p', routingKey: 'short' }, 'receivers.0.routingKey: must be the 32-character'],
    [{ type: 'kafka', name: 'k', brokers: ['nohost'], topic: 't' }, 'must be host:port'],
  ])('rejects %j', (receiver, problem) => {
    expect(() => validateConfig({ receivers: [receiver] })).toThrow(problem);
  });
});
