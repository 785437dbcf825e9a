import type { SecurityEvent } from '../core/event';

/** Longest text kept per summary field (code points). */
const MAX_TEXT = 256;

/** What an operator needs to recognise a parked event, small and well-formed whatever the event held. */
export interface EventSummary {
  id: string;
  source: string;
  time: string;
  receivedAt: number;
  cluster: string;
  namespace?: string;
  pod?: string;
  container?: string;
  /** Falco's rule name, for a Falco event. */
  rule?: string;
  priority?: string;
  /** For an audit event: the verb, and `resource/name` of its object. */
  verb?: string;
  object?: string;
  user?: string;
}

export function summarise(e: SecurityEvent): EventSummary {
  const object = e.audit?.objectRef ? [e.audit.objectRef.resource, e.audit.objectRef.name].filter(Boolean).join('/') : undefined;
  const summary: EventSummary = {
    id: text(e.id)!,
    source: text(e.source)!,
    time: text(e.time)!,
    receivedAt: typeof e.receivedAt === 'number' ? e.receivedAt : 0,
    cluster: text(e.k8s?.cluster)!,
  };
  const optional: Record<string, unknown> = {
    namespace: e.k8s?.namespace,
    pod: e.k8s?.pod,
    container: e.k8s?.container,
    rule: e.falco?.rule,
    priority: e.falco?.priority,
    verb: e.audit?.verb,
    object,
    user: e.actor?.user,
  };
  for (const [key, value] of Object.entries(optional)) {
    const t = text(value);
    if (t) (summary as unknown as Record<string, string>)[key] = t;
  }
  return summary;
}

/** At most `max` code points of `value` (non-strings as JSON) as well-formed text, marked when cut. */
export function text(value: unknown, max = MAX_TEXT): string | undefined {
  if (value === undefined || value === null) return undefined;
  const s = (typeof value === 'string' ? value : (JSON.stringify(value) ?? '')).toWellFormed();
  if (s.length <= max) return s;
  let out = '';
  let count = 0;
  for (const codePoint of s) {
    if (count === max) return `${out}…`;
    out += codePoint;
    count++;
  }
  return out;
}
