import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** One request as the server saw it, body as raw text (so signatures can be checked over the exact bytes). */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** For HTTPS with client certificates: the client certificate's subject CN, if one was presented and trusted. */
  clientCn?: string;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/**
 * A local HTTP(S) server for receiver tests: records every request and answers as scripted (then
 * with `respond`). Subclasses answer like a particular service.
 */
export class HttpRecorder {
  readonly requests: RecordedRequest[] = [];
  private readonly script: Answer[] = [];
  private server?: Server;

  constructor(private readonly tls?: ServerOptions) {}

  /** Queues answers for the next requests. */
  next(...answers: Answer[]): void {
    this.script.push(...answers);
  }

  protected respond(_req: RecordedRequest): Answer {
    return { status: 200, body: { ok: true } };
  }

  async start(path = '/'): Promise<string> {
    const handler = async (req: IncomingMessage, res: ServerResponse) => {
      const body = await readAll(req);
      const socket = req.socket as TLSSocket;
      const cert = this.tls && socket.authorized ? socket.getPeerCertificate() : undefined;
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        ...(cert?.subject?.CN ? { clientCn: String(cert.subject.CN) } : {}),
      };
      this.requests.push(recorded);
      const answer = this.script.shift() ?? this.respond(recorded);
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
    };
    this.server = this.tls ? createHttpsServer(this.tls, handler) : createServer(handler);
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const port = (this.server.address() as AddressInfo).port;
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${port}${path}`;
  }

  json<T = Record<string, unknown>>(): T[] {
    return this.requests.map((r) => JSON.parse(r.body) as T);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

/**
 * A PagerDuty Events API v2–compatible server: checks the fields PagerDuty requires and answers as
 * it does (202 with the dedup_key, 400 with `errors`), and keeps open incidents by dedup_key so a
 * test can see what a real account would show.
 */
export class FakePagerDuty extends HttpRecorder {
  /** dedup_key → open (trigger) or resolved. */
  readonly incidents = new Map<string, { status: 'triggered' | 'resolved'; triggers: number; summary: string }>();

  protected override respond(req: RecordedRequest): Answer {
    if (req.path !== '/v2/enqueue') return { status: 404, body: { status: 'invalid path' } };
    if (Buffer.byteLength(req.body) > 512 * 1024) return { status: 413, body: { status: 'payload too large' } };
    let event: Record<string, any>;
    try {
      event = JSON.parse(req.body);
    } catch {
      return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors: ['invalid JSON'] } };
    }
    const errors: string[] = [];
    if (typeof event.routing_key !== 'string' || event.routing_key.length !== 32) errors.push("'routing_key' is invalid");
    if (!['trigger', 'acknowledge', 'resolve'].includes(event.event_action)) errors.push("'event_action' is invalid");
    if (event.dedup_key !== undefined && (typeof event.dedup_key !== 'string' || event.dedup_key.length > 255))
      errors.push("'dedup_key' is invalid");
    if (event.event_action === 'trigger') {
      const p = event.payload ?? {};
      if (typeof p.summary !== 'string' || p.summary === '' || [...p.summary].length > 1024)
        errors.push("'payload.summary' is invalid");
      if (typeof p.source !== 'string' || p.source === '') errors.push("'payload.source' is missing");
      if (!['critical', 'error', 'warning', 'info'].includes(p.severity)) errors.push("'payload.severity' is invalid");
    } else if (typeof event.dedup_key !== 'string') errors.push("'dedup_key' is required for acknowledge and resolve");
    if (errors.length) return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors } };
    const key: string = event.dedup_key ?? `generated-${this.requests.length}`;
    const open = this.incidents.get(key);
    if (event.event_action === 'trigger') {
      if (open && open.status === 'triggered') open.triggers++;
      else this.incidents.set(key, { status: 'triggered', triggers: 1, summary: event.payload.summary });
    } else if (event.event_action === 'resolve' && open) open.status = 'resolved';
    return { status: 202, body: { status: 'success', message: 'Event processed', dedup_key: key } };
  }
}

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
