import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import express, { Router, type Response } from 'express';
import { NotFoundError } from '../core/errors';

/** The package's own build output: `npm run build` writes the console there. */
export const DEFAULT_UI_DIR = resolve(__dirname, '..', '..', 'dist', 'ui');

/** On every `/ui` response: no script but the bundle's own, no framing, nothing sniffed, no referrer. */
export const UI_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
});

const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * `/ui`: the built single-page app. Hashed files under `/ui/assets/` are cached for a year; the
 * index is revalidated on every load (it names the current hashes); any other path under `/ui` that
 * is not a file is the app's own route, so it gets the index. Without a build, a 503 says how to
 * make one. `/ui/session` is the API's, mounted before this.
 */
export function uiRoutes(dir: string): Router {
  const router = Router();
  const index = join(dir, 'index.html');
  router.use('/ui', (_req, res, next) => {
    res.set(UI_HEADERS);
    next();
  });
  router.use('/ui', (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (!existsSync(index)) {
      res
        .status(503)
        .type('text/plain')
        .send('The console is not built: run `npm run build` (it writes dist/ui), then reload.\n');
      return;
    }
    next();
  });
  router.use(
    '/ui/assets',
    express.static(join(dir, 'assets'), {
      index: false,
      redirect: false,
      dotfiles: 'ignore',
      setHeaders: (res: Response) => res.setHeader('cache-control', IMMUTABLE),
    }),
  );
  router.use('/ui/assets', (_req, _res, next) => next(new NotFoundError('asset')));
  router.use(
    '/ui',
    express.static(dir, {
      index: false,
      redirect: false,
      dotfiles: 'ignore',
      setHeaders: (res: Response) => res.setHeader('cache-control', 'no-cache'),
    }),
  );
  router.get(['/ui', '/ui/*rest'], (_req, res, next) => {
    res.setHeader('cache-control', 'no-cache');
    res.sendFile(index, { dotfiles: 'deny' }, (err) => err && next(err));
  });
  return router;
}
