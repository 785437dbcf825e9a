const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$/;
/** `YYYY-MM-DDTHH:MM:SS`: what comes before the fraction. */
const SECOND_LENGTH = 19;

/**
 * Nanoseconds since the epoch, exactly, as a decimal string, from an RFC 3339 timestamp with up to
 * nanosecond precision (Falco writes 9 fraction digits, the apiserver 6). Undefined when invalid.
 */
export function rfc3339ToNs(value: string): string | undefined {
  const known = inLastSecond(value);
  if (known !== undefined) return known;
  const m = RFC3339.exec(value);
  if (!m) return undefined;
  const ms = wholeSecondsMs(m[1]!, m[2]!, m[4]!.toUpperCase());
  if (Number.isNaN(ms)) return undefined;
  lastSecond = { text: value.slice(0, SECOND_LENGTH), zone: m[4]!, ms };
  return nanoseconds(ms, m[3] ?? '');
}

function nanoseconds(ms: number, fractionDigits: string): string {
  const fraction = fractionDigits.padEnd(9, '0');
  // After the epoch the digits are the seconds' then the nine of the fraction: no BigInt (which was
  // a third of this function's time, bench/profile.js).
  if (ms >= 1000) return `${ms / 1000}${fraction}`;
  return (BigInt(ms) * 1_000_000n + BigInt(fraction)).toString();
}

/**
 * The last second parsed, remembered: events come roughly in time order, so consecutive ones (a
 * Falco burst, the items of an EventList) mostly share their second, and `Date.parse` with the
 * string it needs was two thirds of this function (355 → 130 ns per call on the bench's events).
 */
let last = { date: '', time: '', zone: '', ms: NaN };

/** Milliseconds since the epoch of a date, a time of day without fraction and a zone (NaN if invalid). */
function wholeSecondsMs(date: string, time: string, zone: string): number {
  if (time === last.time && date === last.date && zone === last.zone) return last.ms;
  const ms = Date.parse(`${date}T${time}${zone}`);
  last = { date, time, zone, ms };
  return ms;
}

/**
 * The last valid timestamp's text up to its second, and its zone as written. A timestamp that starts
 * with the same second and ends with the same zone only has its fraction left to read, which skips
 * the regex and the strings its match makes (a quarter of an audit event's normalising, without the
 * raw payload's walk).
 */
let lastSecond = { text: '', zone: '', ms: NaN };

/** `value`'s nanoseconds when it is in the last second parsed, in the same zone; undefined otherwise (the regex decides). */
function inLastSecond(value: string): string | undefined {
  if (lastSecond.text === '' || !value.startsWith(lastSecond.text)) return undefined;
  let end = SECOND_LENGTH;
  if (value.charCodeAt(end) === 0x2e) {
    end++;
    while (end <= SECOND_LENGTH + 10 && isDigit(value.charCodeAt(end))) end++;
    const digits = end - SECOND_LENGTH - 1;
    if (digits < 1 || digits > 9) return undefined;
  }
  const zone = lastSecond.zone;
  if (value.length - end !== zone.length || !value.startsWith(zone, end)) return undefined;
  return nanoseconds(lastSecond.ms, end === SECOND_LENGTH ? '' : value.slice(SECOND_LENGTH + 1, end));
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** RFC 3339 in UTC with nanoseconds, from ns since the epoch. */
export function nsToRfc3339(ns: string): string {
  const big = BigInt(ns);
  const ms = Number(big / 1_000_000n);
  const fraction = (big % 1_000_000_000n).toString().padStart(9, '0');
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, `.${fraction}Z`);
}
