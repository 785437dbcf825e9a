import type { SecurityEvent } from '../core/event';

/** An occurrence as the console keeps it for evidence: its id and raw payload (and the payload's estimated size). */
export type Evidence = Pick<SecurityEvent, 'id' | 'raw' | 'sizeBytes'>;

/**
 * A raw event as the console shows it: its JSON, or, past `maxBytes` characters
 * (`console.history.evidenceMaxBytes`), the start of that JSON in an object marked as truncated.
 */
export function evidenceText(e: Evidence, maxBytes: number): string {
  const json = JSON.stringify(e.raw);
  if (json.length <= maxBytes) return json;
  return JSON.stringify({ truncated: true, eventId: e.id, json: json.slice(0, maxBytes) });
}
