import type { Alert, Enrichment } from '../core/alert';

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

function stateOf(alert: Alert): 'resolved' | 'suppressed' | 'active' {
  if (alert.resolvedAt !== undefined) return 'resolved';
  return alert.silencedBy?.length || alert.inhibitedBy?.length ? 'suppressed' : 'active';
}

/**
 * `JSON.stringify(alertView(alert))`, the same text key for key, at less cost: the console history
 * writes it for every alert change. The enrichment's parts are serialised once per part object (the
 * enricher hands the alerts of one pod state the same pod and subject parts; every part is treated
 * as immutable once made) and spliced between the alert's fields before and after it, copied in the
 * alert's key order (bench/console.js; docs/performance.md).
 */
export function alertViewJson(alert: Alert): string {
  const head: Record<string, unknown> = {};
  const tail: Record<string, unknown> = {};
  let into = head;
  let hasEnrichment = false;
  let silenced = false;
  let inhibited = false;
  for (const key in alert) {
    if (key === 'event') continue;
    if (key === 'enrichment') {
      hasEnrichment = true;
      into = tail;
    } else if (key === 'state') into.state = stateOf(alert);
    else if (key === 'silencedBy') {
      into.silencedBy = alert.silencedBy ?? [];
      silenced = true;
    } else if (key === 'inhibitedBy') {
      into.inhibitedBy = alert.inhibitedBy ?? [];
      inhibited = true;
    } else into[key] = alert[key as keyof Alert];
  }
  if (!('state' in head || 'state' in tail)) tail.state = stateOf(alert);
  if (!silenced) tail.silencedBy = [];
  if (!inhibited) tail.inhibitedBy = [];
  const { raw: _raw, ...event } = alert.event;
  tail.event = event;
  const before = JSON.stringify(head);
  const enrichment = hasEnrichment ? enrichmentJson(alert.enrichment) : undefined;
  const after = JSON.stringify(tail);
  let out = before.length > 2 ? `${before.slice(0, -1)},` : '{';
  if (enrichment !== undefined) out += `"enrichment":${enrichment},`;
  return out + after.slice(1);
}

const partJson = new WeakMap<object, string>();

function enrichmentJson(enrichment: Enrichment | undefined): string | undefined {
  if (enrichment === null || typeof enrichment !== 'object' || Array.isArray(enrichment)) return JSON.stringify(enrichment);
  let out = '';
  for (const key in enrichment) {
    const part = enrichment[key as keyof Enrichment] as unknown;
    let json: string | undefined;
    if (part !== null && typeof part === 'object') {
      json = partJson.get(part);
      if (json === undefined) partJson.set(part, (json = JSON.stringify(part)));
    } else json = JSON.stringify(part);
    if (json !== undefined) out += `${out ? ',' : ''}${JSON.stringify(key)}:${json}`;
  }
  return `{${out}}`;
}
