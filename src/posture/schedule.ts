/**
 * A weekly schedule for the posture digest: `MON 09:00`, `MON,THU 08:30`, `MON-FRI 09:00`, `* 18:00`
 * (every day), read as wall-clock time in an IANA time zone.
 */
export interface Schedule {
  /** 0 = Sunday … 6 = Saturday. */
  days: ReadonlySet<number>;
  hour: number;
  minute: number;
}

const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** The schedule, or a reason it cannot be read. */
export function parseSchedule(text: string): Schedule | string {
  const m = /^\s*(\S+)\s+([01]?\d|2[0-3]):([0-5]\d)\s*$/.exec(text);
  if (!m) return 'must be "DAYS HH:MM", e.g. "MON 09:00", "MON-FRI 08:30" or "* 18:00"';
  const days = new Set<number>();
  const spec = (m[1] as string).toUpperCase();
  if (spec === '*') for (let d = 0; d < 7; d++) days.add(d);
  else {
    for (const part of spec.split(',')) {
      const range = part.split('-');
      const ids = range.map((r) => DAYS.indexOf(r));
      if (ids.some((i) => i < 0) || range.length > 2)
        return `unknown day ${JSON.stringify(part)}: use SUN MON TUE WED THU FRI SAT`;
      const [from, to = from] = ids as [number, number?];
      for (let d = from; ; d = (d + 1) % 7) {
        days.add(d);
        if (d === to) break;
      }
    }
  }
  return { days, hour: Number(m[2]), minute: Number(m[3]) };
}

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The first time strictly after `after` (ms since the epoch) that the schedule names, in `timeZone`. */
export function nextRun(schedule: Schedule, timeZone: string, after: number): number {
  const start = wallParts(after, timeZone);
  for (let offset = 0; offset <= 8; offset++) {
    // Walk calendar days of the zone: the UTC date arithmetic below never crosses a zone's DST rules.
    const day = new Date(Date.UTC(start.year, start.month - 1, start.day + offset));
    if (!schedule.days.has(day.getUTCDay())) continue;
    const at = zonedToUtc(
      day.getUTCFullYear(),
      day.getUTCMonth() + 1,
      day.getUTCDate(),
      schedule.hour,
      schedule.minute,
      timeZone,
    );
    if (at > after) return at;
  }
  throw new Error('unreachable: a weekly schedule names a day within eight days');
}

interface WallParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function wallParts(t: number, timeZone: string): WallParts {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  const parts: Record<string, number> = {};
  for (const p of f.formatToParts(new Date(t))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return parts as unknown as WallParts;
}

/** The UTC instant of a wall-clock time in a zone (in a DST gap, the instant just after it). */
function zonedToUtc(year: number, month: number, day: number, hour: number, minute: number, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  let guess = wall;
  for (let i = 0; i < 3; i++) {
    const p = wallParts(guess, timeZone);
    const seen = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
    const diff = wall - seen;
    if (diff === 0) break;
    guess += diff;
  }
  return guess;
}
