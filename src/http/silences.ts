import { Router, type Request, type Response, type NextFunction } from 'express';
import { readBody, requireJson } from '../ingest/body';
import { parseJson } from '../ingest/json';
import type { SilenceInput, SilenceStore } from '../alert/silence';
import { InvalidSilenceError } from '../alert/silence';

const BODY_LIMIT = 64 * 1024;

/**
 * `/v1/silences`: list (GET), create (POST, Alertmanager's postable silence; answers `{silenceID}`),
 * read one (GET /:id) and expire (DELETE /:id). The app's scope check runs first: reading needs the
 * `read` scope, creating and expiring `admin`.
 */
export function silenceRoutes(silences: SilenceStore): Router {
  const router = Router();
  const wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) => {
    fn(req, res).catch(next);
  };
  router.get(
    '/v1/silences',
    wrap(async (_req, res) => {
      res.json({ silences: await silences.list() });
    }),
  );
  router.get(
    '/v1/silences/:id',
    wrap(async (req, res) => {
      res.json(await silences.get(String(req.params.id)));
    }),
  );
  router.post(
    '/v1/silences',
    wrap(async (req, res) => {
      requireJson(req);
      const body = parseJson(await readBody(req, BODY_LIMIT), { maxDepth: 8 });
      if (!body || typeof body !== 'object' || Array.isArray(body))
        throw new InvalidSilenceError('the body must be a silence object');
      const silence = await silences.create(body as unknown as SilenceInput);
      res.status(200).json({ silenceID: silence.id });
    }),
  );
  router.delete(
    '/v1/silences/:id',
    wrap(async (req, res) => {
      await silences.expire(String(req.params.id));
      res.status(200).json({ expired: String(req.params.id) });
    }),
  );
  return router;
}
