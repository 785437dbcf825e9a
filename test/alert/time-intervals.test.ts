import { compileInterval, intervalContains, TimeIntervals, type TimeIntervalConfig } from '../../src/alert/time-intervals';
import { validateConfig } from '../../src/config/load';

const at = (iso: string) => Date.parse(iso);

describe('time_intervals (Alertmanager semantics)', () => {
  it.each<[string, TimeIntervalConfig, string, boolean]>([
    ['inside office hours', { times: [{ start_time: '09:00', end_time: '17:00' }] }, '2026-06-01T09:00:00Z', true],
    ['end is exclusive', { times: [{ start_time: '09:00', end_time: '17:00' }] }, '2026-06-01T17:00:00Z', false],
    ['24:00 ends the day', { times: [{ start_time: '22:00', end_time: '24:00' }] }, '2026-06-01T23:59:00Z', true],
    ['weekday range (Monday)', { weekdays: ['monday:friday'] }, '2026-06-01T12:00:00Z', true],
    ['weekday range (Sunday)', { weekdays: ['monday:friday'] }, '2026-05-31T12:00:00Z', false],
    ['single weekday, any case', { weekdays: ['Sunday'] }, '2026-05-31T12:00:00Z', true],
    ['last day of the month', { days_of_month: ['-1'] }, '2026-02-28T12:00:00Z', true],
    ['last three days', { days_of_month: ['-3:-1'] }, '2026-06-27T12:00:00Z', false],
    ['last three days (28th of 30)', { days_of_month: ['-3:-1'] }, '2026-06-28T12:00:00Z', true],
    ['31 never matches February', { days_of_month: ['31'] }, '2026-02-28T12:00:00Z', false],
    ['first week', { days_of_month: ['1:7'] }, '2026-06-07T12:00:00Z', true],
    ['months by name and number', { months: ['january:march', '12'] }, '2026-12-01T00:00:00Z', true],
    ['months outside', { months: ['january:march'] }, '2026-04-01T00:00:00Z', false],
    ['years', { years: ['2025:2026'] }, '2027-01-01T00:00:00Z', false],
    // 08:30 UTC is 10:30 in Berlin (summer time): inside 10:00–11:00 there, not in UTC.
    [
      'location (IANA)',
      { times: [{ start_time: '10:00', end_time: '11:00' }], location: 'Europe/Berlin' },
      '2026-06-01T08:30:00Z',
      true,
    ],
    ['location changes the weekday', { weekdays: ['monday'], location: 'Pacific/Auckland' }, '2026-05-31T13:00:00Z', true],
    [
      'fields are ANDed',
      { weekdays: ['saturday', 'sunday'], times: [{ start_time: '00:00', end_time: '06:00' }] },
      '2026-05-31T07:00:00Z',
      false,
    ],
  ])('%s', (_name, config, instant, expected) => {
    expect(intervalContains(compileInterval(config), at(instant))).toBe(expected);
  });

  it.each<[TimeIntervalConfig, string]>([
    [{ times: [{ start_time: '9:00', end_time: '17:00' }] }, 'invalid time'],
    [{ times: [{ start_time: '17:00', end_time: '09:00' }] }, 'must be after'],
    [{ weekdays: ['funday'] }, 'invalid weekday'],
    [{ weekdays: ['friday:monday'] }, 'ends before it starts'],
    [{ days_of_month: ['0'] }, 'out of range'],
    [{ days_of_month: ['32'] }, 'out of range'],
    [{ months: ['13'] }, 'invalid month'],
    [{ location: 'Mars/Olympus' }, 'unknown location'],
  ])('rejects %j', (config, message) => {
    expect(() => compileInterval(config)).toThrow(message);
  });

  it('mutes a route inside a mute interval, and outside every active interval', () => {
    const intervals = new TimeIntervals([
      { name: 'nights', time_intervals: [{ times: [{ start_time: '00:00', end_time: '06:00' }] }] },
      { name: 'office', time_intervals: [{ weekdays: ['monday:friday'], times: [{ start_time: '09:00', end_time: '17:00' }] }] },
    ]);
    const route = (mute: string[], active: string[]) => ({ muteTimeIntervals: mute, activeTimeIntervals: active });
    expect(intervals.routeMuted(route(['nights'], []), at('2026-06-01T03:00:00Z'))).toBe(true);
    expect(intervals.routeMuted(route(['nights'], []), at('2026-06-01T07:00:00Z'))).toBe(false);
    expect(intervals.routeMuted(route([], ['office']), at('2026-06-01T10:00:00Z'))).toBe(false);
    expect(intervals.routeMuted(route([], ['office']), at('2026-05-31T10:00:00Z'))).toBe(true);
  });

  it('config check names a bad interval and an undefined one', () => {
    const base = { receivers: [{ type: 'console', name: 'c' }] };
    expect(() =>
      validateConfig({
        ...base,
        time_intervals: [{ name: 'x', time_intervals: [{ weekdays: ['funday'] }] }],
        route: { receiver: 'c' },
      }),
    ).toThrow('time_intervals.0.time_intervals.0: invalid weekday');
    expect(() => validateConfig({ ...base, route: { receiver: 'c', routes: [{ mute_time_intervals: ['nope'] }] } })).toThrow(
      'route.routes.0.mute_time_intervals.0: undefined time interval "nope"',
    );
  });
});
