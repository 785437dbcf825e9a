import type { Priority } from './priority';

/** A JSON value as it came off the wire (after safe parsing: no `__proto__` keys, big ints as strings). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export type EventSource = 'falco' | 'k8s_audit';

/** Where in Kubernetes an event happened. Every field is optional: host events have no pod. */
export interface K8sRef {
  cluster: string;
  namespace?: string;
  pod?: string;
  container?: string;
  containerId?: string;
  image?: string;
}

/** Who did it: the Kubernetes identity (audit) or the process user (runtime). */
export interface Actor {
  user: string;
  uid?: string;
  groups: string[];
  impersonatedUser?: string;
  impersonatedGroups?: string[];
  /** The last entry of `sourceIPs`: the only one the apiserver vouches for. */
  sourceIp?: string;
  /** Client-set, untrusted. */
  userAgent?: string;
  /** From `user.extra["authentication.kubernetes.io/pod-name"]`: the pod behind a service-account token. */
  tokenPod?: string;
  tokenPodNamespace?: string;
}

export interface ProcessInfo {
  name?: string;
  cmdline?: string;
  tty?: number;
  user?: string;
}

export interface ObjectRef {
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  apiGroup?: string;
  apiVersion?: string;
  uid?: string;
}

/** The audit-specific part of an event, normalised. The whole event stays in `raw`. */
export interface AuditInfo {
  auditID: string;
  stage: string;
  level?: string;
  verb: string;
  requestURI: string;
  objectRef?: ObjectRef;
  responseCode?: number;
  annotations: Record<string, string>;
  /** For exec/attach/portforward: parsed from the query string of `requestURI`. */
  exec?: { command: string[]; container?: string; tty: boolean };
}

/** The Falco-specific part of an event. */
export interface FalcoInfo {
  rule: string;
  priority: Priority;
  output: string;
  /** `syscall`, `syscalls`, `k8s_audit`, `internal`, a plugin's source... as Falco said it. */
  source: string;
  hostname?: string;
  tags: string[];
  /** `output_fields`, values as sent; integers beyond 2^53 are kept as decimal strings. */
  fields: Record<string, string | number | boolean | null>;
}

/**
 * One event from any source, normalised. It crosses the bus as JSON, so it holds only JSON data.
 */
export interface SecurityEvent {
  /** Stable identity: Falcosidekick's uuid, or a hash of the payload for Falco; `auditID/stage` for audit. */
  id: string;
  source: EventSource;
  /** RFC 3339 as received (nanosecond precision kept). */
  time: string;
  /** Nanoseconds since the epoch as a decimal string (exact; never a rounded double). */
  timeNs: string;
  /** When Falconer accepted it (ms since the epoch), for ingest-to-notify latency. */
  receivedAt: number;
  k8s: K8sRef;
  actor?: Actor;
  process?: ProcessInfo;
  falco?: FalcoInfo;
  audit?: AuditInfo;
  /** The original payload (after safe parsing), every string in it bounded like the fields above. */
  raw: JsonObject;
  /**
   * Estimated heap bytes this event holds, set at normalisation; the embedded queue is bounded by the
   * sum of these. Absent on events from other producers: then the queue counts a fixed default.
   */
  sizeBytes?: number;
}

/** The bus partition key: everything about one pod lands on one consumer, in order. */
export function partitionKey(e: SecurityEvent): string {
  const ns = e.k8s.namespace ?? e.audit?.objectRef?.namespace ?? '';
  const pod = e.k8s.pod ?? '';
  return `${e.k8s.cluster}/${ns}/${pod}`;
}
