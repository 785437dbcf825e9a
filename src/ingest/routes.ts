import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventBus } from '../bus/port';
import type { SecurityEvent } from '../core/event';
import { FalconerError, InvalidEventError, UnavailableError } from '../core/errors';
import type { Metrics } from '../observability/metrics';
import { parseJson } from './json';
import { readBody, requireJson } from './body';
import { normaliseFalco } from './falco';
import { normaliseAudit, splitAuditPayload } from './audit';
import type { NormaliseContext } from './normalise';
import { parseIngestPath } from './path';

export interface IngestOptions {
  cluster: string;
  falcoBodyLimitBytes: number;
  auditBodyLimitBytes: number;
  maxJsonDepth: number;
  maxFieldLength: number;
}

export type IngestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const CLUSTER_NAME = /^[A-Za-z0-9]([-A-Za-z0-9._]{0,61}[A-Za-z0-9])?$/;

/**
 * The two ingest endpoints as plain node handlers: authenticate, bound the body, parse, validate,
 * normalise, hand to the bus, answer. Nothing slow happens before the answer, and every failure is
 * answered with the status the error catalogue gives it.
 */
export function ingestHandlers(
  bus: EventBus,
  authenticate: (req: IncomingMessage) => void,
  metrics: Metrics,
  options: IngestOptions,
  now: () => number = Date.now,
): { falco: IngestHandler; audit: IngestHandler } {
  const context = (req: IncomingMessage): NormaliseContext => ({
    cluster: clusterOf(req, options.cluster),
    receivedAt: now(),
    maxFieldLength: options.maxFieldLength,
  });

  const falco: IngestHandler = async (req, res) => {
    try {
      authenticate(req);
      requireJson(req);
      const ctx = context(req);
      const body = parseJson(await readBody(req, options.falcoBodyLimitBytes), { maxDepth: options.maxJsonDepth });
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        throw new InvalidEventError('body must be one Falco event (a JSON object)');
      }
      const event = normaliseFalco(body, ctx);
      await bus.publish([event]);
      metrics.eventsReceived.inc({ source: 'falco', outcome: 'accepted' });
      answer(res, 202, `{"accepted":1,"id":${JSON.stringify(event.id)}}`);
      metrics.ingestRequests.inc({ route: 'falco', status: 202 });
    } catch (err) {
      fail(res, err, 'falco', metrics, () => metrics.eventsReceived.inc({ source: 'falco', outcome: 'rejected' }));
    }
  };

  const audit: IngestHandler = async (req, res) => {
    try {
      authenticate(req);
      requireJson(req);
      const ctx = context(req);
      const body = parseJson(await readBody(req, options.auditBodyLimitBytes), { maxDepth: options.maxJsonDepth });
      const items = splitAuditPayload(body);
      const events: SecurityEvent[] = [];
      const skipped: { index: number; auditID?: string; error: string }[] = [];
      items.forEach((item, index) => {
        try {
          events.push(normaliseAudit(item, ctx));
        } catch (err) {
          if (!(err instanceof InvalidEventError)) throw err;
          const auditID =
            item && typeof item === 'object' && !Array.isArray(item) && typeof item.auditID === 'string'
              ? item.auditID
              : undefined;
          skipped.push({ index, auditID, error: err.message });
        }
      });
      if (events.length === 0 && skipped.length > 0) {
        throw new InvalidEventError(`no valid audit event in the batch (${skipped.length} skipped)`, { skipped });
      }
      if (events.length) await bus.publish(events);
      metrics.eventsReceived.inc({ source: 'k8s_audit', outcome: 'accepted' }, events.length);
      if (skipped.length) metrics.eventsReceived.inc({ source: 'k8s_audit', outcome: 'rejected' }, skipped.length);
      answer(res, 202, JSON.stringify({ accepted: events.length, skipped }));
      metrics.ingestRequests.inc({ route: 'audit', status: 202 });
    } catch (err) {
      fail(res, err, 'audit', metrics, () => metrics.eventsReceived.inc({ source: 'k8s_audit', outcome: 'rejected' }));
    }
  };

  return { falco, audit };
}

/**
 * The cluster an ingest call is for: `/v1/events/<route>/NAME` (what the apiserver's webhook can send),
 * else `?cluster=NAME`, else the configured default. One webhook kubeconfig per cluster.
 */
function clusterOf(req: IncomingMessage, fallback: string): string {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const name = parseIngestPath(url)?.cluster ?? (q === -1 ? null : new URLSearchParams(url.slice(q + 1)).get('cluster'));
  if (name === null || name === undefined) return fallback;
  if (!CLUSTER_NAME.test(name)) throw new InvalidEventError('the cluster name in the ingest URL must be a DNS-label-like name');
  return name;
}

function answer(res: ServerResponse, status: number, body: string, extraHeaders?: Record<string, string>): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...extraHeaders,
  });
  res.end(body);
}

export function errorBody(err: FalconerError): string {
  return JSON.stringify({
    error: err.code,
    message: err.message,
    ...(err.details !== undefined ? { details: err.details } : {}),
  });
}

function fail(res: ServerResponse, err: unknown, route: string, metrics: Metrics, countRejected: () => void): void {
  const e = err instanceof FalconerError ? err : new FalconerError('internal', 'internal error', 500);
  const headers: Record<string, string> = {};
  if (e instanceof UnavailableError) headers['retry-after'] = String(e.retryAfterSeconds);
  if (e.status === 413) headers.connection = 'close';
  if (e.status < 500) countRejected();
  if (!res.headersSent) answer(res, e.status, errorBody(e), headers);
  metrics.ingestRequests.inc({ route, status: e.status });
  if (e.status === 500) throw err; // a bug, not bad input: let the app's error handler log it
}
