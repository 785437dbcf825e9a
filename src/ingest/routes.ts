import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventBus } from '../bus/port';
import type { SecurityEvent } from '../core/event';
import { BatchTooLargeError, FalconerError, InvalidEventError, UnavailableError, toHttpError } from '../core/errors';
import type { Metrics } from '../observability/metrics';
import { parseJsonWithFacts } from './json';
import { bodyEncoding, closeIfUnread, readBody, requireJson } from './body';
import { normaliseFalco } from './falco';
import { normaliseAudit, splitAuditPayload } from './audit';
import type { NormaliseContext } from './normalise';
import { parseIngestPath } from './path';
import type { Authenticate } from './auth';
import type { RetryClaims } from './claims';

export interface IngestOptions {
  cluster: string;
  falcoBodyLimitBytes: number;
  auditBodyLimitBytes: number;
  maxJsonDepth: number;
  maxFieldLength: number;
}

export interface IngestDeps {
  bus: EventBus;
  authenticate: Authenticate;
  claims: RetryClaims;
  metrics: Metrics;
  now?: () => number;
}

export type IngestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const CLUSTER_NAME = /^[A-Za-z0-9]([-A-Za-z0-9._]{0,61}[A-Za-z0-9])?$/;

/**
 * The two ingest endpoints as plain node handlers: authenticate, bound the body, parse, validate,
 * normalise, drop what was already received, hand the rest to the bus, answer with what happened to
 * each event. Authentication comes before anything that reads or judges the input. Nothing slow
 * happens before the answer, and every failure is answered with the status the error catalogue
 * gives it.
 */
export function ingestHandlers(
  { bus, authenticate, claims, metrics, now = Date.now }: IngestDeps,
  options: IngestOptions,
): { falco: IngestHandler; audit: IngestHandler } {
  // The label sets counted on every request, bound once (metrics.ts: a labelled `inc` costs more).
  const counted = {
    falcoAccepted: metrics.eventsReceived.child({ source: 'falco', outcome: 'accepted' }),
    falcoDuplicate: metrics.eventsReceived.child({ source: 'falco', outcome: 'duplicate' }),
    falcoRetried: metrics.eventsDuplicate.child({ source: 'falco' }),
    falcoAnswered: metrics.ingestRequests.child({ route: 'falco', status: 202 }),
    auditAccepted: metrics.eventsReceived.child({ source: 'k8s_audit', outcome: 'accepted' }),
    auditDuplicate: metrics.eventsReceived.child({ source: 'k8s_audit', outcome: 'duplicate' }),
    auditRetried: metrics.eventsDuplicate.child({ source: 'k8s_audit' }),
    auditRejected: metrics.eventsReceived.child({ source: 'k8s_audit', outcome: 'rejected' }),
    auditAnswered: metrics.ingestRequests.child({ route: 'audit', status: 202 }),
  };

  const context = (req: IncomingMessage): NormaliseContext => ({
    cluster: clusterOf(req, options.cluster),
    receivedAt: now(),
    maxFieldLength: options.maxFieldLength,
  });

  /**
   * Publishes the events this request claimed. On failure the claims are released, so the sender's
   * retry is accepted rather than called a duplicate; on success they are confirmed once the answer
   * is on its way (a claim left unconfirmed only means a retry is published again, see claims.ts).
   */
  const publish = async (
    events: SecurityEvent[],
    held: { confirm(): Promise<void>; release(): Promise<void> },
  ): Promise<() => void> => {
    try {
      await bus.publish(events);
    } catch (err) {
      await held.release();
      throw err;
    }
    return () => void held.confirm();
  };

  const falco: IngestHandler = async (req, res) => {
    try {
      authenticate(req, 'ingest');
      requireJson(req);
      const encoding = bodyEncoding(req);
      const ctx = context(req);
      const text = await readBody(req, options.falcoBodyLimitBytes, encoding);
      const { value: body, strings } = parseJsonWithFacts(text, { maxDepth: options.maxJsonDepth });
      ctx.strings = strings;
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        throw new InvalidEventError('body must be one Falco event (a JSON object)');
      }
      const event = normaliseFalco(body, ctx);
      const id = JSON.stringify(event.id);
      const claim = await claims.claim(event);
      if (claim.outcome === 'duplicate') {
        counted.falcoDuplicate.inc();
        counted.falcoRetried.inc(); // event.source is 'falco' for every normalised Falco event
        answer(res, 202, `{"accepted":0,"duplicate":true,"id":${id}}`);
      } else {
        const confirm = await publish([event], claim);
        counted.falcoAccepted.inc();
        answer(res, 202, `{"accepted":1,"id":${id}}`);
        confirm();
      }
      counted.falcoAnswered.inc();
    } catch (err) {
      fail(req, res, err, 'falco', metrics, () => metrics.eventsReceived.inc({ source: 'falco', outcome: 'rejected' }));
    }
  };

  const audit: IngestHandler = async (req, res) => {
    try {
      authenticate(req, 'ingest');
      requireJson(req);
      const encoding = bodyEncoding(req);
      const ctx = context(req);
      const text = await readBody(req, options.auditBodyLimitBytes, encoding);
      const { value: body, strings } = parseJsonWithFacts(text, { maxDepth: options.maxJsonDepth, parseFirst: true });
      ctx.strings = strings;
      const items = splitAuditPayload(body);
      const fresh: { index: number; event: SecurityEvent }[] = [];
      const duplicates: { index: number; id: string }[] = [];
      const skipped: { index: number; auditID?: string; error: string }[] = [];
      // The same id twice in one request is one event (one request: one source, one cluster).
      const inBatch = new Set<string>();
      for (let index = 0; index < items.length; index++) {
        const item = items[index]!;
        let event: SecurityEvent;
        try {
          event = normaliseAudit(item, ctx);
        } catch (err) {
          if (!(err instanceof InvalidEventError)) throw err;
          const auditID =
            item && typeof item === 'object' && !Array.isArray(item) && typeof item.auditID === 'string'
              ? item.auditID
              : undefined;
          skipped.push({ index, auditID, error: err.message });
          continue;
        }
        if (inBatch.has(event.id)) duplicates.push({ index, id: event.id });
        else {
          inBatch.add(event.id);
          fresh.push({ index, event });
        }
      }
      if (fresh.length === 0 && skipped.length > 0) {
        throw new InvalidEventError(`no valid audit event in the batch (${skipped.length} skipped)`, { skipped });
      }
      const capacity = bus.capacity?.();
      if (capacity !== undefined && fresh.length > capacity) throw new BatchTooLargeError(fresh.length, capacity);
      const claim = await claims.claimAll(fresh.map(({ event }) => event));
      const events: SecurityEvent[] = [];
      fresh.forEach(({ index, event }, i) => {
        if (claim.outcomes[i] === 'claimed') events.push(event);
        else duplicates.push({ index, id: event.id });
      });
      const confirm = events.length ? await publish(events, claim) : () => undefined;
      duplicates.sort((a, b) => a.index - b.index);
      counted.auditAccepted.inc(events.length);
      if (duplicates.length) {
        counted.auditDuplicate.inc(duplicates.length);
        counted.auditRetried.inc(duplicates.length);
      }
      if (skipped.length) counted.auditRejected.inc(skipped.length);
      answer(res, 202, JSON.stringify({ accepted: events.length, duplicates, skipped }));
      confirm();
      counted.auditAnswered.inc();
    } catch (err) {
      fail(req, res, err, 'audit', metrics, () => metrics.eventsReceived.inc({ source: 'k8s_audit', outcome: 'rejected' }));
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
  if (url === '/v1/events/falco' || url === '/v1/events/audit') return fallback; // the common case, without the regex
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

function fail(
  req: IncomingMessage,
  res: ServerResponse,
  err: unknown,
  route: string,
  metrics: Metrics,
  countRejected: () => void,
): void {
  const e = toHttpError(err);
  const headers: Record<string, string> = {};
  if (e instanceof UnavailableError) headers['retry-after'] = String(e.retryAfterSeconds);
  closeIfUnread(req, res);
  if (e.status < 500) countRejected();
  if (!res.headersSent) answer(res, e.status, errorBody(e), headers);
  metrics.ingestRequests.inc({ route, status: e.status });
  if (e.status === 500) throw err; // a bug, not bad input: let the app's error handler log it
}
