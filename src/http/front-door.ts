import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from '../observability/logger';
import type { IngestHandler } from '../ingest/routes';
import { parseIngestPath } from '../ingest/path';

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
      const path = parseIngestPath(req.url ?? '');
      if (path) return serve(ingest[path.route], req, res);
    }
    app(req, res);
  };
}
