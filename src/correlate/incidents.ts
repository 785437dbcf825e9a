import { createHash } from 'node:crypto';
import type { AlertIncident } from '../core/alert';
import { priorityRank, type Priority } from '../core/priority';
import type { StateStore } from '../store/port';
import { chainSeverity, matchChain, type ChainDef } from './chains';
import { factsOf, type AlertFacts, type FactSource } from './facts';
import { ParsedCache } from './state';

/**
 * Alerts that share a pod or a subject within the window, as one story. `timeline` is oldest first
 * across sources; `severity` is the highest member's, raised above it when a chain matched.
 */
export interface Incident {
  id: string;
  severity: Priority;
  /** The highest member priority. */
  memberSeverity: Priority;
  chain: string | null;
  chainMatch?: { name: string; alerts: string[]; variables: Record<string, string>; runbook?: string };
  /** Member fingerprints, first-joined first (bounded; `alertCount` counts them all). */
  alerts: string[];
  alertCount: number;
  pods: string[];
  subjects: string[];
  timeline: AlertFacts[];
  firstTime: string;
  lastTime: string;
  /** Event time, ms. */
  firstMs: number;
  lastMs: number;
  /** The first alert's fingerprint: its announcement is the incident's parent message. */
  parent: string;
  /** The member whose arrival completed the chain. */
  chainCompletedBy?: string;
}

export interface IncidentOptions {
  windowMs: number;
  maxAlerts: number;
  chains: readonly ChainDef[];
  /** Incidents kept for listing (this replica's recent ones). */
  recent: number;
}

const LIST_MAX = 32;
/** Timeline entries an alert carries of its incident (the parent message shows them). */
const TIMELINE_SHOWN = 5;
const INCIDENT = 'corr:i:';
const BY_KEY = 'corr:ik:';
const CAS_ATTEMPTS = 8;

/** Users whose activity is the cluster running itself: they do not tie alerts together. */
function joinsBySubject(user: string): boolean {
  if (user.startsWith('group:')) return false;
  if (user.startsWith('system:serviceaccount:')) return !user.startsWith('system:serviceaccount:kube-system:');
  return !user.startsWith('system:');
}

/** The keys an alert joins incidents by: its pod, its subjects, and the namespace it is in. */
export function incidentKeys(f: AlertFacts): { join: string[]; lookup: string[] } {
  const join: string[] = [];
  if (f.pod) join.push(`p:${f.cluster}/${f.pod}`);
  const subjects = [f.user, f.tokenSubject, ...(f.bindingSubjects ?? [])].filter((u): u is string => !!u && joinsBySubject(u));
  for (const u of new Set(subjects)) join.push(`u:${f.cluster}/${u}`);
  const lookup = [...join];
  // A change to a namespace (its PodSecurity labels) ties it to what happens in that namespace next.
  if (f.namespace && !f.pod && f.source === 'k8s_audit' && f.ruleId.startsWith('namespace-'))
    join.push(`n:${f.cluster}/${f.namespace}`);
  if (f.namespace) lookup.push(`n:${f.cluster}/${f.namespace}`);
  return { join, lookup: [...new Set([...lookup, ...join])] };
}

function subjectsOf(f: AlertFacts): string[] {
  return [f.user, f.tokenSubject, ...(f.bindingSubjects ?? [])].filter((u): u is string => !!u && !u.startsWith('group:'));
}

function incidentId(f: AlertFacts): string {
  return 'inc-' + createHash('sha256').update(`${f.fingerprint}\0${f.timeMs}`).digest('hex').slice(0, 16);
}

function addUnique(list: string[], values: string[]): string[] {
  const out = [...list];
  for (const v of values) if (!out.includes(v) && out.length < LIST_MAX) out.push(v);
  return out;
}

/** Pure: the incident with one more member (or a member's newer facts), chains evaluated again. */
export function withMember(incident: Incident | undefined, f: AlertFacts, options: IncidentOptions): Incident {
  const base: Incident = incident ?? {
    id: incidentId(f),
    severity: f.priority,
    memberSeverity: f.priority,
    chain: null,
    alerts: [],
    alertCount: 0,
    pods: [],
    subjects: [],
    timeline: [],
    firstTime: f.time,
    lastTime: f.time,
    firstMs: f.timeMs,
    lastMs: f.timeMs,
    parent: f.fingerprint,
  };
  const known = base.alerts.includes(f.fingerprint);
  const timeline = base.timeline.filter((t) => t.fingerprint !== f.fingerprint || t.timeMs !== f.timeMs);
  timeline.push(f);
  timeline.sort((a, b) => a.timeMs - b.timeMs);
  while (timeline.length > options.maxAlerts) timeline.shift();
  const memberSeverity = priorityRank(f.priority) > priorityRank(base.memberSeverity) ? f.priority : base.memberSeverity;
  const next: Incident = {
    ...base,
    memberSeverity,
    alerts: known || base.alerts.length >= options.maxAlerts ? base.alerts : [...base.alerts, f.fingerprint],
    alertCount: base.alertCount + (known ? 0 : 1),
    pods: addUnique(base.pods, f.pod ? [`${f.cluster}/${f.pod}`] : []),
    subjects: addUnique(base.subjects, subjectsOf(f)),
    timeline,
    firstTime: f.timeMs < base.firstMs ? f.time : base.firstTime,
    firstMs: Math.min(base.firstMs, f.timeMs),
    lastTime: f.timeMs > base.lastMs ? f.time : base.lastTime,
    lastMs: Math.max(base.lastMs, f.timeMs),
  };
  const previousChain = base.chain;
  next.severity = memberSeverity;
  if (base.chain && base.chainMatch) {
    // A matched chain stays (its members stay in the timeline's story); the severity follows the members.
    const chain = options.chains.find((c) => c.chain === base.chain);
    if (chain) next.severity = chainSeverity(chain, memberSeverity);
    return next;
  }
  next.chain = null;
  delete next.chainMatch;
  delete next.chainCompletedBy;
  // The newest member can only complete a chain as its last step; a late one (not newest) may fit anywhere.
  const newest = timeline.at(-1) === f ? f : undefined;
  for (const chain of options.chains) {
    if (!chain.enabled) continue;
    const match = matchChain(chain, timeline, newest);
    if (!match) continue;
    next.chain = chain.chain;
    next.severity = chainSeverity(chain, memberSeverity);
    next.chainMatch = {
      name: chain.name,
      alerts: match.fingerprints,
      variables: match.variables,
      ...(chain.runbook ? { runbook: chain.runbook } : {}),
    };
    next.chainCompletedBy = previousChain === chain.chain && base.chainCompletedBy ? base.chainCompletedBy : f.fingerprint;
    break;
  }
  return next;
}

/**
 * Each timeline entry's JSON, by the (never mutated) facts object: a new member re-serialises only
 * itself and the small head, not the up to `maxAlerts` entries before it. The record is ~12 KB at
 * 50 members; stringifying it whole on every new member was most of the incident cost (bench/correlate.js).
 * Weak, so entries dropped from every cached incident go with them.
 */
const entryText = new WeakMap<AlertFacts, string>();

/** The incident as stored: `JSON.stringify(incident)` but for key order, from cached entry texts. */
export function serialiseIncident(incident: Incident): string {
  const { timeline, ...head } = incident;
  const entries = timeline.map((t) => {
    let text = entryText.get(t);
    if (text === undefined) {
      text = JSON.stringify(t);
      entryText.set(t, text);
    }
    return text;
  });
  // The head always has fields (`id` first), so it ends in `}` after at least one of them.
  return `${JSON.stringify(head).slice(0, -1)},"timeline":[${entries.join(',')}]}`;
}

export function incidentRef(incident: Incident): AlertIncident {
  return {
    id: incident.id,
    parent: incident.parent,
    severity: incident.severity,
    alerts: incident.alertCount,
    chain: incident.chain,
    ...(incident.chainCompletedBy ? { chainCompletedBy: incident.chainCompletedBy } : {}),
    timeline: incident.timeline.slice(-TIMELINE_SHOWN).map((t) => ({
      time: t.time,
      source: t.source,
      rule: t.rule,
      ...(t.user ? { user: t.user } : {}),
    })),
  };
}

/**
 * Incidents in the state store: `corr:i:<id>` holds the incident, `corr:ik:<key>` the incident a pod
 * or subject key currently belongs to. Both expire a window after the last member. Updated by
 * compare-and-set, so replicas agree; event time decides membership.
 */
export class IncidentTracker {
  private readonly recentIds = new Map<string, true>();
  private readonly parsed: ParsedCache<Incident>;
  /** The incident each recently seen fingerprint joined: a repeat occurrence goes straight to it. */
  private readonly memberOf = new Map<string, string>();

  constructor(
    private readonly store: StateStore,
    private readonly options: IncidentOptions,
  ) {
    this.parsed = new ParsedCache<Incident>(options.recent);
  }

  /** Puts the alert (or detection about to become one) into its incident; the incident as it now stands. */
  async add(alert: FactSource, changedMember = false): Promise<{ incident: Incident; created: boolean; changed: boolean }> {
    // A repeat of a member (a deduplicated occurrence) changes nothing: no write, no update. Past
    // `maxAlerts` members only this replica's memory tells a repeat from a new member. A member whose
    // facts changed (a late attribution) is written again, its timeline entry replaced.
    const known = changedMember ? undefined : this.memberOf.get(alert.fingerprint);
    if (known) {
      const incident = await this.get(known);
      if (incident) return { incident, created: false, changed: false };
    }
    const facts = factsOf(alert);
    const keys = incidentKeys(facts);
    const ttl = this.options.windowMs * 2;
    const ids = new Set<string>();
    for (const key of keys.lookup) {
      const id = await this.store.get(BY_KEY + key);
      if (id) ids.add(id);
    }
    const candidates: Incident[] = [];
    for (const id of ids) {
      const found = await this.get(id);
      if (found && facts.timeMs <= found.lastMs + this.options.windowMs && facts.timeMs >= found.firstMs - this.options.windowMs)
        candidates.push(found);
    }
    candidates.sort((a, b) => a.firstMs - b.firstMs || (a.id < b.id ? -1 : 1));
    const chosen = candidates[0];
    if (!changedMember && chosen && chosen.alerts.includes(facts.fingerprint)) {
      this.rememberMember(facts.fingerprint, chosen.id);
      return { incident: chosen, created: false, changed: false };
    }
    let created = false;
    let incident: Incident | undefined;
    const key = chosen ? INCIDENT + chosen.id : INCIDENT + incidentId(facts);
    for (let attempt = 0; attempt < CAS_ATTEMPTS && !incident; attempt++) {
      const raw = await this.store.get(key);
      const before = raw === undefined ? undefined : this.parsed.parse(key.slice(INCIDENT.length), raw);
      const next = withMember(before, facts, this.options);
      const text = serialiseIncident(next);
      const ok = raw === undefined ? await this.store.setIfAbsent(key, text, ttl) : await this.store.replace(key, raw, text, ttl);
      if (ok) {
        incident = next;
        created = raw === undefined;
        this.parsed.put(next.id, text, next);
      }
    }
    if (!incident) throw new Error(`incident ${key} kept changing under us`);
    for (const k of keys.join) await this.store.set(BY_KEY + k, incident.id, ttl);
    this.remember(incident.id);
    this.rememberMember(facts.fingerprint, incident.id);
    return { incident, created, changed: true };
  }

  async get(id: string): Promise<Incident | undefined> {
    const raw = await this.store.get(INCIDENT + id);
    return raw === undefined ? undefined : this.parsed.parse(id, raw);
  }

  /** This replica's recent incidents, newest change first. */
  async list(limit: number): Promise<Incident[]> {
    const ids = [...this.recentIds.keys()].reverse().slice(0, limit);
    const found = await Promise.all(ids.map((id) => this.get(id)));
    return found.filter((i): i is Incident => i !== undefined);
  }

  private rememberMember(fingerprint: string, id: string): void {
    this.memberOf.delete(fingerprint);
    this.memberOf.set(fingerprint, id);
    if (this.memberOf.size > this.options.recent * 10) this.memberOf.delete(this.memberOf.keys().next().value as string);
  }

  private remember(id: string): void {
    this.recentIds.delete(id);
    this.recentIds.set(id, true);
    if (this.recentIds.size > this.options.recent) this.recentIds.delete(this.recentIds.keys().next().value as string);
  }
}
