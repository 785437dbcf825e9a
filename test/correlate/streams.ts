import type { JsonObject } from '../../src/core/event';

/** Builders for recorded event streams: raw audit events and raw Falco events, as they arrive. */

export const T0 = Date.parse('2026-03-01T10:00:00Z');

/** Audit timestamps: microseconds, as the apiserver writes them. */
export function auditTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z');
}

/** Falco timestamps: nanoseconds. */
export function falcoTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000000Z');
}

export interface SessionSpec {
  id: string;
  user: string;
  groups?: string[];
  cluster?: string;
  ns?: string;
  pod?: string;
  container?: string;
  command?: string[];
  tty?: boolean;
  verb?: 'get' | 'create';
  subresource?: 'exec' | 'attach' | 'portforward' | 'log';
  /** Offsets from T0, ms. */
  start: number;
  end?: number;
  code?: number;
  decision?: 'allow' | 'forbid';
  ip?: string;
  userAgent?: string;
  stages?: ('ResponseStarted' | 'ResponseComplete')[];
}

/** The audit events one `kubectl exec`/`attach` logs (ResponseStarted, then ResponseComplete when it ends). */
export function session(s: SessionSpec): JsonObject[] {
  const ns = s.ns ?? 'shop';
  const pod = s.pod ?? 'web-1';
  const sub = s.subresource ?? 'exec';
  const params = new URLSearchParams();
  for (const c of s.command ?? (sub === 'exec' ? ['/bin/bash'] : [])) params.append('command', c);
  if (s.container) params.set('container', s.container);
  params.set('stdin', 'true');
  params.set('stdout', 'true');
  if (s.tty ?? true) params.set('tty', 'true');
  const code = s.code ?? 101;
  const stages = s.stages ?? (s.end === undefined ? ['ResponseStarted'] : ['ResponseStarted', 'ResponseComplete']);
  return stages.map((stage) => ({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: s.id,
    stage,
    requestURI: `/api/v1/namespaces/${ns}/pods/${pod}/${sub}?${params.toString()}`,
    verb: s.verb ?? 'get',
    user: { username: s.user, groups: s.groups ?? ['system:authenticated'] },
    sourceIPs: [s.ip ?? '203.0.113.7'],
    userAgent: s.userAgent ?? 'kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0',
    objectRef: { resource: 'pods', namespace: ns, name: pod, subresource: sub, apiVersion: 'v1' },
    responseStatus: { metadata: {}, code },
    requestReceivedTimestamp: auditTime(T0 + s.start),
    stageTimestamp: auditTime(T0 + (stage === 'ResponseComplete' ? (s.end ?? s.start + 5) : s.start + 5)),
    annotations: { 'authorization.k8s.io/decision': s.decision ?? 'allow', 'authorization.k8s.io/reason': 'RBAC: allowed' },
  }));
}

/** `kubectl debug`: the patch of pods/ephemeralcontainers that adds `container`. */
export function debugPatch(s: {
  id: string;
  user: string;
  ns?: string;
  pod?: string;
  container?: string;
  at: number;
  code?: number;
}): JsonObject {
  const ns = s.ns ?? 'shop';
  const pod = s.pod ?? 'web-1';
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Request',
    auditID: s.id,
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/${ns}/pods/${pod}/ephemeralcontainers`,
    verb: 'patch',
    user: { username: s.user, groups: ['system:authenticated'] },
    sourceIPs: ['198.51.100.20'],
    userAgent: 'kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0',
    objectRef: { resource: 'pods', namespace: ns, name: pod, subresource: 'ephemeralcontainers', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: s.code ?? 200 },
    requestObject: s.container
      ? { spec: { ephemeralContainers: [{ name: s.container, image: 'busybox:1.36', stdin: true, tty: true }] } }
      : null,
    requestReceivedTimestamp: auditTime(T0 + s.at),
    stageTimestamp: auditTime(T0 + s.at + 20),
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': 'RBAC: allowed' },
  };
}

export interface RuntimeSpec {
  id: string;
  at: number;
  cluster?: string;
  ns?: string;
  pod?: string;
  container?: string | null;
  proc?: string;
  pname?: string;
  tty?: number;
  rule?: string;
  priority?: string;
  tags?: string[];
  env?: string;
}

/** A Falco alert about a process in a pod, as Falcosidekick posts it. */
export function runtime(r: RuntimeSpec): JsonObject {
  const proc = r.proc ?? 'bash';
  const fields: JsonObject = {
    'container.id': '734cfc07ae4d',
    'k8s.ns.name': r.ns ?? 'shop',
    'k8s.pod.name': r.pod ?? 'web-1',
    'proc.name': proc,
    'proc.cmdline': `${proc} ${r.id}`,
    'proc.pname': r.pname ?? 'runc',
    'proc.tty': r.tty ?? 34816,
    'user.name': 'root',
  };
  if (r.container !== null) fields['container.name'] = r.container ?? 'app';
  if (r.cluster) fields.cluster = r.cluster;
  if (r.env) fields['proc.env'] = r.env;
  return {
    uuid: `uuid-${r.id}`,
    output: `A shell was spawned in a container (${r.id})`,
    priority: r.priority ?? 'Notice',
    rule: r.rule ?? 'Terminal shell in container',
    time: falcoTime(T0 + r.at),
    output_fields: fields,
    source: 'syscall',
    tags: r.tags ?? ['T1059', 'container', 'shell'],
    hostname: 'node-a',
  };
}
