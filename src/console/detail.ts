import type { Alert, AlertIncident } from '../core/alert';
import type { JsonObject } from '../core/event';
import { alertView, alertViewJson, stateOf } from '../alert/view';

export type AlertView = ReturnType<typeof alertView>;

/**
 * An alert's detail as the memory history keeps it: what `GET /v1/console/alerts/:fp` shows
 * (`alertView`: the alert's own fields, the raw payload left out), made into its view and JSON only
 * when read. It keeps a copy of the alert's own fields (and of its event's, the raw payload left
 * out: the evidence keeps that): nothing under an alert's fields is changed once the alert is made
 * (a fold, an amendment, a resolve make a new alert or set a field of its own, which the copy does
 * not see), so the text read later is the one `alertViewJson` writes at record time (tested). Writing
 * it for every change, and collecting the strings, was most of the history's cost per alert; a view
 * made at record time (its event copied without the raw payload) cost 2 objects, each with a
 * property array, per alert kept (docs/performance.md).
 */
export class LazyDetail {
  constructor(
    /** The copy: what the history keeps (this object is not kept: 40 bytes an alert). */
    readonly copy: Alert,
    /** `estimateViewLength` of the view: what the history's bytes bound counts for it. */
    readonly bytes: number,
  ) {}

  get view(): AlertView {
    return alertView(this.copy);
  }
}

/** The empty payload of the history's copies of events (only ever left out of the view). */
const NO_RAW: JsonObject = Object.freeze({});

export function lazyDetail(alert: Alert): LazyDetail {
  // Copies of one shape each (the alert's, the event's): no property is added or removed.
  const copy: Alert = { ...alert, event: { ...alert.event, raw: NO_RAW } };
  return new LazyDetail(copy, estimateDetailLength(copy));
}

/** The detail's JSON, from a `LazyDetail` or the copy it made. */
export function detailJson(detail: LazyDetail | Alert): string {
  return alertViewJson(detail instanceof LazyDetail ? detail.copy : detail);
}

/**
 * What each value costs beyond its characters. JSON spends 2–4 characters on a value's quotes, colon
 * and comma; the heap spends more on a value kept as an object's member (a slot, a string's header),
 * and a detail keeps objects, not text. 8 keeps the estimate near the JSON's length for real alerts
 * (1.14–1.21×) while an alert made of many tiny values still counts part of what it holds; the heap
 * held per byte of estimate is measured in docs/console.md#how-the-bytes-are-estimated.
 */
const PER_VALUE = 8;
/** A number's JSON: times in ms are 13 digits, counts and ids fewer. */
const NUMBER_LENGTH = 8;

/**
 * An estimate of `JSON.stringify(view).length` that writes nothing: characters of every key and
 * string plus PER_VALUE per value, escapes not counted. The enrichment's parts are shared by many
 * alerts and never changed, so theirs is worked out once per object. The incident reference is not:
 * the tracker makes one per incident version, nearly one per alert, so a cache entry for it cost
 * more (an entry per alert in a WeakMap) than its estimate, worked out field by field.
 */
export function estimateViewLength(view: AlertView): number {
  let n = 2;
  for (const key in view) {
    const value = view[key as keyof AlertView];
    if (value === undefined) continue;
    n += key.length + PER_VALUE + partLength(key, value);
  }
  return n;
}

/** `estimateViewLength(alertView(alert))`, without making the view. */
function estimateDetailLength(alert: Alert): number {
  let n = 2;
  for (const key in alert) {
    if (key === 'event' || key === 'state' || key === 'silencedBy' || key === 'inhibitedBy') continue;
    const value = alert[key as keyof Alert];
    if (value === undefined) continue;
    n += key.length + PER_VALUE + partLength(key, value);
  }
  n += STATE_KEY + stateOf(alert).length + 2;
  n += SILENCED_KEY + estimateJsonLength(alert.silencedBy ?? []);
  n += INHIBITED_KEY + estimateJsonLength(alert.inhibitedBy ?? []);
  n += EVENT_KEY + 2;
  const event = alert.event;
  for (const key in event) {
    if (key === 'raw') continue;
    const value = event[key as keyof typeof event];
    if (value !== undefined) n += key.length + PER_VALUE + estimateJsonLength(value);
  }
  return n;
}

const STATE_KEY = 'state'.length + PER_VALUE;
const SILENCED_KEY = 'silencedBy'.length + PER_VALUE;
const INHIBITED_KEY = 'inhibitedBy'.length + PER_VALUE;
const EVENT_KEY = 'event'.length + PER_VALUE;

function partLength(key: string, value: unknown): number {
  if (key === 'incident') return incidentLength(value as AlertIncident);
  if (key !== 'enrichment') return estimateJsonLength(value);
  let n = 2;
  for (const part in value as object) n += part.length + PER_VALUE + sharedLength((value as Record<string, unknown>)[part]);
  return n;
}

const lengths = new WeakMap<object, number>();

function sharedLength(value: unknown): number {
  if (value === null || typeof value !== 'object') return estimateJsonLength(value);
  let n = lengths.get(value);
  if (n === undefined) lengths.set(value, (n = estimateJsonLength(value)));
  return n;
}

/** `estimateJsonLength(incident)`, its timeline entries' fields read directly (they have no others). */
export function incidentLength(incident: AlertIncident): number {
  let n = 2;
  for (const key in incident) {
    const value = incident[key as keyof AlertIncident];
    if (value === undefined) continue;
    n += key.length + PER_VALUE;
    if (key !== 'timeline') {
      n += estimateJsonLength(value);
      continue;
    }
    const timeline = value as NonNullable<AlertIncident['timeline']>;
    n += 2;
    for (let i = 0; i < timeline.length; i++) {
      const t = timeline[i]!;
      n += PER_VALUE + ENTRY_FIXED + t.time.length + t.source.length + t.rule.length;
      if (t.user !== undefined) n += USER_FIXED + t.user.length;
    }
  }
  return n;
}

/** What `estimateJsonLength` counts for a timeline entry's braces, keys and quotes: `time`, `source`, `rule`. */
const ENTRY_FIXED = 2 + 3 * (PER_VALUE + 2) + 'time'.length + 'source'.length + 'rule'.length;
const USER_FIXED = 'user'.length + PER_VALUE + 2;

/** An estimate of a JSON value's length as JSON (see PER_VALUE). */
export function estimateJsonLength(value: unknown): number {
  if (typeof value === 'string') return value.length + 2;
  if (typeof value === 'number') return NUMBER_LENGTH;
  if (value === null || typeof value !== 'object') return 5;
  let n = 2;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) n += PER_VALUE + estimateJsonLength(value[i]);
    return n;
  }
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) n += key.length + PER_VALUE + estimateJsonLength(v);
  }
  return n;
}
