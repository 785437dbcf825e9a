/**
 * Alertmanager's `time_intervals`: when a route is muted (`mute_time_intervals`) or active
 * (`active_time_intervals`). Within one interval the given fields are ANDed; the entries of each
 * list, and the intervals under one name, are ORed. Times are read in the interval's `location`
 * (an IANA zone, `Local`, or UTC by default).
 */
export interface TimeIntervalConfig {
  times?: { start_time: string; end_time: string }[] | undefined;
  weekdays?: string[] | undefined;
  days_of_month?: string[] | undefined;
  months?: string[] | undefined;
  years?: string[] | undefined;
  location?: string | undefined;
}

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const MONTHS = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];

interface Range {
  start: number;
  end: number;
}

export interface CompiledInterval {
  /** Minutes of the day, end exclusive. */
  times?: Range[];
  /** 0 = Sunday. */
  weekdays?: Range[];
  /** 1..31, or negative from the month's end (-1 = last day). */
  days?: Range[];
  months?: Range[];
  years?: Range[];
  zone: string | undefined;
}

export class TimeIntervalError extends Error {}

function minutes(text: string, allow24: boolean): number {
  const m = /^(\d{2}):(\d{2})$/.exec(text);
  if (!m) throw new TimeIntervalError(`invalid time ${JSON.stringify(text)} (want HH:MM)`);
  const value = Number(m[1]) * 60 + Number(m[2]);
  if (Number(m[2]) > 59 || value > 24 * 60 || (!allow24 && value === 24 * 60))
    throw new TimeIntervalError(`invalid time ${JSON.stringify(text)}`);
  return value;
}

/** `a:b` or `a`, each side read by `one`; inclusive. */
function range(text: string, one: (s: string) => number, what: string): Range {
  const parts = text.split(':');
  if (parts.length > 2 || parts.some((p) => p.trim() === ''))
    throw new TimeIntervalError(`invalid ${what} range ${JSON.stringify(text)}`);
  const start = one(parts[0]!.trim());
  const end = parts.length === 2 ? one(parts[1]!.trim()) : start;
  return { start, end };
}

function named(names: string[], what: string, base: number) {
  return (s: string) => {
    const i = names.indexOf(s.toLowerCase());
    if (i >= 0) return i + base;
    if (/^\d+$/.test(s) && what === 'month') {
      const n = Number(s);
      if (n >= 1 && n <= 12) return n;
    }
    throw new TimeIntervalError(`invalid ${what} ${JSON.stringify(s)}`);
  };
}

function integer(min: number, max: number, what: string) {
  return (s: string) => {
    if (!/^-?\d+$/.test(s)) throw new TimeIntervalError(`invalid ${what} ${JSON.stringify(s)}`);
    const n = Number(s);
    if (n < min || n > max || n === 0) throw new TimeIntervalError(`${what} ${n} out of range`);
    return n;
  };
}

export function compileInterval(c: TimeIntervalConfig): CompiledInterval {
  const out: CompiledInterval = { zone: undefined };
  if (c.times) {
    out.times = c.times.map((t) => {
      const r = { start: minutes(t.start_time, false), end: minutes(t.end_time, true) };
      if (r.end <= r.start) throw new TimeIntervalError(`end_time ${t.end_time} must be after start_time ${t.start_time}`);
      return r;
    });
  }
  if (c.weekdays) out.weekdays = c.weekdays.map((w) => checked(range(w, named(WEEKDAYS, 'weekday', 0), 'weekday'), 'weekday'));
  if (c.days_of_month)
    out.days = c.days_of_month.map((d) => {
      const r = range(d, integer(-31, 31, 'day of month'), 'days_of_month');
      if (Math.sign(r.start) === Math.sign(r.end) && r.end < r.start)
        throw new TimeIntervalError(`days_of_month range ${d} ends before it starts`);
      return r;
    });
  if (c.months) out.months = c.months.map((m) => checked(range(m, named(MONTHS, 'month', 1), 'month'), 'month'));
  if (c.years) out.years = c.years.map((y) => checked(range(y, integer(1, 9999, 'year'), 'year'), 'year'));
  if (c.location && c.location !== 'UTC') {
    const zone = c.location === 'Local' ? Intl.DateTimeFormat().resolvedOptions().timeZone : c.location;
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
    } catch {
      throw new TimeIntervalError(`unknown location ${JSON.stringify(c.location)} (want an IANA zone such as Europe/Berlin)`);
    }
    out.zone = zone;
  }
  return out;
}

function checked(r: Range, what: string): Range {
  if (r.end < r.start) throw new TimeIntervalError(`${what} range ends before it starts`);
  return r;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock parts of `ms` in `zone` (UTC when undefined). */
function wallClock(ms: number, zone: string | undefined) {
  if (!zone) {
    const d = new Date(ms);
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      weekday: d.getUTCDay(),
      minute: d.getUTCHours() * 60 + d.getUTCMinutes(),
    };
  }
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      weekday: 'long',
      hour: 'numeric',
      minute: 'numeric',
    });
    formatters.set(zone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    weekday: WEEKDAYS.indexOf(parts.weekday!.toLowerCase()),
    minute: Number(parts.hour) * 60 + Number(parts.minute),
  };
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

const within = (ranges: Range[] | undefined, v: number) => !ranges || ranges.some((r) => v >= r.start && v <= r.end);

/** Whether the instant falls in the interval. */
export function intervalContains(i: CompiledInterval, ms: number): boolean {
  const t = wallClock(ms, i.zone);
  if (i.times && !i.times.some((r) => t.minute >= r.start && t.minute < r.end)) return false;
  if (!within(i.weekdays, t.weekday) || !within(i.months, t.month) || !within(i.years, t.year)) return false;
  if (i.days) {
    const last = daysInMonth(t.year, t.month);
    // Negative days count from the month's end. A range that starts past the month's end does not
    // match; otherwise it is clamped to the month (as Alertmanager does: '31' never matches February).
    const at = (d: number) => (d > 0 ? d : last + d + 1);
    const hit = i.days.some((r) => {
      const begin = at(r.start);
      if (begin > last) return false;
      return t.day >= begin && t.day <= Math.min(at(r.end), last);
    });
    if (!hit) return false;
  }
  return true;
}

/** Named intervals: a name matches when any of its intervals contains the instant. */
export class TimeIntervals {
  private readonly byName = new Map<string, CompiledInterval[]>();

  constructor(config: readonly { name: string; time_intervals: readonly TimeIntervalConfig[] }[]) {
    for (const entry of config) this.byName.set(entry.name, entry.time_intervals.map(compileInterval));
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  contains(name: string, ms: number): boolean {
    return (this.byName.get(name) ?? []).some((i) => intervalContains(i, ms));
  }

  /** A route is muted inside any of its mute intervals, and outside all of its active intervals (when it has some). */
  routeMuted(route: { muteTimeIntervals: readonly string[]; activeTimeIntervals: readonly string[] }, ms: number): boolean {
    if (route.muteTimeIntervals.some((n) => this.contains(n, ms))) return true;
    return route.activeTimeIntervals.length > 0 && !route.activeTimeIntervals.some((n) => this.contains(n, ms));
  }
}
