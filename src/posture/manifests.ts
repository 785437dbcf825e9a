import { LineCounter, parseAllDocuments } from 'yaml';
import { ClusterState } from '../enrich/cluster-state/state';
import { CLUSTER_SCOPED_KINDS, isStateKind, type StateKind } from '../enrich/cluster-state/types';
import { tryExtractPod } from '../enrich/pod-security/extract';
import { ManifestSyntaxError } from '../enrich/pod-security/manifests';
import { refString, type ObjectRef } from './finding';

/** Where an object came from: for SARIF results and error messages. */
export interface SourceLocation {
  file: string;
  /** 1-based line of the document's first line. */
  line: number;
}

export interface ManifestLoad {
  state: ClusterState;
  /** By `refString` of the object (`Deployment shop/web`, `Namespace shop`): where it is defined. */
  sources: Map<string, SourceLocation>;
  loaded: number;
  skipped: number;
}

const WORKLOAD_KINDS = new Set([
  'Deployment',
  'ReplicaSet',
  'StatefulSet',
  'DaemonSet',
  'Job',
  'CronJob',
  'ReplicationController',
]);

/** One parsed document with its location. */
export interface ManifestDocument {
  object: unknown;
  location: SourceLocation;
}

/** Multi-document YAML (or JSON) with each document's starting line; `List`s are expanded. */
export function parseManifestFile(file: string, text: string): ManifestDocument[] {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return expand(JSON.parse(trimmed) as unknown).map((object) => ({ object, location: { file, line: 1 } }));
    } catch {
      // flow-style YAML; fall through
    }
  }
  const lineCounter = new LineCounter();
  const out: ManifestDocument[] = [];
  for (const doc of parseAllDocuments(text, { lineCounter })) {
    const [first] = doc.errors;
    if (first) throw new ManifestSyntaxError(`${file}: ${first.message}`);
    const start = doc.contents?.range[0] ?? doc.range[0];
    const line = lineCounter.linePos(start).line;
    for (const object of expand(doc.toJS())) out.push({ object, location: { file, line } });
  }
  return out;
}

function expand(value: unknown): unknown[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.flatMap(expand);
  const v = value as Record<string, unknown>;
  if (typeof v.kind === 'string' && v.kind.endsWith('List') && Array.isArray(v.items)) {
    // A typed list (`PodList` from the API) leaves the kind off its items.
    const implied = v.kind === 'List' ? undefined : v.kind.slice(0, -'List'.length);
    return v.items.flatMap((item: unknown) =>
      expand(implied && typeof item === 'object' && item !== null && !('kind' in item) ? { kind: implied, ...item } : item),
    );
  }
  return [value];
}

/**
 * Manifests as a cluster state, the way they would land: objects without a namespace go to `default`
 * (as `kubectl apply` puts them), and each workload (Deployment, StatefulSet, DaemonSet, Job, CronJob,
 * ...) stands for one pod of its pod template, owned by it, so Pod Security and NetworkPolicy see what
 * its pods will be.
 */
export function manifestsToState(
  documents: ManifestDocument[],
  cluster = 'manifests',
  defaultNamespace = 'default',
): ManifestLoad {
  const state = new ClusterState(cluster);
  const sources = new Map<string, SourceLocation>();
  let loaded = 0;
  let skipped = 0;
  for (const { object, location } of documents) {
    if (typeof object !== 'object' || object === null) {
      skipped++;
      continue;
    }
    const raw = object as Record<string, unknown>;
    const kind = typeof raw.kind === 'string' ? raw.kind : '';
    const meta = (typeof raw.metadata === 'object' && raw.metadata !== null ? raw.metadata : {}) as Record<string, unknown>;
    const namespace = typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : defaultNamespace;
    const name = typeof meta.name === 'string' ? meta.name : '';
    if (WORKLOAD_KINDS.has(kind)) {
      const pod = tryExtractPod(object);
      if (!pod || !name) {
        skipped++;
        continue;
      }
      const kept = state.upsert({
        kind: 'Pod',
        metadata: {
          ...pod.metadata,
          name: `${name}-template`,
          namespace,
          ownerReferences: [{ kind, name }],
        },
        spec: pod.spec,
      });
      if (kept) {
        loaded++;
        sources.set(refString({ kind, namespace, name }), location);
      } else skipped++;
      continue;
    }
    if (!isStateKind(kind)) {
      skipped++;
      continue;
    }
    const scoped = CLUSTER_SCOPED_KINDS.has(kind as StateKind);
    const withNs = scoped ? object : { ...raw, metadata: { ...meta, namespace } };
    if (state.upsert(withNs)) {
      loaded++;
      const ref: ObjectRef = scoped ? { kind, name } : { kind, namespace, name };
      sources.set(refString(ref), location);
    } else skipped++;
  }
  return { state, sources, loaded, skipped };
}
