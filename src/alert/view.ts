import type { Alert, AlertIncident, Enrichment } from '../core/alert';

/** The API view of an alert (`GET /v1/alerts`): everything but the event's raw payload (its id is in `evidence`). */
export function alertView(alert: Alert) {
  const { event, ...rest } = alert;
  const { raw: _raw, ...eventWithoutRaw } = event;
  return {
    ...rest,
    state: stateOf(alert),
    silencedBy: alert.silencedBy ?? [],
    inhibitedBy: alert.inhibitedBy ?? [],
    event: eventWithoutRaw,
  };
}

export function stateOf(alert: Alert): 'resolved' | 'suppressed' | 'active' {
  if (alert.resolvedAt !== undefined) return 'resolved';
  return alert.silencedBy?.length || alert.inhibitedBy?.length ? 'suppressed' : 'active';
}

/**
 * `JSON.stringify(alertView(alert))`, the same text key for key, at less cost: the console history
 * in Redis writes it for every alert change, and the memory history when a detail is read. The
 * enrichment's parts are serialised once per object (the enricher hands the alerts of one pod state
 * the same pod and subject parts, treated as immutable once made) and spliced between the alert's
 * other fields, copied in the alert's key order (bench/console.js; docs/performance.md). The
 * incident reference's text is kept for the last reference only: the tracker makes one per incident
 * version, nearly one per alert, so a text cached per reference was a copy per alert of what the
 * incident holds; the alerts that share one (its members' repeats) mostly come one after another.
 */
export function alertViewJson(alert: Alert): string {
  let out = '';
  let plain: Record<string, unknown> = {};
  let members = 0;
  const flush = () => {
    if (members === 0) return;
    const json = JSON.stringify(plain);
    if (json.length > 2) out += `${out ? ',' : ''}${json.slice(1, -1)}`;
    plain = {};
    members = 0;
  };
  const splice = (key: string, json: string | undefined) => {
    flush();
    if (json !== undefined) out += `${out ? ',' : ''}"${key}":${json}`;
  };
  let stated = false;
  let silenced = false;
  let inhibited = false;
  for (const key in alert) {
    if (key === 'event') continue;
    if (key === 'enrichment' || key === 'incident') {
      splice(key, key === 'enrichment' ? enrichmentJson(alert.enrichment) : incidentJson(alert.incident));
      continue;
    }
    if (key === 'state') {
      plain.state = stateOf(alert);
      stated = true;
    } else if (key === 'silencedBy') {
      plain.silencedBy = alert.silencedBy ?? [];
      silenced = true;
    } else if (key === 'inhibitedBy') {
      plain.inhibitedBy = alert.inhibitedBy ?? [];
      inhibited = true;
    } else plain[key] = alert[key as keyof Alert];
    members++;
  }
  if (!stated) plain.state = stateOf(alert);
  if (!silenced) plain.silencedBy = [];
  if (!inhibited) plain.inhibitedBy = [];
  const { raw: _raw, ...event } = alert.event;
  plain.event = event;
  members++;
  flush();
  return `{${out}}`;
}

const partJson = new WeakMap<object, string>();

/** The JSON of an object shared by many alerts, made once per object; other values as they are. */
function partJsonOf(part: unknown): string | undefined {
  if (part === null || typeof part !== 'object') return JSON.stringify(part);
  let json = partJson.get(part);
  if (json === undefined) partJson.set(part, (json = JSON.stringify(part)));
  return json;
}

let lastIncident: AlertIncident | undefined;
let lastIncidentJson: string | undefined;

function incidentJson(incident: AlertIncident | undefined): string | undefined {
  if (incident === null || typeof incident !== 'object') return JSON.stringify(incident);
  if (incident !== lastIncident) {
    lastIncidentJson = JSON.stringify(incident);
    lastIncident = incident;
  }
  return lastIncidentJson;
}

function enrichmentJson(enrichment: Enrichment | undefined): string | undefined {
  if (enrichment === null || typeof enrichment !== 'object' || Array.isArray(enrichment)) return JSON.stringify(enrichment);
  let out = '';
  for (const key in enrichment) {
    const json = partJsonOf(enrichment[key as keyof Enrichment]);
    if (json !== undefined) out += `${out ? ',' : ''}${JSON.stringify(key)}:${json}`;
  }
  return `{${out}}`;
}
