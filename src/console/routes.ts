import { Router, type NextFunction, type Request, type Response } from 'express';
import { BadRequestError, CsrfError, NotFoundError, UnauthorizedError, UnavailableError } from '../core/errors';
import type { Authenticate } from '../ingest/auth';
import { readBody, requireJson } from '../ingest/body';
import { parseJson } from '../ingest/json';
import { fromApiMatcher, MatcherError, type Matcher } from '../alert/matcher';
import { InvalidSilenceError } from '../alert/silence';
import type { RecentAlerts } from '../alert/recent';
import { alertView } from '../alert/view';
import type { PostureApi } from '../posture/api';
import { networkGraph } from './graph';
import { alertStats, listAlerts, parseFilter, parseLimit, parseTime, previewSilence } from './query';
import type { ConsoleService } from './service';
import type { AlertRow } from './row';
import { authenticateToken, csrfMatches, sessionCookie, SESSION_COOKIE, type Session } from './session';

const BODY_LIMIT = 16 * 1024;
const MAX_BUCKETS = 500;
const DAY_MS = 86_400_000;

export interface ConsoleRouteDeps {
  console: ConsoleService;
  authenticate: Authenticate;
  recent: RecentAlerts;
  posture?: PostureApi;
  now: () => number;
}

type Handler = (req: Request, res: Response) => Promise<void> | void;
const wrap = (fn: Handler) => (req: Request, res: Response, next: NextFunction) => {
  try {
    Promise.resolve(fn(req, res)).catch(next);
  } catch (err) {
    next(err);
  }
};

/**
 * The console's API: `/ui/session` (sign in, who am I, sign out) and `/v1/console/*` (alert list,
 * detail, stats, live stream, silence preview) plus the namespace network graph. The app's
 * authentication runs first for everything but `/ui/session` (which checks its own cookie).
 */
export function consoleRoutes(deps: ConsoleRouteDeps): Router {
  const router = Router();
  const { history, sessions, hub } = deps.console;

  router.use(['/v1/console', '/ui/session'], (_req, res, next) => {
    res.setHeader('x-content-type-options', 'nosniff');
    next();
  });

  // The reconciler resolves only the alerts the recent alerts still hold; one the history outlived
  // them with is resolved by the same rule here, when its quiet period is over.
  const present = <T extends { items: AlertRow[] }>(page: T): T => {
    const now = deps.now();
    const resolveAfter = deps.console.options.resolveAfterMs;
    for (const [i, row] of page.items.entries()) {
      if (row.status !== 'firing' || now - Date.parse(row.lastSeen) < resolveAfter || deps.recent.get(row.fingerprint)) continue;
      page.items[i] = { ...row, status: 'resolved' };
    }
    return page;
  };

  const sessionBody = (s: Pick<Session, 'name' | 'scopes' | 'csrf'>) => ({ name: s.name, scopes: s.scopes, csrf: s.csrf });
  const cookie = (id: string, maxAgeMs?: number) =>
    [
      `${SESSION_COOKIE}=${id}`,
      'Path=/',
      'HttpOnly',
      'SameSite=Strict',
      ...(deps.console.options.secureCookies ? ['Secure'] : []),
      ...(maxAgeMs === undefined ? [] : [`Max-Age=${Math.floor(maxAgeMs / 1000)}`]),
    ].join('; ');

  router.post(
    '/ui/session',
    wrap(async (req, res) => {
      requireJson(req);
      const body = parseJson(await readBody(req, BODY_LIMIT), { maxDepth: 4 });
      const token = body && typeof body === 'object' && !Array.isArray(body) ? body.token : undefined;
      if (typeof token !== 'string' || token.trim() === '' || token.length > 4096)
        throw new UnauthorizedError('sign in with a token: {"token": "..."}');
      const principal = authenticateToken(deps.authenticate, req, token.trim(), 'read');
      const { id, session } = await sessions.create(principal, token.trim());
      deps.console.sessionsChanged();
      res.setHeader('set-cookie', cookie(id));
      res.setHeader('cache-control', 'no-store');
      res.json(sessionBody(session));
    }),
  );
  router.get(
    '/ui/session',
    wrap(async (req, res) => {
      const id = sessionCookie(req);
      const session = id === undefined ? undefined : await sessions.lookup(id);
      if (!session) throw new UnauthorizedError('no console session: sign in');
      res.setHeader('cache-control', 'no-store');
      res.json(sessionBody(session));
    }),
  );
  router.delete(
    '/ui/session',
    wrap(async (req, res) => {
      const id = sessionCookie(req);
      const session = id === undefined ? undefined : await sessions.lookup(id);
      if (!session) throw new UnauthorizedError('no console session: sign in');
      if (!csrfMatches(req, session)) throw new CsrfError();
      await sessions.delete(id!);
      deps.console.sessionsChanged();
      res.setHeader('set-cookie', cookie('', 0));
      res.status(204).end();
    }),
  );

  router.get(
    '/v1/console/alerts',
    wrap(async (req, res) => {
      const filter = parseFilter(req.query);
      const limit = parseLimit(req.query);
      const cursor = typeof req.query.cursor === 'string' && req.query.cursor !== '' ? req.query.cursor : undefined;
      if (req.query.cursor !== undefined && typeof req.query.cursor !== 'string')
        throw new BadRequestError('cursor must be given once');
      res.json(present(await listAlerts(history, filter, limit, cursor)));
    }),
  );
  router.get(
    '/v1/console/alerts/:fingerprint',
    wrap(async (req, res) => {
      const fp = String(req.params.fingerprint);
      if (fp.length > 128) throw new NotFoundError('alert');
      const entry = await history.get(fp);
      const live = deps.recent.get(fp);
      if (!entry && !live) throw new NotFoundError('alert');
      const alert = live ? alertView(live) : (JSON.parse(entry!.detail) as ReturnType<typeof alertView>);
      res.json({
        alert,
        evidence: (entry?.evidence ?? []).map((e) => JSON.parse(e) as unknown),
        incidentId: alert.incident?.id ?? null,
      });
    }),
  );
  router.get(
    '/v1/console/stats',
    wrap(async (req, res) => {
      const until = parseTime(req.query, 'until') ?? deps.now();
      const since = parseTime(req.query, 'since') ?? until - DAY_MS;
      if (since >= until) throw new BadRequestError('since must be before until');
      const raw = req.query.buckets;
      const buckets = raw === undefined || raw === '' ? 48 : Number(raw);
      if (!Number.isInteger(buckets) || buckets < 1 || buckets > MAX_BUCKETS)
        throw new BadRequestError(`buckets must be an integer from 1 to ${MAX_BUCKETS}`);
      res.json(await alertStats(history, since, until, buckets));
    }),
  );
  router.get(
    '/v1/console/stream',
    wrap((req, res) => {
      const filter = parseFilter(req.query);
      if (!hub.subscribe(res, filter)) throw new UnavailableError('too many live-stream connections; try again later', 10);
    }),
  );
  router.post(
    '/v1/console/silences/preview',
    wrap(async (req, res) => {
      requireJson(req);
      const body = parseJson(await readBody(req, BODY_LIMIT), { maxDepth: 6 });
      const raw = body && typeof body === 'object' && !Array.isArray(body) ? body.matchers : undefined;
      if (!Array.isArray(raw) || raw.length === 0) throw new InvalidSilenceError('at least one matcher is required');
      if (raw.length > 64) throw new InvalidSilenceError('at most 64 matchers');
      const matchers: Matcher[] = raw.map((m) => {
        const o = (m && typeof m === 'object' && !Array.isArray(m) ? m : {}) as Record<string, unknown>;
        if (typeof o.name !== 'string' || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(o.name))
          throw new InvalidSilenceError(`invalid matcher name ${JSON.stringify(o.name ?? null)}`);
        if (typeof o.value !== 'string') throw new InvalidSilenceError(`matcher ${o.name}: value must be a string`);
        try {
          return fromApiMatcher({ name: o.name, value: o.value, isRegex: o.isRegex === true, isEqual: o.isEqual !== false });
        } catch (err) {
          if (err instanceof MatcherError) throw new InvalidSilenceError(err.message);
          throw err;
        }
      });
      res.json(present(await previewSilence(history, matchers)));
    }),
  );
  router.get(
    '/v1/posture/network/graph',
    wrap((req, res) => {
      if (!deps.posture) throw new NotFoundError('posture (posture.enabled and enrichment.enabled are needed)');
      const namespace = typeof req.query.namespace === 'string' ? req.query.namespace : '';
      if (!namespace || namespace.length > 253)
        throw new BadRequestError('namespace is required (one value, at most 253 characters)');
      const cluster = typeof req.query.cluster === 'string' && req.query.cluster !== '' ? req.query.cluster : undefined;
      const state = deps.posture.state(cluster);
      if (!state) throw new NotFoundError(`cluster state for cluster ${JSON.stringify(cluster ?? 'default')}`);
      res.json(networkGraph(state, namespace));
    }),
  );
  return router;
}
