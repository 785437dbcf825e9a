import type { Json, JsonObject, SecurityEvent } from '../core/event';

/**
 * Estimated heap bytes of an alert's copy of its event's raw payload. An alert lives on after its event
 * (recent alerts, notification records for the dedup window, dead letters), so it keeps only the start
 * of the payload: its first fields in order, which for audit events are the identity and the request
 * (auditID, stage, verb, user, objectRef, ...) before the big request and response objects.
 */
export const EVIDENCE_RAW_BYTES = 16 * 1024;

/** Marks an object or array that was cut short. */
export const CUT_MARKER = '…[truncated]';

const VALUE_OVERHEAD = 16;

/** The event as an alert keeps it: everything normalised, the raw payload cut to EVIDENCE_RAW_BYTES. */
export function evidenceOf(event: SecurityEvent): SecurityEvent {
  if ((event.sizeBytes ?? Infinity) <= EVIDENCE_RAW_BYTES) return event;
  const budget = { left: EVIDENCE_RAW_BYTES };
  return { ...event, raw: cut(event.raw, budget) as JsonObject };
}

function cut(v: Json, budget: { left: number }): Json {
  budget.left -= VALUE_OVERHEAD;
  if (typeof v === 'string') {
    const keep = Math.max(0, Math.min(v.length, Math.floor(budget.left / 2)));
    budget.left -= keep * 2;
    if (keep === v.length) return v;
    const code = v.charCodeAt(keep - 1);
    return v.slice(0, code >= 0xd800 && code <= 0xdbff ? keep - 1 : keep) + CUT_MARKER;
  }
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    const out: Json[] = [];
    for (const x of v) {
      if (budget.left <= 0) {
        out.push(CUT_MARKER);
        break;
      }
      out.push(cut(x, budget));
    }
    return out;
  }
  const out: JsonObject = {};
  for (const key in v) {
    if (budget.left <= 0) {
      out[CUT_MARKER] = true;
      break;
    }
    budget.left -= VALUE_OVERHEAD + key.length * 2;
    out[key] = cut(v[key]!, budget);
  }
  return out;
}
