import type { FalcoInfo, JsonObject, SecurityEvent } from '../core/event';
import { InvalidEventError } from '../core/errors';
import { parsePriority } from '../core/priority';
import { createHash } from 'node:crypto';
import { nsToRfc3339, rfc3339ToNs } from './time';
import {
  boundId,
  boundJson,
  cleanField,
  limitName,
  limitString,
  MAX_LIST_ENTRIES,
  MAX_NAME_LENGTH,
  type NormaliseContext,
} from './normalise';

type FieldValue = string | number | boolean | null;

/**
 * A Falco event as Falcosidekick's webhook output or Falco's http_output POSTs it, normalised.
 * Rejects only what cannot become an alert (Falco's http_output ignores our answer: a rejected
 * event is lost): no rule, an unknown priority, no usable time. Unknown keys are kept in `raw`.
 */
export function normaliseFalco(body: JsonObject, ctx: NormaliseContext): SecurityEvent {
  const rule = body.rule;
  if (typeof rule !== 'string' || rule.trim() === '') throw new InvalidEventError('"rule" must be a non-empty string');
  const priority = parsePriority(body.priority);
  if (!priority) {
    throw new InvalidEventError(
      `"priority" must be one of Emergency, Alert, Critical, Error, Warning, Notice, Informational (or Info), Debug; got ${JSON.stringify(body.priority ?? null).slice(0, 40)}`,
    );
  }
  const rawFields = body.output_fields ?? {};
  if (typeof rawFields !== 'object' || rawFields === null || Array.isArray(rawFields)) {
    throw new InvalidEventError('"output_fields" must be an object');
  }
  const raw = boundJson(body, ctx.maxFieldLength, ctx.strings);
  const fields = fieldsOf(rawFields, raw.value === body, ctx.maxFieldLength);

  const stated = typeof body.time === 'string' ? rfc3339ToNs(body.time) : undefined;
  const timeNs = eventTimeNs(stated, fields['evt.time']);
  if (!timeNs) throw new InvalidEventError('"time" must be an RFC 3339 timestamp (or output_fields["evt.time"] in ns)');
  const time = stated ? (body.time as string) : nsToRfc3339(timeNs);

  const output = typeof body.output === 'string' ? limitString(body.output, ctx.maxFieldLength) : rule;
  const tags = Array.isArray(body.tags)
    ? body.tags
        .filter((t): t is string => typeof t === 'string')
        .slice(0, MAX_LIST_ENTRIES)
        .map(limitName)
    : [];
  const source = typeof body.source === 'string' && body.source !== '' ? limitName(body.source) : 'syscall';
  const falco: FalcoInfo = {
    rule: limitName(rule),
    priority,
    output,
    source,
    hostname: typeof body.hostname === 'string' ? limitName(body.hostname) : undefined,
    tags,
    fields,
  };

  const isAudit = source === 'k8s_audit';
  const namespace = cleanField(isAudit ? fields['ka.target.namespace'] : fields['k8s.ns.name']);
  const pod = cleanField(isAudit ? podTarget(fields) : fields['k8s.pod.name']);
  const repository = cleanField(fields['container.image.repository']);
  const tag = cleanField(fields['container.image.tag']);
  const user = cleanField(isAudit ? fields['ka.user.name'] : fields['user.name']);

  return {
    id: typeof body.uuid === 'string' && body.uuid !== '' ? boundId(body.uuid) : contentId(rule, time, falco.hostname, output),
    source: 'falco',
    time,
    timeNs,
    receivedAt: ctx.receivedAt,
    k8s: {
      cluster: clusterField(fields.cluster) ?? ctx.cluster,
      namespace,
      pod,
      container: cleanField(fields['container.name']),
      containerId: cleanField(fields['container.id']),
      image: repository ? (tag ? `${repository}:${tag}` : repository) : undefined,
    },
    actor: isAudit && user ? { user, groups: [] } : undefined,
    process: isAudit
      ? undefined
      : {
          name: cleanField(fields['proc.name']),
          cmdline: cleanField(fields['proc.cmdline']),
          tty: typeof fields['proc.tty'] === 'number' ? fields['proc.tty'] : undefined,
          user,
        },
    falco,
    raw: raw.value,
    // The raw payload and the normalised copy of its fields and output.
    sizeBytes: raw.bytes * 2,
  };
}

const CLUSTER_NAME = /^[A-Za-z0-9]([-A-Za-z0-9._]{0,61}[A-Za-z0-9])?$/;

/** A `cluster` output field (Falcosidekick `customfields`, Falco `static_fields`) names the cluster when it is a valid name. */
function clusterField(v: FieldValue | undefined): string | undefined {
  return typeof v === 'string' && CLUSTER_NAME.test(v) ? v : undefined;
}

function podTarget(fields: Record<string, FieldValue>): FieldValue {
  return fields['ka.target.resource'] === 'pods' ? (fields['ka.target.name'] ?? null) : null;
}

/**
 * `output_fields` with names of at most MAX_NAME_LENGTH and scalar values within `maxLength`. Most
 * payloads already are that: when boundJson found nothing to cut (`clean`) and every value is a
 * scalar, the payload's own object is the answer, shared with `raw` instead of copied (nothing
 * changes an event after it is normalised). That copy was a fifth of normalising a Falco event.
 */
function fieldsOf(rawFields: JsonObject, clean: boolean, maxLength: number): Record<string, FieldValue> {
  if (clean && scalarsWithShortNames(rawFields)) return rawFields as Record<string, FieldValue>;
  const fields: Record<string, FieldValue> = {};
  for (const key in rawFields) fields[limitName(key)] = scalar(rawFields[key]!, maxLength);
  return fields;
}

function scalarsWithShortNames(o: JsonObject): boolean {
  for (const key in o) {
    const v = o[key];
    if (key.length > MAX_NAME_LENGTH || (v !== null && typeof v === 'object')) return false;
  }
  return true;
}

function scalar(v: JsonObject[string], maxLength: number): FieldValue {
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'string') return limitString(v, maxLength);
  return limitString(JSON.stringify(v), maxLength);
}

/** `time` (`stated`: in ns) wins; `evt.time` (exact ns, kept as a string by the parser when beyond 2^53) is the fallback. */
function eventTimeNs(stated: string | undefined, evtTime: FieldValue | undefined): string | undefined {
  if (stated && stated !== '0') return stated;
  if (typeof evtTime === 'string' && /^\d{1,20}$/.test(evtTime) && evtTime !== '0') return evtTime;
  if (typeof evtTime === 'number' && Number.isSafeInteger(evtTime) && evtTime > 0) return String(evtTime);
  return undefined;
}

/** Falco's own http_output sends no uuid: derive a stable id so a retried POST is recognisable. */
function contentId(rule: string, time: string, hostname: string | undefined, output: string): string {
  return createHash('sha256')
    .update(`${rule}\0${time}\0${hostname ?? ''}\0${output}`.toWellFormed())
    .digest('hex')
    .slice(0, 32);
}
