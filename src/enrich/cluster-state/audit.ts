import { FINDING_RESOURCES } from '../../findings/normalise';
import { isRecord } from './slim';
import type { ClusterState } from './state';
import { CLUSTER_SCOPED_KINDS, type StateKind } from './types';

/**
 * resource → apiGroup → what it maps to. Looked up with the event's own strings: a `group/resource`
 * key would be a new string per event, flattened and hashed for each lookup, and every audit event
 * (nine in ten of them of no kind kept here) makes two lookups.
 */
function byResource<T>(
  entries: readonly (readonly [group: string, resource: string, value: T])[],
): ReadonlyMap<string, ReadonlyMap<string, T>> {
  const out = new Map<string, Map<string, T>>();
  for (const [group, resource, value] of entries) {
    const groups = out.get(resource) ?? new Map<string, T>();
    groups.set(group, value);
    out.set(resource, groups);
  }
  return out;
}

/** The (apiGroup, resource) pairs whose audit events carry objects ClusterState keeps. */
const KIND_BY_RESOURCE = byResource<StateKind>([
  ['', 'pods', 'Pod'],
  ['', 'namespaces', 'Namespace'],
  ['', 'serviceaccounts', 'ServiceAccount'],
  ['rbac.authorization.k8s.io', 'roles', 'Role'],
  ['rbac.authorization.k8s.io', 'clusterroles', 'ClusterRole'],
  ['rbac.authorization.k8s.io', 'rolebindings', 'RoleBinding'],
  ['rbac.authorization.k8s.io', 'clusterrolebindings', 'ClusterRoleBinding'],
  ['networking.k8s.io', 'networkpolicies', 'NetworkPolicy'],
]);

const WRITE_VERBS = new Set(['create', 'update', 'patch']);

export type AuditApplyResult =
  | { applied: 'upsert' | 'delete'; kind: StateKind; namespace?: string; name: string }
  | { applied: 'finding-upsert' | 'finding-delete'; kind: string; namespace?: string; name: string }
  | { applied: false; reason: string };

/**
 * Feeds one audit event into the state. Only completed, successful writes of the kept kinds count.
 * The object comes from `responseObject` (the stored object, RequestResponse level) or, for create and
 * update, from `requestObject`; a patch's requestObject is only the patch, so it is never used. A
 * subresource write (pods/status, pods/ephemeralcontainers) counts only through its responseObject,
 * which is the whole parent object.
 */
export function applyAuditEvent(state: ClusterState, event: unknown): AuditApplyResult {
  if (!isRecord(event)) return skip('not an object');
  if (event.stage !== undefined && event.stage !== 'ResponseComplete') return skip('not ResponseComplete');
  const ref = isRecord(event.objectRef) ? event.objectRef : undefined;
  if (!ref || typeof ref.resource !== 'string') return skip('no objectRef');
  const kind = KIND_BY_RESOURCE.get(ref.resource)?.get(typeof ref.apiGroup === 'string' ? ref.apiGroup : '');
  if (!kind) return applyAuditFinding(state, event, ref);
  const code = isRecord(event.responseStatus) ? event.responseStatus.code : undefined;
  if (typeof code !== 'number' || code >= 300) return skip('not successful');
  const verb = event.verb;
  const subresource = typeof ref.subresource === 'string' && ref.subresource !== '' ? ref.subresource : undefined;
  const namespace =
    typeof ref.namespace === 'string' && ref.namespace !== '' && !CLUSTER_SCOPED_KINDS.has(kind) ? ref.namespace : undefined;

  if (verb === 'delete' && !subresource) {
    if (typeof ref.name !== 'string' || ref.name === '') return skip('delete without a name');
    const response = isRecord(event.responseObject) ? event.responseObject : undefined;
    const rv = response && isRecord(response.metadata) ? response.metadata.resourceVersion : undefined;
    state.delete(kind, namespace, ref.name, typeof rv === 'string' ? rv : undefined);
    return { applied: 'delete', kind, ...(namespace ? { namespace } : {}), name: ref.name };
  }
  if (typeof verb !== 'string' || !WRITE_VERBS.has(verb)) return skip(`verb ${String(verb)} not applied`);

  const object = pickObject(event, kind, verb, subresource);
  if (!object) return skip('no usable object');
  if (!state.upsert(withNamespace(object, namespace), kind)) return skip('object rejected or stale');
  const meta = isRecord(object.metadata) ? object.metadata : {};
  return { applied: 'upsert', kind, ...(namespace ? { namespace } : {}), name: String(meta.name ?? ref.name) };
}

function pickObject(
  event: Record<string, unknown>,
  kind: StateKind,
  verb: string,
  subresource: string | undefined,
): Record<string, unknown> | undefined {
  const response = event.responseObject;
  if (isRecord(response) && response.kind === kind) return response;
  if (verb === 'patch' || subresource) return undefined;
  const request = event.requestObject;
  if (isRecord(request) && (request.kind === kind || request.kind === undefined)) return request;
  return undefined;
}

/** A requestObject may omit metadata.namespace (it comes from the URL); objectRef has it. */
function withNamespace(object: Record<string, unknown>, namespace: string | undefined): Record<string, unknown> {
  if (!namespace || !isRecord(object.metadata) || typeof object.metadata.namespace === 'string') return object;
  return { ...object, metadata: { ...object.metadata, namespace } };
}

function skip(reason: string): AuditApplyResult {
  return { applied: false, reason };
}

/** The report kinds read from the audit stream, by resource and group. */
const FINDING_KIND_BY_RESOURCE = byResource(FINDING_RESOURCES.map((r) => [r.group, r.resource, r.kind] as const));
const GATEKEEPER_CONSTRAINTS = 'constraints.gatekeeper.sh';

/**
 * A write of a policy or vulnerability report, a Gatekeeper constraint (its status carries the audit's
 * violations), or an Event. What arrives here is live: a finding it adds is news. The object must be the
 * whole stored one (responseObject, or a create/update's requestObject); a patch without a
 * responseObject is skipped, as for the other kinds.
 */
function applyAuditFinding(state: ClusterState, event: Record<string, unknown>, ref: Record<string, unknown>): AuditApplyResult {
  const group = typeof ref.apiGroup === 'string' ? ref.apiGroup : '';
  const resource = ref.resource as string;
  const isEvent = resource === 'events' && (group === '' || group === 'events.k8s.io');
  const known = FINDING_KIND_BY_RESOURCE.get(resource)?.get(group);
  if (!known && !isEvent && group !== GATEKEEPER_CONSTRAINTS) return skip('kind not kept');
  const code = isRecord(event.responseStatus) ? event.responseStatus.code : undefined;
  if (typeof code !== 'number' || code >= 300) return skip('not successful');
  const namespace = typeof ref.namespace === 'string' && ref.namespace !== '' ? ref.namespace : undefined;
  const name = typeof ref.name === 'string' ? ref.name : undefined;
  const response = isRecord(event.responseObject) ? event.responseObject : undefined;
  if (event.verb === 'delete' && (ref.subresource === undefined || ref.subresource === '')) {
    const kind = known ?? (isEvent ? 'Event' : typeof response?.kind === 'string' ? response.kind : undefined);
    if (!kind || !name) return skip('delete without a kind or name');
    state.deleteFinding(kind, namespace, name, 'live');
    return { applied: 'finding-delete', kind, ...(namespace ? { namespace } : {}), name };
  }
  const verb = event.verb;
  if (typeof verb !== 'string' || !WRITE_VERBS.has(verb)) return skip(`verb ${String(verb)} not applied`);
  const request = isRecord(event.requestObject) ? event.requestObject : undefined;
  const hasSub = typeof ref.subresource === 'string' && ref.subresource !== '';
  const object = response?.kind !== undefined ? response : verb === 'patch' || hasSub ? undefined : request;
  if (!object) return skip('no usable object');
  const withVersion =
    object.apiVersion === undefined && typeof ref.apiVersion === 'string'
      ? { ...object, apiVersion: group ? `${group}/${ref.apiVersion}` : ref.apiVersion }
      : object;
  if (!state.upsertFinding(withNamespace(withVersion, namespace), 'live')) return skip('object rejected');
  const kind = typeof object.kind === 'string' ? object.kind : (known ?? 'Event');
  return { applied: 'finding-upsert', kind, ...(namespace ? { namespace } : {}), name: name ?? '' };
}
