import type { Scope } from '../ingest/auth';
import { parseIngestPath } from '../ingest/path';

/**
 * Endpoints anyone may call: Prometheus and the kubelet's probes carry no token; Slack cannot send
 * one, so its interactivity requests are authenticated by Slack's signature instead.
 */
const PUBLIC = new Set(['/metrics', '/healthz', '/readyz', '/v1/slack/interactivity']);

/**
 * The scope a request needs, from its method and raw path alone, before any routing or decoding (so
 * a malformed URL is judged only after the caller is known). Deny by default: every path but the
 * public ones needs a token. Ingest needs `ingest`; reading (GET, HEAD) needs `read`; anything that
 * changes state (replaying dead letters, and later silences and the console's writes) needs `admin`.
 * Express routes match case-insensitively, so the path is compared lowercased. `/ui` and below are
 * the console: public static files, and `/ui/session`, which authenticates the token it is given
 * and its own cookie.
 */
export function requiredScope(method: string | undefined, rawUrl: string | undefined): Scope | undefined {
  const url = rawUrl ?? '';
  const q = url.indexOf('?');
  const path = (q === -1 ? url : url.slice(0, q)).toLowerCase();
  if (PUBLIC.has(path)) return undefined;
  // The console's static files, and its sign-in (which checks the token in the body itself).
  if ((path === '/ui' || path.startsWith('/ui/')) && !path.includes('..') && !path.includes('%')) return undefined;
  if (method === 'POST' && parseIngestPath(path)) return 'ingest'; // with or without a cluster segment
  if (method === 'GET' || method === 'HEAD') return 'read';
  return 'admin';
}
