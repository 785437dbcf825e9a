import * as fs from 'node:fs';
import type { ClusterState } from '../../enrich/cluster-state/state';
import { ClusterState as State } from '../../enrich/cluster-state/state';
import { watchCluster } from '../../enrich/cluster-state/live';
import { manifestsToState, parseManifestFile, type ManifestDocument, type SourceLocation } from '../../posture/manifests';
import { expandPaths } from './pss';

export class SourceError extends Error {}

export interface SourceOptions {
  state?: string[];
  live?: boolean;
  kubeconfig?: string;
  context?: string;
  liveTimeout?: string;
}

export interface LoadedSource {
  state: ClusterState;
  /** Where each object is defined (manifest input only). */
  sources: Map<string, SourceLocation>;
}

/**
 * The state a posture command reads: snapshot files and manifest folders (`--state`, repeatable), or a
 * live cluster listed once (`--live`). Input holding Pods is a cluster snapshot, whose workloads' pods
 * are already there; input without Pods is manifests, where each workload's pod template stands in.
 */
export async function loadSource(opts: SourceOptions, warn: (line: string) => void): Promise<LoadedSource> {
  const paths = opts.state ?? [];
  if (opts.live && paths.length > 0) throw new SourceError('--state and --live exclude each other');
  if (opts.live) return { state: await liveState(opts, warn), sources: new Map() };
  if (paths.length === 0) throw new SourceError('give --state SNAPSHOT|DIR (repeatable) or --live');
  const documents: ManifestDocument[] = [];
  for (const file of expandPaths(paths)) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new SourceError(
        `cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
      );
    }
    try {
      documents.push(...parseManifestFile(file, text));
    } catch (err) {
      throw new SourceError((err as Error).message.split('\n')[0] ?? 'unparseable manifest');
    }
  }
  const hasPods = documents.some((d) => (d.object as { kind?: unknown } | null)?.kind === 'Pod');
  const kept = hasPods ? documents.filter((d) => !isWorkload(d.object)) : documents;
  const { state, sources, loaded } = manifestsToState(kept, 'snapshot');
  if (loaded === 0)
    warn('warning: the input holds none of the objects posture reads (namespaces, RBAC, NetworkPolicies, pods, workloads)');
  return { state, sources };
}

const WORKLOADS = new Set(['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicationController']);

function isWorkload(object: unknown): boolean {
  return typeof object === 'object' && object !== null && WORKLOADS.has(String((object as { kind?: unknown }).kind));
}

async function liveState(opts: SourceOptions, warn: (line: string) => void): Promise<ClusterState> {
  const state = new State('live');
  const credentials = opts.kubeconfig
    ? ({ from: 'file', path: opts.kubeconfig, ...(opts.context ? { context: opts.context } : {}) } as const)
    : ({ from: 'default', ...(opts.context ? { context: opts.context } : {}) } as const);
  const timeoutMs = Number(opts.liveTimeout ?? '60') * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new SourceError('--live-timeout must be a positive number of seconds');
  const watch = await watchCluster(state, {
    credentials,
    onError: (kind, err) => warn(`warning: listing ${kind}: ${(err as Error)?.message ?? String(err)}`),
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      watch.synced(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new SourceError(`the cluster was not listed within ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
    await watch.stop();
  }
  return state;
}
