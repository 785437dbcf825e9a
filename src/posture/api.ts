import type { Express, Request } from 'express';
import { FalconerError } from '../core/errors';
import type { ClusterState } from '../enrich/cluster-state/state';
import { AREAS, type Area } from './finding';
import { Connectivity } from './network';
import type { ServedReport } from './service';

/** What the HTTP surface needs from posture. */
export interface PostureApi {
  report(cluster?: string): ServedReport | undefined;
  state(cluster?: string): ClusterState | undefined;
}

const MAX_NAME = 253;

/**
 * `GET /v1/posture[/rbac|/pss|/network][?cluster=NAME]` (scope `read`, checked in front of every route): the cached report (rebuilt on a state change at
 * most once per `posture.minRebuildSeconds`; `stale: true` says the state moved on since). And
 * `GET /v1/posture/network/peers?namespace=NS&pod=POD`: who may talk to one pod.
 */
export function postureRoutes(app: Express, posture: PostureApi | undefined): void {
  const served = (req: Request): ServedReport => {
    if (!posture) throw new FalconerError('not_found', 'posture is not enabled (posture.enabled and enrichment.enabled)', 404);
    const cluster = queryString(req, 'cluster');
    const result = posture.report(cluster);
    if (!result)
      throw new FalconerError('not_found', `no cluster state for cluster ${JSON.stringify(cluster ?? 'default')}`, 404);
    return result;
  };

  app.get('/v1/posture', (req, res, next) => {
    try {
      const { report, stale } = served(req);
      res.json({ ...report, stale });
    } catch (err) {
      next(err);
    }
  });

  app.get('/v1/posture/network/peers', (req, res, next) => {
    try {
      if (!posture) throw new FalconerError('not_found', 'posture is not enabled', 404);
      const namespace = queryString(req, 'namespace');
      const pod = queryString(req, 'pod');
      if (!namespace || !pod) throw new FalconerError('bad_request', 'namespace and pod query parameters are required', 400);
      const cluster = queryString(req, 'cluster');
      const state = posture.state(cluster);
      if (!state)
        throw new FalconerError('not_found', `no cluster state for cluster ${JSON.stringify(cluster ?? 'default')}`, 404);
      const peers = new Connectivity(state).podPeers(namespace, pod);
      if (!peers) throw new FalconerError('not_found', `pod ${namespace}/${pod} is not in the cluster state`, 404);
      res.json(peers);
    } catch (err) {
      next(err);
    }
  });

  app.get('/v1/posture/:area', (req, res, next) => {
    try {
      const area = String(req.params.area);
      if (!(AREAS as readonly string[]).includes(area)) {
        throw new FalconerError(
          'bad_request',
          `unknown posture area ${JSON.stringify(area.slice(0, 40))}: rbac, pss or network`,
          400,
        );
      }
      const { report, stale } = served(req);
      const a = area as Area;
      res.json({
        schemaVersion: report.schemaVersion,
        cluster: report.cluster,
        generatedAt: report.generatedAt,
        stale,
        score: report.summary.scores[a],
        [a]: report[a],
      });
    } catch (err) {
      next(err);
    }
  });
}

function queryString(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '' || v.length > MAX_NAME) {
    throw new FalconerError('bad_request', `${name} must be one non-empty value of at most ${MAX_NAME} characters`, 400);
  }
  return v;
}
