import { nsToRfc3339, rfc3339ToNs } from '../../src/ingest/time';

/** The slow, obvious computation: milliseconds from Date, the fraction's nine digits added as BigInt. */
function reference(date: string, time: string, fraction: string, zone: string): string {
  const ms = Date.parse(`${date}T${time}${zone}`);
  return (BigInt(ms) * 1_000_000n + BigInt(fraction.padEnd(9, '0'))).toString();
}

describe('rfc3339ToNs', () => {
  it('gives exact nanoseconds since the epoch, before and after it, with any fraction and zone', () => {
    const cases: [string, string, string, string][] = [
      ['2025-11-10', '13:07:40', '001000137', 'Z'],
      ['2025-11-10', '12:53:00', '044000', 'Z'],
      ['2025-11-10', '12:53:00', '', '+02:00'],
      ['1970-01-01', '00:00:01', '5', 'Z'],
      ['1970-01-01', '00:00:00', '000000001', 'Z'],
      ['1970-01-01', '00:00:00', '', 'Z'],
      ['1969-12-31', '23:59:59', '999999999', 'Z'],
      ['1900-03-01', '00:00:00', '25', '-05:30'],
      ['2262-04-11', '23:47:16', '854775807', 'Z'],
      ['9999-12-31', '23:59:59', '999999999', 'Z'],
    ];
    for (const [date, time, fraction, zone] of cases) {
      const text = `${date}T${time}${fraction ? `.${fraction}` : ''}${zone}`;
      expect([text, rfc3339ToNs(text)]).toEqual([text, reference(date, time, fraction, zone)]);
      expect(rfc3339ToNs(text.toLowerCase())).toBe(reference(date, time, fraction, zone));
    }
    expect(rfc3339ToNs('1970-01-01T00:00:00Z')).toBe('0');
    expect(rfc3339ToNs('1969-12-31T23:59:59Z')).toBe('-1000000000');
  });

  it('gives the same answer whatever came before (it remembers the last second it parsed)', () => {
    const parts: [string, string, string, string][] = [
      ['2025-11-10', '13:07:40', '1', 'Z'],
      ['2025-11-10', '13:07:40', '999999999', 'Z'],
      ['2025-11-10', '13:07:40', '5', '+01:00'],
      ['2025-11-11', '13:07:40', '5', '+01:00'],
      ['2025-11-10', '13:07:41', '5', 'Z'],
      ['2025-11-11', '13:07:40', '5', 'Z'],
      ['1969-12-31', '23:59:59', '5', 'Z'],
    ];
    for (let i = 0; i < 60; i++) {
      const [date, time, fraction, zone] = parts[(i * 7) % parts.length]!;
      const text = `${date}T${time}.${fraction}${zone}`;
      expect([text, rfc3339ToNs(text)]).toEqual([text, reference(date, time, fraction, zone)]);
      expect(rfc3339ToNs(`${date}T${time}.${fraction}X`)).toBeUndefined();
    }
  });

  it('reads a timestamp in the last second parsed as the regex would: fraction, zone and end checked', () => {
    for (const [date, time, zone] of [
      ['2025-11-10', '13:07:40', 'Z'],
      ['2025-11-10', '13:07:40', '+01:00'],
      ['1969-12-31', '23:59:59', 'Z'],
    ] as const) {
      const second = `${date}T${time}`;
      expect(rfc3339ToNs(`${second}.5${zone}`)).toBe(reference(date, time, '5', zone));
      expect(rfc3339ToNs(`${second}${zone}`)).toBe(reference(date, time, '', zone));
      expect(rfc3339ToNs(`${second}.123456789${zone}`)).toBe(reference(date, time, '123456789', zone));
      for (const bad of ['.1234567890', '.', '.12a', ',5'])
        expect([bad, rfc3339ToNs(`${second}${bad}${zone}`)]).toEqual([bad, undefined]);
      for (const bad of [`${zone}x`, zone.slice(0, -1), '', '-01:00x'])
        expect([bad, rfc3339ToNs(`${second}.5${bad}`)]).toEqual([bad, undefined]);
      expect(rfc3339ToNs(`${second}.5-01:00`)).toBe(reference(date, time, '5', '-01:00')); // another zone: read in full
    }
  });

  it.each([
    '',
    '2025-11-10',
    '2025-11-10T13:07:40',
    '2025-11-10T13:07:40.1234567890Z',
    '2025-13-10T13:07:40Z',
    'x2025-11-10T13:07:40Z',
  ])('is undefined for %p', (text) => expect(rfc3339ToNs(text)).toBeUndefined());

  it('round-trips through nsToRfc3339', () => {
    for (const ns of ['1762780060001000137', '1000000001', '1']) expect(rfc3339ToNs(nsToRfc3339(ns))).toBe(ns);
  });
});
