import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

/** The collections the fake serves, by the URL path the live source lists and watches. */
const COLLECTIONS: Readonly<Record<string, { kind: string; apiVersion: string }>> = {
  '/api/v1/pods': { kind: 'Pod', apiVersion: 'v1' },
  '/api/v1/namespaces': { kind: 'Namespace', apiVersion: 'v1' },
  '/api/v1/serviceaccounts': { kind: 'ServiceAccount', apiVersion: 'v1' },
  '/apis/rbac.authorization.k8s.io/v1/roles': { kind: 'Role', apiVersion: 'rbac.authorization.k8s.io/v1' },
  '/apis/rbac.authorization.k8s.io/v1/clusterroles': { kind: 'ClusterRole', apiVersion: 'rbac.authorization.k8s.io/v1' },
  '/apis/rbac.authorization.k8s.io/v1/rolebindings': { kind: 'RoleBinding', apiVersion: 'rbac.authorization.k8s.io/v1' },
  '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings': {
    kind: 'ClusterRoleBinding',
    apiVersion: 'rbac.authorization.k8s.io/v1',
  },
  '/apis/networking.k8s.io/v1/networkpolicies': { kind: 'NetworkPolicy', apiVersion: 'networking.k8s.io/v1' },
};

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface KubeObject {
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** One request as the server understood it. */
export interface KubeRequest {
  kind: string;
  watch: boolean;
  resourceVersion?: string;
  limit?: number;
  continue?: string;
}

/** How a watch from a compacted resourceVersion is refused. */
export type GoneStyle = 'error-event' | 'http-410';

interface OpenWatch {
  kind: string;
  res: ServerResponse;
  muted: boolean;
  selector?: FieldSelector;
}

/** `field=value` pairs (all must hold), the only field selectors this server understands. */
type FieldSelector = [string, string][];

/** A custom resource served with its discovery document (as when its CRD is installed). */
export interface CustomResourceDef {
  group: string;
  version: string;
  /** The plural resource name, e.g. `vulnerabilityreports`. */
  resource: string;
  kind: string;
}

interface Snapshot {
  kind: string;
  resourceVersion: number;
  items: KubeObject[];
  offset: number;
}

/**
 * A local Kubernetes API server for the list/watch protocol of the eight kinds ClusterState keeps.
 * Lists page with `limit`/`continue` from a consistent snapshot; `?watch=1` streams newline-delimited
 * events from a resourceVersion (replaying the retained history), and a resourceVersion older than the
 * last `compact()` gets 410 Gone, as an ERROR event (what kube-apiserver does) or as an HTTP 410.
 * Faults: drop every open watch (abruptly or by ending the stream) and mute open watches so changes
 * happen "while the client is away".
 */
export class KubeApiServer {
  readonly token = 'test-token';
  readonly requests: KubeRequest[] = [];
  goneStyle: GoneStyle = 'error-event';
  /** Every watch ends right after its replay, like a proxy that closes streams at once. */
  closeWatchesAtOnce = false;
  /** The next this-many list requests fail with a 500. */
  failLists = 0;
  private server?: Server;
  private revision = 100;
  private compactedAt = 0;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly history: { type: EventType; object: KubeObject; revision: number }[] = [];
  private readonly watches = new Set<OpenWatch>();
  private readonly snapshots = new Map<string, Snapshot>();
  private nextSnapshot = 1;
  private readonly collections: Record<string, { kind: string; apiVersion: string }> = { ...COLLECTIONS };
  private readonly discovery = new Map<string, Record<string, unknown>[]>();

  /** Serves these custom resources (list/watch) and their group's discovery document from now on. */
  serveCustomResources(defs: readonly CustomResourceDef[]): this {
    for (const d of defs) {
      const gv = `/apis/${d.group}/${d.version}`;
      this.collections[`${gv}/${d.resource}`] = { kind: d.kind, apiVersion: `${d.group}/${d.version}` };
      const resources = this.discovery.get(gv) ?? [];
      resources.push({ name: d.resource, kind: d.kind, namespaced: true, verbs: ['get', 'list', 'watch'] });
      this.discovery.set(gv, resources);
    }
    return this;
  }

  /** Serves core v1 Events (list/watch, with `reason=` field selectors). */
  serveEvents(): this {
    this.collections['/api/v1/events'] = { kind: 'Event', apiVersion: 'v1' };
    return this;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    return this;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    if (!address) throw new Error('KubeApiServer not started');
    return `http://127.0.0.1:${address.port}`;
  }

  /** A KubeConfig pointing at this server with its bearer token, built in code. */
  kubeConfig(token = this.token): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'falconer', token }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'falconer' }],
      currentContext: 'fake',
    });
    return kc;
  }

  /** Creates or replaces an object; open watches see ADDED or MODIFIED. Returns its new resourceVersion. */
  apply(object: KubeObject): string {
    const store = this.store(object.kind);
    const key = keyOf(object.metadata.namespace, object.metadata.name);
    const type: EventType = store.has(key) ? 'MODIFIED' : 'ADDED';
    const stored = withRevision(object, ++this.revision);
    store.set(key, stored);
    this.record(type, stored);
    return String(this.revision);
  }

  /** Deletes an object; open watches see DELETED with the deletion's resourceVersion. */
  remove(kind: string, namespace: string | undefined, name: string): void {
    const store = this.store(kind);
    const key = keyOf(namespace, name);
    const existing = store.get(key);
    if (!existing) throw new Error(`no ${kind} ${key}`);
    store.delete(key);
    this.record('DELETED', withRevision(existing, ++this.revision));
  }

  /** Forgets the event history so far: watches from an older resourceVersion get 410 Gone. */
  compact(): void {
    this.compactedAt = this.revision;
    this.history.length = 0;
  }

  /** Open watches stop receiving events (they stay connected); watches opened later are not affected. */
  muteOpenWatches(): void {
    for (const watch of this.watches) watch.muted = true;
  }

  /** Closes every open watch: `abrupt` destroys the socket mid-stream, otherwise the stream ends cleanly. */
  dropWatches(how: 'abrupt' | 'end'): void {
    for (const watch of this.watches) {
      if (how === 'abrupt') watch.res.socket?.destroy();
      else watch.res.end();
    }
    this.watches.clear();
  }

  openWatches(kind?: string): number {
    let n = 0;
    for (const watch of this.watches) if (!kind || watch.kind === kind) n++;
    return n;
  }

  requestsFor(kind: string, type: 'list' | 'watch'): KubeRequest[] {
    return this.requests.filter((r) => r.kind === kind && r.watch === (type === 'watch'));
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.dropWatches('abrupt');
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const collection = this.collections[url.pathname];
    if (req.headers.authorization !== `Bearer ${this.token}`) return sendStatus(res, 401, 'Unauthorized', 'Unauthorized');
    const discovered = this.discovery.get(url.pathname);
    if (req.method === 'GET' && discovered) {
      const groupVersion = url.pathname.slice('/apis/'.length);
      return sendJson(res, 200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources: discovered });
    }
    if (req.method !== 'GET' || !collection) return sendStatus(res, 404, 'NotFound', `no route ${url.pathname}`);
    const watch = ['1', 'true'].includes(url.searchParams.get('watch') ?? '');
    const limit = Number(url.searchParams.get('limit') ?? '0');
    const cont = url.searchParams.get('continue') ?? undefined;
    const rv = url.searchParams.get('resourceVersion') ?? undefined;
    this.requests.push({
      kind: collection.kind,
      watch,
      ...(rv !== undefined ? { resourceVersion: rv } : {}),
      ...(limit > 0 ? { limit } : {}),
      ...(cont ? { continue: cont } : {}),
    });
    if (!watch && this.failLists > 0) {
      this.failLists--;
      return sendStatus(res, 500, 'InternalError', 'etcdserver: request timed out');
    }
    const selector = parseSelector(url.searchParams.get('fieldSelector'));
    if (watch) this.serveWatch(collection.kind, rv, res, selector);
    else this.serveList(collection, limit, cont, res, selector);
  }

  private serveList(
    collection: { kind: string; apiVersion: string },
    limit: number,
    cont: string | undefined,
    res: ServerResponse,
    selector?: FieldSelector,
  ): void {
    let snapshot: Snapshot | undefined;
    if (cont) {
      snapshot = this.snapshots.get(cont);
      this.snapshots.delete(cont);
      if (!snapshot || snapshot.resourceVersion < this.compactedAt) {
        return sendStatus(res, 410, 'Expired', 'The provided continue parameter is too old');
      }
    } else {
      const items = [...this.store(collection.kind).values()]
        .filter((o) => matches(o, selector))
        .sort((a, b) => keyOf(a.metadata.namespace, a.metadata.name).localeCompare(keyOf(b.metadata.namespace, b.metadata.name)));
      snapshot = { kind: collection.kind, resourceVersion: this.revision, items, offset: 0 };
    }
    const end = limit > 0 ? Math.min(snapshot.items.length, snapshot.offset + limit) : snapshot.items.length;
    // Items of a typed list carry no kind/apiVersion, as kube-apiserver sends them.
    const items = snapshot.items.slice(snapshot.offset, end).map(({ kind: _k, apiVersion: _a, ...rest }) => rest);
    const metadata: Record<string, string> = { resourceVersion: String(snapshot.resourceVersion) };
    if (end < snapshot.items.length) {
      const token = `snap-${this.nextSnapshot++}`;
      this.snapshots.set(token, { ...snapshot, offset: end });
      metadata.continue = token;
    }
    sendJson(res, 200, { kind: `${collection.kind}List`, apiVersion: collection.apiVersion, metadata, items });
  }

  private serveWatch(kind: string, rv: string | undefined, res: ServerResponse, selector?: FieldSelector): void {
    const from = rv === undefined || rv === '' || rv === '0' ? undefined : Number(rv);
    if (from !== undefined && from < this.compactedAt) {
      const message = `too old resource version: ${from} (${this.compactedAt})`;
      if (this.goneStyle === 'http-410') return sendStatus(res, 410, 'Expired', message);
      res.writeHead(200, { 'content-type': 'application/json' });
      writeEvent(res, 'ERROR', status(410, 'Expired', message));
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    if (from === undefined) {
      for (const object of this.store(kind).values()) if (matches(object, selector)) writeEvent(res, 'ADDED', object);
    } else {
      for (const event of this.history) {
        if (event.object.kind === kind && event.revision > from && matches(event.object, selector)) {
          writeEvent(res, event.type, event.object);
        }
      }
    }
    if (this.closeWatchesAtOnce) {
      res.end();
      return;
    }
    const watch: OpenWatch = { kind, res, muted: false, ...(selector ? { selector } : {}) };
    this.watches.add(watch);
    res.on('close', () => this.watches.delete(watch));
  }

  private record(type: EventType, object: KubeObject): void {
    this.history.push({ type, object, revision: this.revision });
    for (const watch of this.watches) {
      if (watch.kind === object.kind && !watch.muted && matches(object, watch.selector)) writeEvent(watch.res, type, object);
    }
  }

  private store(kind: string): Map<string, KubeObject> {
    let store = this.objects.get(kind);
    if (!store) this.objects.set(kind, (store = new Map()));
    return store;
  }
}

function parseSelector(raw: string | null): FieldSelector | undefined {
  if (!raw) return undefined;
  return raw.split(',').map((part) => {
    const [field, value] = part.split('=');
    return [field ?? '', value ?? ''];
  });
}

function matches(object: KubeObject, selector: FieldSelector | undefined): boolean {
  if (!selector) return true;
  return selector.every(([field, value]) => {
    let v: unknown = object;
    for (const step of field.split('.'))
      v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[step] : undefined;
    return v === value;
  });
}

function keyOf(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

function withRevision(object: KubeObject, revision: number): KubeObject {
  const copy = structuredClone(object);
  copy.metadata.resourceVersion = String(revision);
  return copy;
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function writeEvent(res: ServerResponse, type: string, object: unknown): void {
  res.write(`${JSON.stringify({ type, object })}\n`);
}

function sendStatus(res: ServerResponse, code: number, reason: string, message: string): void {
  sendJson(res, code, status(code, reason, message));
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
