import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from '../observability/logger';
import type { IngestHandler } from '../ingest/routes';

/**
 * The server's request listener. The two ingest routes are the hot path (one request per Falco event):
 * they are dispatched straight to their handlers, which express would run identically, because
 * express's router costs about a tenth of the CPU of an ingest request (see bench/). Every other
 * request, and ingest with any other method, goes through the express app.
 */
export function frontDoor(
  ingest: { falco: IngestHandler; audit: IngestHandler },
  app: RequestListener,
  log: Logger,
): RequestListener {
  const serve = (handler: IngestHandler, req: IncomingMessage, res: ServerResponse) => {
    handler(req, res).catch((err: unknown) => {
      log.error({ err: (err as Error)?.stack ?? String(err) }, 'ingest request failed');
    });
  };
  return (req, res) => {
    if (req.method === 'POST') {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      if (path === '/v1/events/falco') return serve(ingest.falco, req, res);
      if (path === '/v1/events/audit') return serve(ingest.audit, req, res);
    }
    app(req, res);
  };
}
