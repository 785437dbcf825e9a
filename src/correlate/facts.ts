import type { Alert } from '../core/alert';

/** What facts are taken from: an alert, or a detection about to become one. */
export type FactSource = Pick<
  Alert,
  'fingerprint' | 'rule' | 'ruleId' | 'priority' | 'tags' | 'summary' | 'event' | 'enrichment' | 'attribution'
>;
import type { EventSource, Json, JsonObject } from '../core/event';
import type { Priority } from '../core/priority';

/**
 * What an incident remembers of a member alert, and what chain steps match on: a small, bounded,
 * flat view. `pod` is `namespace/name`; `user` is the acting user (audit) or the attributed user
 * (runtime); `auditID` is the exec request's (audit) or the attributed session's (runtime).
 */
export interface AlertFacts {
  fingerprint: string;
  /** Event time, ms since the epoch, and as written. */
  timeMs: number;
  time: string;
  source: EventSource;
  rule: string;
  ruleId: string;
  priority: Priority;
  tags: string[];
  summary: string;
  cluster: string;
  namespace?: string;
  pod?: string;
  container?: string;
  user?: string;
  sourceIp?: string;
  auditID?: string;
  /** Subjects a binding in the request grants its role to (`system:serviceaccount:ns:name` for service accounts). */
  bindingSubjects?: string[];
  /** The service account a token was requested for. */
  tokenSubject?: string;
  /** Risky permission ids of the pod's service account (runtime alerts, from the enrichment). */
  podServiceAccountRisks?: string[];
  /** Risky permission ids of the alert's subject (the acting or attributed user). */
  subjectRisks?: string[];
}

const SUMMARY_MAX = 160;
const LIST_MAX = 16;

export function factsOf(alert: FactSource): AlertFacts {
  const e = alert.event;
  const audit = e.audit;
  const ref = audit?.objectRef;
  const namespace = ref?.resource === 'namespaces' && !ref.subresource ? ref.name : e.k8s.namespace;
  const pod = e.k8s.pod ?? (audit && ref?.resource === 'pods' && !ref.subresource ? createdName(e.raw) : undefined);
  const user = e.source === 'k8s_audit' ? (e.actor?.impersonatedUser ?? e.actor?.user) : (alert.attribution?.user ?? undefined);
  const auditID = audit ? audit.auditID : alert.attribution?.auditID;
  const subject = alert.enrichment.subject;
  const risks = subject?.known ? riskIds(subject.findings) : undefined;
  const ofPod = subject?.known === true && subject.origin === 'pod-service-account';
  const attributed = alert.attribution?.subject;
  const subjectRisks = attributed?.known ? riskIds(attributed.findings) : ofPod ? undefined : risks;
  const timeMs = msOf(e.timeNs);
  // The alert's own list when it is short enough (lists are never changed once made): every
  // member kept a copy of it for its incident's life.
  const tags = alert.tags.length > LIST_MAX ? alert.tags.slice(0, LIST_MAX) : alert.tags;
  const summary = alert.summary.length > SUMMARY_MAX ? alert.summary.slice(0, SUMMARY_MAX) + '…' : alert.summary;
  const sourceIp = e.actor?.sourceIp;
  // A runtime alert nobody is attributed (most members): a literal without the fields it never has.
  // Otherwise every field in one literal, absent ones undefined (JSON leaves them out). Either way
  // one shape per kind, all in the object (no property array), the fields in the same order (JSON
  // the same), so the chain matchers' reads stay at two shapes; a timeline keeps up to `maxAlerts`.
  if (!audit && !user && !auditID && !sourceIp)
    return {
      fingerprint: alert.fingerprint,
      timeMs,
      time: e.time,
      source: e.source,
      rule: alert.rule,
      ruleId: alert.ruleId,
      priority: alert.priority,
      tags,
      summary,
      cluster: e.k8s.cluster,
      namespace: namespace || undefined,
      pod: pod && namespace ? podName(namespace, pod) : undefined,
      container: e.k8s.container || undefined,
      podServiceAccountRisks: ofPod ? risks : undefined,
      subjectRisks,
    };
  const facts: AlertFacts = {
    fingerprint: alert.fingerprint,
    timeMs,
    time: e.time,
    source: e.source,
    rule: alert.rule,
    ruleId: alert.ruleId,
    priority: alert.priority,
    tags,
    summary,
    cluster: e.k8s.cluster,
    namespace: namespace || undefined,
    pod: pod && namespace ? podName(namespace, pod) : undefined,
    container: e.k8s.container || undefined,
    user: user || undefined,
    sourceIp: sourceIp || undefined,
    auditID: auditID || undefined,
    bindingSubjects: undefined,
    tokenSubject:
      audit && ref?.resource === 'serviceaccounts' && ref.subresource === 'token' && ref.namespace && ref.name
        ? `system:serviceaccount:${ref.namespace}:${ref.name}`
        : undefined,
    podServiceAccountRisks: ofPod ? risks : undefined,
    subjectRisks,
  };
  if (audit && (ref?.resource === 'rolebindings' || ref?.resource === 'clusterrolebindings')) {
    const subjects = bindingSubjects(e.raw, ref.namespace);
    if (subjects.length) facts.bindingSubjects = subjects;
  }
  return facts;
}

/** No risky permission: one list for every member's facts (lists are never changed once made). */
const NO_RISKS: string[] = Object.freeze([]) as unknown as string[];

/** `findings.map((f) => f.id).slice(0, LIST_MAX)` in one array, and none made for no findings (the usual service account). */
function riskIds(findings: readonly { id: string }[]): string[] {
  if (findings.length === 0) return NO_RISKS;
  const ids = new Array<string>(Math.min(findings.length, LIST_MAX));
  for (let i = 0; i < ids.length; i++) ids[i] = findings[i]!.id;
  return ids;
}

/**
 * `namespace/pod`, one string per pod (interned, bounded): every member's facts would otherwise keep
 * a string of their own (a concatenation, and its flat copy once compared), and the same string again
 * hashes at no cost when it keys a map.
 */
const podNames = new Map<string, Map<string, string>>();
let podNamesSize = 0;
const POD_NAMES = 65_536;

function podName(namespace: string, pod: string): string {
  let names = podNames.get(namespace);
  const known = names?.get(pod);
  if (known !== undefined) return known;
  if (podNamesSize >= POD_NAMES) {
    podNames.clear();
    podNamesSize = 0;
    names = undefined;
  }
  if (!names) podNames.set(namespace, (names = new Map()));
  const name = `${namespace}/${pod}`;
  names.set(pod, name);
  podNamesSize++;
  return name;
}

const DECIMAL = /^\d{7,}$/;

/**
 * `Number(BigInt(timeNs) / 1_000_000n)`: whole milliseconds of a nanosecond count. The usual count
 * (digits only) without the two BigInts (a member's facts are taken for every alert), else by BigInt.
 */
export function msOf(timeNs: string): number {
  return DECIMAL.test(timeNs) ? Number(timeNs.slice(0, -6)) : Number(BigInt(timeNs) / 1_000_000n);
}

/** A fact's values as strings (lists as they are, scalars as one), for matching and variables. */
export function factValues(facts: AlertFacts, name: string): string[] {
  const v = (facts as unknown as Record<string, unknown>)[name];
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [String(v)];
}

export const FACT_NAMES = [
  'fingerprint',
  'source',
  'rule',
  'ruleId',
  'priority',
  'tags',
  'cluster',
  'namespace',
  'pod',
  'container',
  'user',
  'sourceIp',
  'auditID',
  'bindingSubjects',
  'tokenSubject',
  'podServiceAccountRisks',
  'subjectRisks',
] as const;

function createdName(raw: JsonObject): string | undefined {
  for (const field of ['responseObject', 'requestObject'] as const) {
    const name = object(object(raw[field])?.metadata)?.name;
    if (typeof name === 'string' && name !== '') return name;
  }
  return undefined;
}

function bindingSubjects(raw: JsonObject, namespace: string | undefined): string[] {
  for (const field of ['requestObject', 'responseObject'] as const) {
    const list = object(raw[field])?.subjects;
    if (!Array.isArray(list)) continue;
    const out: string[] = [];
    for (const s of list) {
      const o = object(s);
      if (!o || typeof o.name !== 'string') continue;
      if (o.kind === 'User') out.push(o.name);
      else if (o.kind === 'ServiceAccount') {
        const ns = typeof o.namespace === 'string' && o.namespace !== '' ? o.namespace : namespace;
        if (ns) out.push(`system:serviceaccount:${ns}:${o.name}`);
      } else if (o.kind === 'Group') out.push(`group:${o.name}`);
    }
    return out.slice(0, LIST_MAX);
  }
  return [];
}

function object(v: Json | undefined): JsonObject | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}
