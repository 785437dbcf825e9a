import type { Actor, AuditInfo, Json, JsonObject, ObjectRef, SecurityEvent } from '../core/event';
import { InvalidEventError } from '../core/errors';
import { rfc3339ToNs } from './time';
import { boundId, boundJson, limitName, limitString, MAX_LIST_ENTRIES, type NormaliseContext } from './normalise';

const STAGES = new Set(['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic']);
const SESSION_SUBRESOURCES = new Set(['exec', 'attach', 'portforward']);

/**
 * The audit webhook sends an `EventList`; people and tools also send a single `Event` or a JSON array.
 * Returns the candidate events; each is validated on its own so one bad event does not drop a batch.
 */
export function splitAuditPayload(body: Json): Json[] {
  if (Array.isArray(body)) return body;
  if (body === null || typeof body !== 'object')
    throw new InvalidEventError('body must be an EventList, an Event or an array of Events');
  if (body.kind === 'EventList' || Array.isArray(body.items)) {
    if (!Array.isArray(body.items)) throw new InvalidEventError('EventList "items" must be an array');
    return body.items;
  }
  return [body];
}

/** One `audit.k8s.io/v1` Event, normalised. Throws InvalidEventError naming the bad field. */
export function normaliseAudit(value: Json, ctx: NormaliseContext): SecurityEvent {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidEventError('event must be an object');
  const e = value;
  const auditID = boundId(requireString(e, 'auditID'));
  const stage = requireString(e, 'stage');
  if (!STAGES.has(stage)) throw new InvalidEventError(`"stage" must be one of ${[...STAGES].join(', ')}`);
  const verb = limitName(requireString(e, 'verb'));
  const requestURI = typeof e.requestURI === 'string' ? limitString(e.requestURI, ctx.maxFieldLength) : '';
  const user = object(e.user);
  if (!user || typeof user.username !== 'string') throw new InvalidEventError('"user.username" must be a string');

  const stamp = typeof e.stageTimestamp === 'string' ? e.stageTimestamp : e.requestReceivedTimestamp;
  const timeNs = typeof stamp === 'string' ? rfc3339ToNs(stamp) : undefined;
  if (!timeNs || typeof stamp !== 'string') throw new InvalidEventError('"stageTimestamp" must be an RFC 3339 timestamp');

  const objectRef = toObjectRef(object(e.objectRef));
  const exec = objectRef?.subresource && SESSION_SUBRESOURCES.has(objectRef.subresource) ? sessionParams(requestURI) : undefined;
  const responseStatus = object(e.responseStatus);
  const audit: AuditInfo = {
    auditID,
    stage,
    level: typeof e.level === 'string' ? limitName(e.level) : undefined,
    verb,
    requestURI,
    objectRef,
    responseCode: typeof responseStatus?.code === 'number' ? responseStatus.code : undefined,
    annotations: stringMap(e.annotations, ctx.maxFieldLength),
    exec,
  };
  const raw = boundJson(e, ctx.maxFieldLength, ctx.strings);
  return {
    id: `${auditID}/${stage}`,
    source: 'k8s_audit',
    time: limitName(stamp),
    timeNs,
    receivedAt: ctx.receivedAt,
    k8s: {
      cluster: ctx.cluster,
      namespace: objectRef?.namespace,
      pod: objectRef?.resource === 'pods' ? objectRef.name : undefined,
      container: exec?.container,
    },
    actor: toActor(user, e),
    audit,
    raw: raw.value,
    // The raw payload, plus the normalised fields (small next to it, but not nothing).
    sizeBytes: raw.bytes + 1024,
  };
}

function toActor(user: JsonObject, e: JsonObject): Actor {
  const impersonated = object(e.impersonatedUser);
  const extra = object(user.extra);
  const name = (v: string | undefined) => (v === undefined ? undefined : limitName(v));
  return {
    user: limitName(user.username as string),
    uid: name(typeof user.uid === 'string' ? user.uid : undefined),
    groups: strings(user.groups),
    impersonatedUser: name(typeof impersonated?.username === 'string' ? impersonated.username : undefined),
    impersonatedGroups: impersonated ? strings(impersonated.groups) : undefined,
    sourceIp: name(lastString(e.sourceIPs)),
    userAgent: name(typeof e.userAgent === 'string' ? e.userAgent : undefined),
    tokenPod: name(firstString(extra?.['authentication.kubernetes.io/pod-name'])),
    tokenPodNamespace: name(serviceAccountNamespace(user.username as string)),
  };
}

/** `command=` repeats, one argv element each; `container=`; `tty=true`. */
function sessionParams(requestURI: string): AuditInfo['exec'] {
  const q = requestURI.indexOf('?');
  const params = new URLSearchParams(q === -1 ? '' : requestURI.slice(q + 1));
  const container = params.get('container');
  return {
    command: params
      .getAll('command')
      .slice(0, MAX_LIST_ENTRIES)
      .map((c) => c.toWellFormed()),
    container: container === null ? undefined : limitName(container),
    tty: params.get('tty') === 'true' || params.get('tty') === '1',
  };
}

function toObjectRef(o: JsonObject | undefined): ObjectRef | undefined {
  if (!o) return undefined;
  // Each field named, not looked up by a variable key: fixed property reads stay inline-cached.
  return {
    resource: nonEmptyName(o.resource),
    subresource: nonEmptyName(o.subresource),
    namespace: nonEmptyName(o.namespace),
    name: nonEmptyName(o.name),
    apiGroup: nonEmptyName(o.apiGroup),
    apiVersion: nonEmptyName(o.apiVersion),
    uid: nonEmptyName(o.uid),
  };
}

function nonEmptyName(v: Json | undefined): string | undefined {
  return typeof v === 'string' && v !== '' ? limitName(v) : undefined;
}

const SERVICE_ACCOUNT = 'system:serviceaccount:';

/** `system:serviceaccount:NAMESPACE:NAME` → NAMESPACE (what comes after the prefix up to the next colon). */
function serviceAccountNamespace(username: string): string | undefined {
  if (!username.startsWith(SERVICE_ACCOUNT)) return undefined;
  const end = username.indexOf(':', SERVICE_ACCOUNT.length);
  return username.slice(SERVICE_ACCOUNT.length, end === -1 ? undefined : end);
}

function requireString(o: JsonObject, key: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') throw new InvalidEventError(`"${key}" must be a non-empty string`);
  return v;
}

function object(v: Json | undefined): JsonObject | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

/** An event-supplied list of names, bounded in count and length. */
function strings(v: Json | undefined): string[] {
  const out: string[] = [];
  if (!Array.isArray(v)) return out;
  for (let i = 0; i < v.length && out.length < MAX_LIST_ENTRIES; i++) {
    const s = v[i];
    if (typeof s === 'string') out.push(limitName(s));
  }
  return out;
}

function lastString(v: Json | undefined): string | undefined {
  if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) if (typeof v[i] === 'string') return v[i] as string;
  return undefined;
}

function firstString(v: Json | undefined): string | undefined {
  return Array.isArray(v) ? strings(v)[0] : typeof v === 'string' ? v : undefined;
}

function stringMap(v: Json | undefined, maxLength: number): Record<string, string> {
  const out: Record<string, string> = {};
  const o = object(v);
  if (o) for (const k in o) if (typeof o[k] === 'string') out[limitName(k)] = limitString(o[k] as string, maxLength);
  return out;
}
