import { isTimeZone, nextRun, parseSchedule, type Schedule } from '../../src/posture/schedule';

const parse = (s: string) => parseSchedule(s) as Schedule;
const iso = (t: number) => new Date(t).toISOString();

describe('digest schedule', () => {
  it.each([
    ['MON 09:00', [1], 9, 0],
    ['mon,thu 8:30', [1, 4], 8, 30],
    ['MON-FRI 18:05', [1, 2, 3, 4, 5], 18, 5],
    ['FRI-MON 00:00', [0, 1, 5, 6], 0, 0],
    ['* 23:59', [0, 1, 2, 3, 4, 5, 6], 23, 59],
  ])('%s', (text, days, hour, minute) => {
    const s = parse(text);
    expect([[...s.days].sort(), s.hour, s.minute]).toEqual([days, hour, minute]);
  });

  it.each(['MON', 'MON 24:00', 'MONDAY 09:00', 'MON 9:7', ''])('rejects %j', (text) => {
    expect(typeof parseSchedule(text)).toBe('string');
  });

  it('next run: the next named weekday, at wall-clock time in the zone', () => {
    // 2026-12-01 is a Tuesday.
    const tuesday = Date.parse('2026-12-01T10:00:00Z');
    expect(iso(nextRun(parse('MON 09:00'), 'UTC', tuesday))).toBe('2026-12-07T09:00:00.000Z');
    expect(iso(nextRun(parse('TUE 09:00'), 'UTC', tuesday))).toBe('2026-12-08T09:00:00.000Z');
    expect(iso(nextRun(parse('TUE 11:00'), 'UTC', tuesday))).toBe('2026-12-01T11:00:00.000Z');
    // Berlin is UTC+1 in winter and UTC+2 in summer.
    expect(iso(nextRun(parse('MON 09:00'), 'Europe/Berlin', tuesday))).toBe('2026-12-07T08:00:00.000Z');
    expect(iso(nextRun(parse('MON 09:00'), 'Europe/Berlin', Date.parse('2026-06-02T00:00:00Z')))).toBe(
      '2026-06-08T07:00:00.000Z',
    );
    // Across the spring change (2027-03-28 in Europe): a Monday after it is at the new offset.
    expect(iso(nextRun(parse('MON 09:00'), 'Europe/Berlin', Date.parse('2027-03-27T12:00:00Z')))).toBe(
      '2027-03-29T07:00:00.000Z',
    );
    // Strictly after: a run exactly at its time schedules the next one.
    const at = nextRun(parse('* 09:00'), 'UTC', tuesday);
    expect(iso(nextRun(parse('* 09:00'), 'UTC', at))).toBe('2026-12-03T09:00:00.000Z');
  });

  it('time zones are checked', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
