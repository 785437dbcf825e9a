import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { FalconerError } from '../../core/errors';
import { isRecord } from './slim';

/** A failed API request, with the HTTP status (and the Status object's code when there was one). */
export class KubeApiError extends FalconerError {
  constructor(
    message: string,
    readonly statusCode: number,
  ) {
    super('kube_api', message, 502);
  }
}

export interface ListResult {
  resourceVersion: string;
  items: unknown[];
}

export interface ListOptions {
  /** Items per page (`limit`); each page is parsed on its own, so a big cluster never arrives as one blob. */
  pageSize: number;
  signal?: AbortSignal;
  /** How often an expired continue token may restart the list from the beginning. */
  maxRestarts?: number;
  /** Applied to each item as its page arrives (undefined drops it), so a big list is never held whole. */
  mapItem?: (item: unknown) => unknown;
}

/**
 * Lists a whole collection page by page, the way client-go's pager does: every page of one list is served
 * from the same snapshot, and the first page's resourceVersion is where the watch starts. When the
 * snapshot expires between pages (410 on a continue token), the list starts over.
 */
export async function listAll(kc: KubeConfig, path: string, options: ListOptions): Promise<ListResult> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeApiError('no current cluster', 0);
  // One set of credentials and one agent per list: pages reuse its connection.
  const init = await kc.applyToFetchOptions({});
  const headers: Record<string, string> = {};
  new Headers(init.headers as unknown as ConstructorParameters<typeof Headers>[0]).forEach(
    (value, key) => (headers[key] = value),
  );
  headers.accept = 'application/json';
  const agent = init.agent as http.Agent | undefined;

  for (let restarts = 0; ; restarts++) {
    const items: unknown[] = [];
    let resourceVersion: string | undefined;
    let token: string | undefined;
    try {
      do {
        const url = new URL(cluster.server + path);
        url.searchParams.set('limit', String(options.pageSize));
        if (token) url.searchParams.set('continue', token);
        const page = await getJson(url, headers, agent, options.signal);
        const meta = isRecord(page.metadata) ? page.metadata : {};
        resourceVersion ??= typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '';
        if (Array.isArray(page.items)) {
          for (const item of page.items) {
            const mapped = options.mapItem ? options.mapItem(item) : item;
            if (mapped !== undefined) items.push(mapped);
          }
        }
        token = typeof meta.continue === 'string' && meta.continue !== '' ? meta.continue : undefined;
      } while (token);
      return { resourceVersion: resourceVersion ?? '', items };
    } catch (err) {
      const expired = err instanceof KubeApiError && err.statusCode === 410 && token !== undefined;
      if (!expired || restarts >= (options.maxRestarts ?? 3)) throw err;
    }
  }
}

/** One GET of a JSON object (discovery documents); a KubeApiError carries the HTTP status. */
export async function getObject(kc: KubeConfig, path: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeApiError('no current cluster', 0);
  const init = await kc.applyToFetchOptions({});
  const headers: Record<string, string> = {};
  new Headers(init.headers as unknown as ConstructorParameters<typeof Headers>[0]).forEach(
    (value, key) => (headers[key] = value),
  );
  headers.accept = 'application/json';
  return getJson(new URL(cluster.server + path), headers, init.agent as http.Agent | undefined, signal);
}

function getJson(
  url: URL,
  headers: Record<string, string>,
  agent: http.Agent | undefined,
  signal: AbortSignal | undefined,
): Promise<Record<string, unknown>> {
  const request = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', headers, ...(agent ? { agent } : {}), ...(signal ? { signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        if (status !== 200) {
          const message = isRecord(body) && typeof body.message === 'string' ? body.message : text.slice(0, 200);
          reject(new KubeApiError(`GET ${url.pathname}: ${status} ${message}`, status));
        } else if (!isRecord(body)) {
          reject(new KubeApiError(`GET ${url.pathname}: response is not a JSON object`, status));
        } else resolve(body);
      });
    });
    req.on('error', reject);
    req.end();
  });
}
