import type { Json, JsonObject, SecurityEvent } from '../core/event';
import { rfc3339ToNs } from '../ingest/time';

export type SessionKind = 'exec' | 'attach' | 'debug';

/**
 * An exec/attach session, or a `kubectl debug` ephemeral container, as the audit log tells it.
 * Times are event times (ms since the epoch) from the apiserver's clock.
 */
export interface Session {
  auditID: string;
  kind: SessionKind;
  /** The `container=` parameter; for debug, the ephemeral containers the patch adds. Empty: not named. */
  containers: string[];
  user: string;
  groups: string[];
  sourceIPs: string[];
  userAgent: string | null;
  command: string[];
  tty: boolean;
  /** `requestReceivedTimestamp`. */
  start: number;
  /** ResponseComplete's `stageTimestamp`; absent while only ResponseStarted was seen. */
  end?: number;
}

/** The pod a session or a runtime event is about: the correlation state's key. */
export function podKey(cluster: string, namespace: string, pod: string): string {
  return `${cluster}/${namespace}/${pod}`;
}

const LIMITS = { command: 1024, groups: 32, sourceIPs: 8, userAgent: 256, containers: 8, name: 253 };

/**
 * The session an audit event opens, continues or ends, or undefined when it opens none. Only what
 * the apiserver actually opened counts: an exec or attach answered 101 (Switching Protocols), or a
 * successful patch of `pods/ephemeralcontainers`. A request refused by authorization (403) or
 * admission (400) logs both stages and opens nothing; port-forward, logs and watches are no session.
 */
export function sessionFromAudit(event: SecurityEvent): { key: string; session: Session } | undefined {
  const audit = event.audit;
  const ref = audit?.objectRef;
  if (!audit || !event.actor || ref?.resource !== 'pods' || ref.apiGroup || !ref.namespace || !ref.name) return undefined;
  if (audit.annotations['authorization.k8s.io/decision'] === 'forbid') return undefined;
  const code = audit.responseCode;
  let kind: SessionKind;
  let containers: string[];
  if ((ref.subresource === 'exec' || ref.subresource === 'attach') && (audit.verb === 'get' || audit.verb === 'create')) {
    if (code !== 101 || (audit.stage !== 'ResponseStarted' && audit.stage !== 'ResponseComplete')) return undefined;
    kind = ref.subresource;
    containers = audit.exec?.container ? [audit.exec.container.slice(0, LIMITS.name)] : [];
  } else if (ref.subresource === 'ephemeralcontainers' && (audit.verb === 'patch' || audit.verb === 'update')) {
    if (code === undefined || code < 200 || code >= 300 || audit.stage !== 'ResponseComplete') return undefined;
    kind = 'debug';
    containers = ephemeralContainerNames(event.raw);
  } else return undefined;

  const received = timeMs(event.raw.requestReceivedTimestamp);
  const stamp = timeMs(event.raw.stageTimestamp);
  const start = received ?? stamp;
  if (start === undefined) return undefined;
  const actor = event.actor;
  const sourceIPs = Array.isArray(event.raw.sourceIPs)
    ? event.raw.sourceIPs.filter((s): s is string => typeof s === 'string').slice(-LIMITS.sourceIPs)
    : [];
  const command = boundedCommand(audit.exec?.command ?? []);
  const session: Session = {
    auditID: audit.auditID,
    kind,
    containers,
    user: actor.impersonatedUser ?? actor.user,
    groups: (actor.impersonatedUser ? (actor.impersonatedGroups ?? []) : actor.groups).slice(0, LIMITS.groups),
    sourceIPs,
    userAgent: actor.userAgent ? actor.userAgent.slice(0, LIMITS.userAgent) : null,
    command,
    tty: audit.exec?.tty ?? false,
    start,
    // A debug container lives on after its patch: it stays open until the maximum.
    ...(kind !== 'debug' && audit.stage === 'ResponseComplete' && stamp !== undefined ? { end: stamp } : {}),
  };
  return { key: podKey(event.k8s.cluster, ref.namespace, ref.name), session };
}

/** Both stages of one session (same auditID) become one record: the earliest start, the end when seen. */
export function mergeSession(into: Session, next: Session): Session {
  return {
    ...into,
    start: Math.min(into.start, next.start),
    ...(into.end !== undefined || next.end !== undefined ? { end: Math.max(into.end ?? 0, next.end ?? 0) } : {}),
    containers: into.containers.length ? into.containers : next.containers,
    command: into.command.length ? into.command : next.command,
  };
}

/**
 * Adds a session to a pod's list (merging stages of one auditID) and keeps at most `max`: ended
 * sessions go first, oldest end first, then the oldest open ones.
 */
export function addSession(list: readonly Session[], session: Session, max: number): Session[] {
  const i = list.findIndex((s) => s.auditID === session.auditID);
  const next = i === -1 ? [...list, session] : list.map((s, j) => (j === i ? mergeSession(s, session) : s));
  if (next.length <= max) return next;
  const order = [...next].sort((a, b) => {
    if ((a.end === undefined) !== (b.end === undefined)) return a.end === undefined ? 1 : -1;
    return (a.end ?? a.start) - (b.end ?? b.start);
  });
  const drop = new Set(order.slice(0, next.length - max));
  return next.filter((s) => !drop.has(s));
}

/** Sessions that can no longer match anything: ended (or open past the maximum) longer ago than `keepMs`. */
export function expireSessions(list: readonly Session[], nowMs: number, maxOpenMs: number, keepMs: number): Session[] {
  return list.filter((s) => (s.end ?? s.start + maxOpenMs) + keepMs >= nowMs);
}

function ephemeralContainerNames(raw: JsonObject): string[] {
  for (const field of ['requestObject', 'responseObject'] as const) {
    const spec = object(object(raw[field])?.spec);
    const list = spec?.ephemeralContainers;
    if (!Array.isArray(list)) continue;
    const names = list
      .map((c) => object(c)?.name)
      .filter((n): n is string => typeof n === 'string' && n !== '')
      .map((n) => n.slice(0, LIMITS.name));
    // The response lists every ephemeral container the pod has; the request (kubectl's patch) only the new one.
    if (names.length) return field === 'requestObject' ? names.slice(0, LIMITS.containers) : names.slice(-1);
  }
  return [];
}

function boundedCommand(command: string[]): string[] {
  const out: string[] = [];
  let size = 0;
  for (const arg of command) {
    if (size + arg.length > LIMITS.command) {
      out.push(arg.slice(0, Math.max(0, LIMITS.command - size)) + '…');
      break;
    }
    out.push(arg);
    size += arg.length + 1;
  }
  return out;
}

/** Milliseconds since the epoch from an RFC 3339 timestamp, or undefined. */
export function timeMs(value: Json | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ns = rfc3339ToNs(value);
  return ns === undefined ? undefined : Number(BigInt(ns) / 1_000_000n);
}

function object(v: Json | undefined): JsonObject | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}
