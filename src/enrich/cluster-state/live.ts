import type { Informer, KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { systemClock, type Clock, type TimerHandle } from '../../core/clock';
import { ApplyQueue } from './apply-queue';
import { loadKubeConfig, type CredentialSource } from './kube-credentials';
import { loadKubeClient } from './kube-client';
import { ClosableKubeConfig } from './kube-connections';
import { FINDING_RESOURCES } from '../../findings/normalise';
import { normaliseForQueue, type ArrivalMode } from '../../findings/store';
import { getObject, KubeApiError, listAll } from './kube-list';
import { LIVE_RESOURCES, type LiveResource } from './live-resources';
import { slimObject } from './slim';
import { DEFAULT_RETRY, retryDelay, type RetryPolicy } from './retry-delay';
import type { ClusterState } from './state';
import type { StateKind } from './types';

type KubeClient = Awaited<ReturnType<typeof loadKubeClient>>;
type InformerFactory = (
  kubeConfig: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<KubernetesObject>>,
  fieldSelector?: string,
) => Informer<KubernetesObject>;

/** More (re)connects than this within STORM_WINDOW_MS, with the watch closing each time, is a failure. */
const STORM_CONNECTS = 10;
const STORM_WINDOW_MS = 1_000;

export interface WatchClusterOptions {
  /** Default: `{ from: 'default' }` ($KUBECONFIG, ~/.kube/config, then in-cluster). */
  credentials?: CredentialSource;
  /** Kinds to list and watch. Default: all eight ClusterState keeps. */
  kinds?: readonly StateKind[];
  /**
   * Also list and watch the policy and vulnerability reports whose CRDs the server has (found through
   * discovery at start), the Gatekeeper constraints, and the Kyverno/Gatekeeper Events. Default false.
   * A report collection the credentials may not read (403) or that is gone (404) counts as synced, empty.
   */
  findings?: boolean;
  /** Items per list page. Default 500 (client-go's pager default). */
  pageSize?: number;
  /** Changes applied to the state per event-loop turn. Default 500. */
  applyChunk?: number;
  /** Backoff after a failed list or a watch that broke with an error. */
  retry?: RetryPolicy;
  clock?: Clock;
  /** Told about every failure; the watch retries on its own either way. */
  onError?: (kind: string, error: unknown) => void;
}

export interface LiveKindStatus {
  /** A kind ClusterState keeps, a report kind, or `Event reason=...`. */
  kind: string;
  /** The first full list has been applied to the state. */
  synced: boolean;
  /** Full lists completed: 1 for the initial sync, plus one per re-list (after `410 Gone`). */
  lists: number;
  errors: number;
  lastError?: string;
}

export interface ClusterWatch {
  /** Resolves once every kind's first list is in the state (it keeps waiting through retries). */
  synced(): Promise<void>;
  isSynced(): boolean;
  status(): LiveKindStatus[];
  /** Stops every list and watch; the state keeps what it has. */
  stop(): Promise<void>;
}

/**
 * Keeps `state` in step with a live cluster: one informer (list, then watch from the list's
 * resourceVersion) per kind. A watch that ends is resumed from the last resourceVersion seen; one the
 * server answers with 410 Gone makes the informer list again, and what disappeared meanwhile is deleted.
 * Failures are retried with backoff. The live source needs get, list and watch on the eight kinds only.
 * Rejects with a KubeCredentialsError when the credentials cannot be loaded; everything after that is
 * retried and reported through `onError` and `status()`.
 */
export async function watchCluster(state: ClusterState, options: WatchClusterOptions = {}): Promise<ClusterWatch> {
  const makeInformer = informerFactory(await loadKubeClient());
  const connections = new ClosableKubeConfig(await loadKubeConfig(options.credentials ?? { from: 'default' }));
  const queue = new ApplyQueue(state, options.applyChunk ?? 500);
  const kinds = new Set(options.kinds ?? LIVE_RESOURCES.map((r) => r.kind));
  let markSynced!: () => void;
  const allSynced = new Promise<void>((resolve) => (markSynced = resolve));
  const onSynced = () => {
    if (watches.every((w) => w.status.synced)) markSynced();
  };
  const resources: LiveResource[] = LIVE_RESOURCES.filter((r) => kinds.has(r.kind as StateKind));
  if (options.findings === true) resources.push(...(await findingResources(connections.kubeConfig, options)));
  const watches = resources.map(
    (resource) => new KindWatch(makeInformer, connections.kubeConfig, resource, queue, options, onSynced),
  );
  if (watches.length === 0) markSynced();
  for (const watch of watches) watch.start();

  let stopping: Promise<void> | undefined;
  return {
    synced: () => allSynced,
    isSynced: () => watches.every((w) => w.status.synced),
    status: () => watches.map((w) => ({ ...w.status })),
    stop() {
      stopping ??= (async () => {
        // Connections first: no request that is about to go out may open a socket after this.
        connections.close();
        await Promise.all(watches.map((w) => w.stop()));
        queue.close();
      })();
      return stopping;
    },
  };
}

/** One kind's informer, with the retry the client library leaves to its caller. */
class KindWatch {
  readonly status: LiveKindStatus;
  private readonly informer: Informer<KubernetesObject>;
  private readonly abort = new AbortController();
  private readonly clock: Clock;
  private readonly retry: RetryPolicy;
  private retryTimer: TimerHandle | undefined;
  private attempt = 0;
  /** Set once the first list's items are queued: changes after it are news for the findings. */
  private listed = false;
  private recentConnects: number[] = [];
  private lastFailureAt = -Infinity;
  private stopped = false;

  constructor(
    makeInformer: InformerFactory,
    private readonly kubeConfig: KubeConfig,
    private readonly resource: LiveResource,
    private readonly queue: ApplyQueue,
    private readonly options: WatchClusterOptions,
    private readonly onSynced: () => void,
  ) {
    const label = resource.fieldSelector ? `${resource.kind} ${resource.fieldSelector}` : resource.kind;
    this.status = { kind: label, synced: false, lists: 0, errors: 0 };
    this.clock = options.clock ?? systemClock;
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.informer = makeInformer(kubeConfig, resource.path, () => this.list(), resource.fieldSelector);
    const mode = (): ArrivalMode => (this.listed ? 'live' : 'state');
    const upsert = resource.finding
      ? (obj: KubernetesObject) => this.queue.upsertFinding(withType(obj, resource), mode())
      : (obj: KubernetesObject) => this.queue.upsert(resource.kind as StateKind, obj as Record<string, unknown>);
    this.informer.on('add', upsert);
    this.informer.on('update', upsert);
    this.informer.on('delete', (obj) =>
      resource.finding
        ? this.queue.deleteFinding(resource.kind, obj as Record<string, unknown>, mode())
        : this.queue.delete(resource.kind as StateKind, obj as Record<string, unknown>),
    );
    this.informer.on('error', (err: unknown) => this.failed(err));
    this.informer.on('connect', () => this.connected());
  }

  start(): void {
    // start() rejects only when the informer fails before it can report through 'error'.
    this.informer.start().catch((err: unknown) => this.failed(err));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    if (this.retryTimer) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.informer.stop();
  }

  private async list(): Promise<KubernetesListObject<KubernetesObject>> {
    const pageSize = this.options.pageSize ?? 500;
    const resource = this.resource;
    const path = resource.fieldSelector
      ? `${resource.path}?fieldSelector=${encodeURIComponent(resource.fieldSelector)}`
      : resource.path;
    const list = await listAll(this.kubeConfig, path, {
      pageSize,
      signal: this.abort.signal,
      // Slimmed page by page: a re-list of a big cluster never holds every full object at once.
      mapItem: resource.finding
        ? (item) => normaliseForQueue(withType(item as KubernetesObject, resource))
        : (item) => slimObject(item, resource.kind as StateKind),
    });
    this.status.lists++;
    this.attempt = 0;
    if (!this.listed) setImmediate(() => (this.listed = true));
    if (!this.status.synced) {
      // The informer hands the items to its callbacks right after this promise settles, so by the next
      // macrotask they are all queued; the marker lands behind them.
      setImmediate(() =>
        this.queue.afterQueued(() => {
          this.status.synced = true;
          this.onSynced();
        }),
      );
    }
    return { metadata: { resourceVersion: list.resourceVersion }, items: list.items as KubernetesObject[] };
  }

  /**
   * The informer re-watches at once whenever a watch ends cleanly; a server or proxy that closes every
   * watch straight away would make that a busy loop against the API server. Cut it into backoff.
   */
  private connected(): void {
    const now = this.clock.now();
    this.recentConnects = this.recentConnects.filter((t) => now - t < STORM_WINDOW_MS);
    this.recentConnects.push(now);
    if (this.recentConnects.length <= STORM_CONNECTS) return;
    this.recentConnects = [];
    // The connection being opened now still goes out; the informer stays down after it ends.
    void this.informer.stop();
    this.failed(new Error(`the ${this.resource.kind} watch keeps closing as soon as it opens`));
  }

  private failed(err: unknown): void {
    if (this.stopped) return;
    this.status.errors++;
    this.status.lastError = err instanceof Error ? err.message : String(err);
    this.options.onError?.(this.status.kind, err);
    if (this.resource.finding && !this.status.synced && isUnavailable(err)) {
      // Optional sources (Events Falconer may not read, a CRD removed since discovery) never hold up sync.
      this.stopped = true;
      void this.informer.stop();
      this.status.synced = true;
      this.onSynced();
      return;
    }
    if (this.retryTimer) return;
    // A watch that ran quietly for a while before failing starts the backoff over.
    const now = this.clock.now();
    if (now - this.lastFailureAt > this.retry.maxMs * 2) this.attempt = 0;
    this.lastFailureAt = now;
    const delay = retryDelay(this.attempt++, this.retry);
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.stopped) this.start();
    }, delay);
  }
}

/**
 * The library's informer (ListWatch) over a Watch that reports every failure through `done`. The stock
 * Watch lets errors from before its request (credentials that cannot be read, an exec plugin failing)
 * escape as a rejected promise nobody awaits when it re-watches on its own, which would crash the process.
 */
function informerFactory({ ListWatch, Watch }: KubeClient): InformerFactory {
  class ReportingWatch extends Watch {
    override async watch(...args: Parameters<InstanceType<typeof Watch>['watch']>): Promise<AbortController> {
      try {
        return await super.watch(...args);
      } catch (err) {
        args[3](err);
        return new AbortController();
      }
    }
  }
  return (kubeConfig, path, list, fieldSelector) =>
    new ListWatch(path, new ReportingWatch(kubeConfig), list, false, undefined, fieldSelector);
}

/** Event reasons read as findings: Kyverno's violations and Gatekeeper's admission/audit events. */
export const FINDING_EVENT_REASONS = [
  'PolicyViolation',
  'FailedAdmission',
  'WarningAdmission',
  'DryrunViolation',
  'AuditViolation',
];
const GATEKEEPER_CONSTRAINTS = '/apis/constraints.gatekeeper.sh/v1beta1';

/**
 * The report collections this server has, through discovery: a group whose CRDs are not installed
 * answers 404 and is not watched (so Falconer needs no rights on it). Other discovery failures are
 * reported and that group is left out until the next start.
 */
async function findingResources(kc: KubeConfig, options: WatchClusterOptions): Promise<LiveResource[]> {
  const out: LiveResource[] = [];
  const byGroupVersion = new Map<string, (typeof FINDING_RESOURCES)[number][]>();
  for (const r of FINDING_RESOURCES) {
    const gv = `/apis/${r.group}/${r.version}`;
    byGroupVersion.set(gv, [...(byGroupVersion.get(gv) ?? []), r]);
  }
  const served = async (gv: string): Promise<{ name: string; kind: string }[]> => {
    try {
      const doc = await getObject(kc, gv);
      const list = Array.isArray(doc.resources) ? (doc.resources as Record<string, unknown>[]) : [];
      return list
        .filter((r) => typeof r.name === 'string' && typeof r.kind === 'string' && !(r.name as string).includes('/'))
        .map((r) => ({ name: r.name as string, kind: r.kind as string }));
    } catch (err) {
      if (!(err instanceof KubeApiError && err.statusCode === 404)) options.onError?.(gv, err);
      return [];
    }
  };
  for (const [gv, wanted] of byGroupVersion) {
    const names = new Set((await served(gv)).map((r) => r.name));
    for (const r of wanted) {
      if (names.has(r.resource))
        out.push({ kind: r.kind, path: `${gv}/${r.resource}`, finding: { apiVersion: `${r.group}/${r.version}` } });
    }
  }
  // Every ConstraintTemplate adds a constraint kind; their status carries the audit's violations.
  for (const r of await served(GATEKEEPER_CONSTRAINTS)) {
    out.push({
      kind: r.kind,
      path: `${GATEKEEPER_CONSTRAINTS}/${r.name}`,
      finding: { apiVersion: 'constraints.gatekeeper.sh/v1beta1' },
    });
  }
  for (const reason of FINDING_EVENT_REASONS) {
    out.push({ kind: 'Event', path: '/api/v1/events', finding: { apiVersion: 'v1' }, fieldSelector: `reason=${reason}` });
  }
  return out;
}

function isUnavailable(err: unknown): boolean {
  return err instanceof KubeApiError && (err.statusCode === 403 || err.statusCode === 404);
}

/** List items come without kind and apiVersion; the normaliser needs them. */
function withType(obj: KubernetesObject, resource: LiveResource): Record<string, unknown> {
  const o = obj as Record<string, unknown>;
  if (o.kind !== undefined && o.apiVersion !== undefined) return o;
  o.kind ??= resource.kind;
  o.apiVersion ??= resource.finding?.apiVersion;
  return o;
}
