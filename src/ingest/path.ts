/**
 * The ingest URLs: `/v1/events/falco` and `/v1/events/audit`, each optionally followed by one path
 * segment naming the cluster (`/v1/events/audit/prod-eu-1`). The path form exists because the
 * kube-apiserver's webhook client drops the query string of its kubeconfig's `server:` URL, so a
 * `?cluster=` there never arrives; the query form is still honoured for callers that send it.
 */
export interface IngestPath {
  route: 'falco' | 'audit';
  /** The raw cluster segment, unvalidated (the handler answers 400 for a malformed one). */
  cluster?: string;
}

// Case-insensitive, as express matches routes; the cluster name keeps its case.
const INGEST_PATH = /^\/v1\/events\/(falco|audit)(?:\/([^/]+))?\/?$/i;

export function parseIngestPath(url: string): IngestPath | undefined {
  const q = url.indexOf('?');
  const m = INGEST_PATH.exec(q === -1 ? url : url.slice(0, q));
  if (!m) return undefined;
  const route = m[1]!.toLowerCase() as IngestPath['route'];
  return m[2] === undefined ? { route } : { route, cluster: m[2] };
}
