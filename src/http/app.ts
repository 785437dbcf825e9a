import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import { alertView } from '../alert/view';
import { FalconerError, NotFoundError, toHttpError } from '../core/errors';
import type { RecentAlerts } from '../alert/recent';
import type { IncidentTracker } from '../correlate/incidents';
import type { Dispatcher } from '../notify/dispatcher';
import type { Metrics } from '../observability/metrics';
import type { Logger } from '../observability/logger';
import { readiness, type HealthCheck } from '../observability/health';
import { errorBody, type IngestHandler } from '../ingest/routes';
import type { SilenceStore } from '../alert/silence';
import { silenceRoutes } from './silences';
import type { PostureApi } from '../posture/api';
import { postureRoutes } from '../posture/api';
import type { Authenticate } from '../ingest/auth';
import { closeIfUnread } from '../ingest/body';
import { requiredScope } from './scopes';
import type { EventDeadLetters } from '../pipeline/dead-letters';
import { parkedEventHandlers } from './parked-events';
import type { ConsoleService } from '../console/service';
import { consoleRoutes } from '../console/routes';
import { uiRoutes } from '../console/static';

export interface HttpDeps {
  ingest: { falco: IngestHandler; audit: IngestHandler };
  authenticate: Authenticate;
  recent: RecentAlerts;
  incidents?: IncidentTracker;
  dispatcher: Dispatcher;
  /** Events the pipeline parked after repeated failures. */
  parked: EventDeadLetters;
  metrics: Metrics;
  health: HealthCheck[];
  log: Logger;
  /** Current policy and vulnerability state per workload (GET /v1/findings); absent without enrichment. */
  findings?: (limit: number) => unknown;
  silences?: SilenceStore;
  /** Extra routes mounted before the catch-all (e.g. Slack interactivity). */
  extraRoutes?: express.Router[];
  /** Absent when posture (or enrichment) is off: then /v1/posture answers 404. */
  posture?: PostureApi;
  /** The web console (`/ui`, `/ui/session`, `/v1/console/*`); absent when `console.enabled` is false. */
  console?: ConsoleService;
  /** Now, for defaults such as the stats range (the virtual clock in tests). */
  now?: () => number;
}

/** Falconer's HTTP surface: ingest, the query API, metrics and health. */
export function createHttpApp(deps: HttpDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  // Authentication and scope first, from the raw request line: before routing, which decodes
  // parameters and can fail on a malformed URL, and before anything reads the body. With the
  // console, a session cookie stands for its token (never for ingest; writes need the CSRF header).
  app.use((req, _res, next) => {
    try {
      const scope = requiredScope(req.method, req.url);
      const bySession = scope ? deps.console?.sessions.authenticate(req, scope) : undefined;
      if (bySession) return void bySession.then(() => next(), next);
      if (scope) deps.authenticate(req, scope);
      next();
    } catch (err) {
      next(err);
    }
  });

  const route = (h: IngestHandler) => (req: Request, res: Response, next: (err?: unknown) => void) => {
    h(req, res).catch(next);
  };
  app.post(['/v1/events/falco', '/v1/events/falco/:cluster'], route(deps.ingest.falco));
  app.post(['/v1/events/audit', '/v1/events/audit/:cluster'], route(deps.ingest.audit));

  app.get('/v1/alerts', (req, res) => {
    const limit = Math.min(1000, Math.max(1, Number(req.query.limit) || 100));
    res.json({ alerts: deps.recent.list(limit).map(alertView) });
  });
  app.get('/v1/alerts/:fingerprint', (req, res, next) => {
    const alert = deps.recent.get(String(req.params.fingerprint));
    if (!alert) return next(new NotFoundError('alert'));
    res.json(alertView(alert));
  });
  app.get('/v1/incidents', async (req, res, next) => {
    try {
      const limit = Math.min(1000, Math.max(1, Number(req.query.limit) || 100));
      res.json({ incidents: deps.incidents ? await deps.incidents.list(limit) : [] });
    } catch (err) {
      next(err);
    }
  });
  app.get('/v1/incidents/:id', async (req, res, next) => {
    try {
      const id = String(req.params.id);
      const incident = deps.incidents && /^inc-[0-9a-f]{16}$/.test(id) ? await deps.incidents.get(id) : undefined;
      if (!incident) return next(new NotFoundError('incident'));
      res.json(incident);
    } catch (err) {
      next(err);
    }
  });
  app.get('/v1/dead-letters', (_req, res) => {
    res.json({
      deadLetters: deps.dispatcher.deadLetters().map(({ alert, ...letter }) => ({ ...letter, alert: alertView(alert) })),
    });
  });
  app.post('/v1/dead-letters/replay', (_req, res) => {
    res.status(202).json({ requeued: deps.dispatcher.replayDeadLetters() });
  });
  app.get('/v1/findings', (req, res, next) => {
    if (!deps.findings) return next(new NotFoundError('findings (enrichment is off)'));
    const limit = Math.min(10_000, Math.max(1, Number(req.query.limit) || 1000));
    res.json(deps.findings(limit));
  });
  const parked = parkedEventHandlers(deps.parked);
  app.get('/v1/events/dead-letters', parked.list);
  app.post('/v1/events/dead-letters/replay', parked.replay);

  if (deps.console) {
    app.use(
      consoleRoutes({
        console: deps.console,
        authenticate: deps.authenticate,
        recent: deps.recent,
        ...(deps.posture ? { posture: deps.posture } : {}),
        now: deps.now ?? Date.now,
      }),
    );
    app.use(uiRoutes(deps.console.options.uiDir));
  }
  if (deps.silences) app.use(silenceRoutes(deps.silences));
  for (const router of deps.extraRoutes ?? []) app.use(router);
  postureRoutes(app, deps.posture);

  app.get('/metrics', async (_req, res, next) => {
    try {
      res.set('content-type', deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
    } catch (err) {
      next(err);
    }
  });
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/readyz', (_req, res) => {
    const r = readiness(deps.health);
    res.status(r.ok ? 200 : 503).json(r);
  });

  app.use((_req, _res, next) => next(new FalconerError('not_found', 'no such endpoint', 404)));
  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    const e = toHttpError(err);
    if (e.status >= 500) deps.log.error({ err: (err as Error)?.stack ?? String(err) }, 'request failed');
    if (res.headersSent) return void res.end();
    closeIfUnread(req, res);
    res.status(e.status).type('application/json').send(errorBody(e));
  };
  app.use(onError);
  return app;
}
