import type { Scope } from '../ingest/auth';

/**
 * Endpoints anyone may call: Prometheus and the kubelet's probes carry no token; Slack cannot send
 * one, so its interactivity requests are authenticated by Slack's signature instead.
 */
const PUBLIC = new Set(['/metrics', '/healthz', '/readyz', '/v1/slack/interactivity']);
const INGEST = new Set(['/v1/events/falco', '/v1/events/audit']);

/**
 * The scope a request needs, from its method and raw path alone, before any routing or decoding (so
 * a malformed URL is judged only after the caller is known). Deny by default: every path but the
 * public ones needs a token. Ingest needs `ingest`; reading (GET, HEAD) needs `read`; anything that
 * changes state (replaying dead letters, and later silences and the console's writes) needs `admin`.
 * Express routes match case-insensitively, so the path is compared lowercased.
 */
export function requiredScope(method: string | undefined, rawUrl: string | undefined): Scope | undefined {
  const url = rawUrl ?? '';
  const q = url.indexOf('?');
  const path = (q === -1 ? url : url.slice(0, q)).toLowerCase();
  if (PUBLIC.has(path)) return undefined;
  if (method === 'POST' && INGEST.has(path.endsWith('/') ? path.slice(0, -1) : path)) return 'ingest';
  if (method === 'GET' || method === 'HEAD') return 'read';
  return 'admin';
}
