import { createHash } from 'node:crypto';
import type { AlertIncident } from '../core/alert';
import { priorityRank, type Priority } from '../core/priority';
import type { LazyValue, StateStore } from '../store/port';
import { chainSeverity, matchChain, type ChainDef } from './chains';
import { factsOf, type AlertFacts, type FactSource } from './facts';
import {
  GenerationalCache,
  ParsedCache,
  lazyText,
  localStore,
  readValue,
  sameValue,
  textOf,
  updateList,
  updateLocalList,
  type LazyText,
  whenDone,
  type LocalStore,
} from './state';
import {
  admitsOf,
  deriveTimeline,
  entriesJson,
  entryOf,
  entryText,
  hasMember,
  lazyEntry,
  listJson,
  mayMatch,
  stepCounts,
  settleTimeline,
  stepSlots,
  timelineView,
  withAlert,
  withLocalKey,
  withMeta,
  withNewest,
} from './timeline';

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
  /** Incidents merged into this one (an alert linked them), with the alerts each brought. */
  mergedFrom?: Record<string, number>;
}

export interface IncidentOptions {
  windowMs: number;
  maxAlerts: number;
  chains: readonly ChainDef[];
  /** Incidents kept for listing (`GET /v1/incidents`, from the state store) and cached parsed. */
  recent: number;
  /**
   * The store is this process's alone (embedded mode): heads and the listing are kept as lazy values
   * where the store allows (`StateStore.peek`), their text made only if read or written out.
   */
  exclusiveStore?: boolean;
}

const LIST_MAX = 32;
/** Timeline entries an alert carries of its incident (the parent message shows them). */
const TIMELINE_SHOWN = 5;
const INCIDENT = 'corr:i:';
const ENTRY = 'corr:ie:';
const BY_KEY = 'corr:ik:';
const LISTING = 'corr:il:';
/** Listing shards: creating incidents on several replicas at once contends for one record less. */
const LISTING_SHARDS = 8;
const LISTING_TTL_MS = 24 * 3_600_000;
const CAS_ATTEMPTS = 8;
/** Redirects followed from an absorbed incident to its survivor (merges chain: each survivor is older). */
const MAX_REDIRECTS = 8;
/** Timeline entries cached parsed (they never change: an entry's key is its text's hash). */
const ENTRY_CACHE = 8192;
/** Heads kept lazy (unmade) at most: the incidents still growing; the others are made and let go of. */
const LAZY_HEADS = 4096;
/** Of a TTL, how much longer an incident key is written for than it must live (see `joinKeys`). */
const KEY_SLACK = 1 / 8;

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
  joinSubject(join, f.cluster, f.user);
  joinSubject(join, f.cluster, f.tokenSubject);
  if (f.bindingSubjects) for (const u of f.bindingSubjects) joinSubject(join, f.cluster, u);
  // Every join key is looked up, and the namespace's (a change to its PodSecurity labels joins it).
  const lookup = [...join];
  if (f.namespace) {
    const key = `n:${f.cluster}/${f.namespace}`;
    lookup.push(key);
    // A change to a namespace (its PodSecurity labels) ties it to what happens in that namespace next.
    if (!f.pod && f.source === 'k8s_audit' && f.ruleId.startsWith('namespace-')) join.push(key);
  }
  return { join, lookup };
}

/** A subject's join key, once (a function of its own: a closure per alert was made for it). */
function joinSubject(join: string[], cluster: string, u: string | undefined): void {
  if (!u || !joinsBySubject(u)) return;
  const key = `u:${cluster}/${u}`;
  if (!join.includes(key)) join.push(key);
}

function subjectsOf(f: AlertFacts): string[] {
  return [f.user, f.tokenSubject, ...(f.bindingSubjects ?? [])].filter((u): u is string => !!u && !u.startsWith('group:'));
}

/** `addUnique(pods, ["cluster/pod"])` without the string and its array when the pod is listed already (the usual member). */
function withPod(pods: string[], f: AlertFacts): string[] {
  if (!f.pod) return pods;
  const length = f.cluster.length + 1 + f.pod.length;
  for (const p of pods)
    if (p.length === length && p.endsWith(f.pod) && p.startsWith(f.cluster) && p[f.cluster.length] === '/') return pods;
  return addUnique(pods, [`${f.cluster}/${f.pod}`]);
}

function incidentId(f: AlertFacts): string {
  return 'inc-' + createHash('sha256').update(`${f.fingerprint}\0${f.timeMs}`).digest('hex').slice(0, 16);
}

/** The list with the new values; the very same array when none is new (its stored text is reused). */
function addUnique(list: string[], values: string[]): string[] {
  let out = list;
  for (const v of values) {
    if (out.includes(v) || out.length >= LIST_MAX) continue;
    if (out === list) out = [...list];
    out.push(v);
  }
  return out;
}

/** Pure: the incident with one more member (or a member's newer facts), chains evaluated again. */
export function withMember(
  incident: Incident | undefined,
  f: AlertFacts,
  options: IncidentOptions,
  /** Whether `f`'s fingerprint is a member already, when the caller just looked. */
  member?: boolean,
): Incident {
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
  const known = member ?? hasMember(base.alerts, f.fingerprint);
  const last = base.timeline.at(-1);
  let timeline: AlertFacts[];
  if (!last || last.timeMs < f.timeMs) {
    // The usual case: newer than every entry, so none has its time (none to replace) and nothing to sort.
    timeline = withNewest(base.timeline, f, options.maxAlerts);
  } else {
    timeline = base.timeline.filter((t) => t.fingerprint !== f.fingerprint || t.timeMs !== f.timeMs);
    timeline.push(f);
    timeline.sort((a, b) => a.timeMs - b.timeMs);
    while (timeline.length > options.maxAlerts) timeline.shift();
  }
  const memberSeverity = priorityRank(f.priority) > priorityRank(base.memberSeverity) ? f.priority : base.memberSeverity;
  const next: Incident = {
    ...base,
    memberSeverity,
    alerts: known || base.alerts.length >= options.maxAlerts ? base.alerts : withAlert(base.alerts, f.fingerprint),
    alertCount: base.alertCount + (known ? 0 : 1),
    pods: withPod(base.pods, f),
    subjects: f.user || f.tokenSubject || f.bindingSubjects ? addUnique(base.subjects, subjectsOf(f)) : base.subjects,
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
  // The newest member can only complete a chain as its last step; a late one (not newest) may fit
  // anywhere, but a match has to include it (any other was looked for before).
  const newest = timeline.at(-1) === f ? f : undefined;
  // Chains whose steps the timeline cannot fill (counted per step, kept up as members come and go)
  // are not searched: a new member of a full incident costs the same however long its timeline is.
  deriveTimeline(base.timeline, timeline);
  const counts = stepCounts(timeline, options.chains);
  const admits = admitsOf(f, options.chains);
  const { offsets } = stepSlots(options.chains);
  for (let c = 0; c < options.chains.length; c++) {
    const chain = options.chains[c]!;
    if (!chain.enabled || !mayMatch(chain, offsets[c]!, counts, admits, newest !== undefined)) continue;
    const match = matchChain(chain, timeline, newest, newest ? undefined : f);
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

function sameEntry(a: AlertFacts, b: AlertFacts): boolean {
  return a.fingerprint === b.fingerprint && a.timeMs === b.timeMs;
}

/**
 * Pure: the survivor with an absorbed incident's members (an alert linked the two). Merging the
 * same absorbed incident again (it grew meanwhile, on another replica) adds only what it gained:
 * `mergedFrom` remembers what each brought. A chain either had stays; otherwise the merged timeline
 * is searched whole, since the two halves of a chain may have been apart until now.
 */
export function mergeIncidents(survivor: Incident, absorbed: Incident, options: IncidentOptions): Incident {
  const counted = survivor.mergedFrom?.[absorbed.id] ?? 0;
  const timeline = [...survivor.timeline];
  for (const t of absorbed.timeline) if (!timeline.some((s) => sameEntry(s, t))) timeline.push(t);
  timeline.sort((a, b) => a.timeMs - b.timeMs);
  while (timeline.length > options.maxAlerts) timeline.shift();
  const memberSeverity =
    priorityRank(absorbed.memberSeverity) > priorityRank(survivor.memberSeverity)
      ? absorbed.memberSeverity
      : survivor.memberSeverity;
  const alerts = [...survivor.alerts];
  for (const a of absorbed.alerts) if (!alerts.includes(a) && alerts.length < options.maxAlerts) alerts.push(a);
  const next: Incident = {
    ...survivor,
    memberSeverity,
    severity: memberSeverity,
    alerts,
    alertCount: survivor.alertCount - counted + absorbed.alertCount,
    pods: addUnique(survivor.pods, absorbed.pods),
    subjects: addUnique(survivor.subjects, absorbed.subjects),
    timeline,
    firstTime: absorbed.firstMs < survivor.firstMs ? absorbed.firstTime : survivor.firstTime,
    firstMs: Math.min(survivor.firstMs, absorbed.firstMs),
    lastTime: absorbed.lastMs > survivor.lastMs ? absorbed.lastTime : survivor.lastTime,
    lastMs: Math.max(survivor.lastMs, absorbed.lastMs),
    mergedFrom: { ...survivor.mergedFrom, [absorbed.id]: absorbed.alertCount },
  };
  const kept = survivor.chain && survivor.chainMatch ? survivor : absorbed.chain && absorbed.chainMatch ? absorbed : undefined;
  if (kept) {
    next.chain = kept.chain;
    next.chainMatch = kept.chainMatch!;
    if (kept.chainCompletedBy) next.chainCompletedBy = kept.chainCompletedBy;
    else delete next.chainCompletedBy;
  } else {
    for (const chain of options.chains) {
      if (!chain.enabled) continue;
      const match = matchChain(chain, timeline);
      if (!match) continue;
      next.chain = chain.chain;
      next.chainMatch = {
        name: chain.name,
        alerts: match.fingerprints,
        variables: match.variables,
        ...(chain.runbook ? { runbook: chain.runbook } : {}),
      };
      next.chainCompletedBy = match.fingerprints.at(-1)!;
      break;
    }
  }
  const chain = next.chain ? options.chains.find((c) => c.chain === next.chain) : undefined;
  if (chain) next.severity = chainSeverity(chain, memberSeverity);
  return next;
}

/**
 * On the incident object (never mutated once made; a non-enumerable symbol, not a WeakMap entry per
 * incident version): every occurrence of a member carries the same reference.
 */
const REF = Symbol('incident ref');

export function incidentRef(incident: Incident): AlertIncident {
  const known = (incident as Incident & { [REF]?: AlertIncident })[REF];
  if (known) return known;
  const ref = makeRef(incident);
  Object.defineProperty(incident, REF, { value: ref, enumerable: false });
  return ref;
}

function makeRef(incident: Incident): AlertIncident {
  return {
    id: incident.id,
    parent: incident.parent,
    severity: incident.severity,
    alerts: incident.alertCount,
    chain: incident.chain,
    ...(incident.chainCompletedBy ? { chainCompletedBy: incident.chainCompletedBy } : {}),
    timeline: shownOf(incident.timeline),
  };
}

/** `timeline.slice(-TIMELINE_SHOWN).map(timelineView)` in one array (a reference is made per incident version). */
function shownOf(timeline: readonly AlertFacts[]): NonNullable<AlertIncident['timeline']> {
  const from = Math.max(0, timeline.length - TIMELINE_SHOWN);
  const shown = new Array<ReturnType<typeof timelineView>>(timeline.length - from);
  for (let i = from; i < timeline.length; i++) shown[i - from] = timelineView(timeline[i]!);
  return shown;
}

/**
 * What `corr:i:<id>` holds: the incident without its timeline, which is kept entry by entry under
 * `corr:ie:<hash of the entry's text>` (written once, never changed, shared by a merged incident),
 * so a new member writes its own entry and a small head instead of the whole incident. An absorbed
 * incident's head says where it went.
 */
interface IncidentHead extends Omit<Incident, 'timeline'> {
  entries: string[];
  mergedInto?: string;
}

/**
 * The incident's head as stored: the incident but for its timeline, which it names by entry keys
 * (`IncidentHead`). Written on every new member, so the long lists are assembled from cached texts:
 * entry keys are base64url (nothing to escape), member lists keep their text while unchanged.
 */
export function serialiseHead(incident: Incident, mergedInto?: string): string {
  const { timeline, alerts, pods, subjects, ...rest } = incident;
  const head = JSON.stringify(mergedInto ? { ...rest, mergedInto } : rest);
  const entries = entriesJson(timeline);
  // `rest` always has fields (`id` first), so its text ends in `}` after at least one of them.
  return `${head.slice(0, -1)},"alerts":${listJson(alerts)},"pods":${listJson(pods)},"subjects":${listJson(subjects)},"entries":${entries}}`;
}

/** What `IncidentTracker.add` did: the incident as it now stands, and the incidents merged into it. */
export interface Added {
  incident: Incident;
  created: boolean;
  changed: boolean;
  absorbed: Incident[];
}

interface Loaded {
  /** The head as read (what a compare-and-set expects): its text, or the lazy value this process wrote. */
  raw: LazyValue;
  incident: Incident;
  mergedInto?: string;
}

/**
 * Incidents in the state store: `corr:i:<id>` holds the incident's head, `corr:ie:<key>` its timeline
 * entries, `corr:ik:<key>` the incident a pod or subject key currently belongs to, and `corr:il:<n>`
 * the recent incidents for listing. Heads and keys expire a window after the last member. Heads are
 * updated by compare-and-set, so replicas agree; event time decides membership. An alert that links
 * two incidents merges them: the older one (first event time, then id) survives, the other redirects.
 */
export class IncidentTracker {
  /** Heads as read, with the incident assembled from them (reading an unchanged head again is a string comparison). */
  private readonly parsed: ParsedCache<Loaded>;
  private readonly entries = new GenerationalCache<AlertFacts>(ENTRY_CACHE);
  /** The incident each recently seen fingerprint joined: a repeat occurrence goes straight to it. */
  private readonly memberOf: GenerationalCache<string>;
  private readonly entryTtlMs: number;
  private readonly listing = new ParsedCache<[string, number][]>(LISTING_SHARDS);
  /** The store when it is this process's alone and in process: read and written synchronously. */
  private readonly local?: LocalStore;
  /**
   * The heads written lazily, by store key, in two generations: a head not written again for a whole
   * generation is made then (its text replaces the incident it held), so unmade heads hold at most
   * `LAZY_HEADS` incidents' objects however many incidents the store keeps.
   */
  private lazyHeads = new Map<string, LazyText>();
  private olderLazyHeads = new Map<string, LazyText>();

  constructor(
    private readonly store: StateStore,
    private readonly options: IncidentOptions,
  ) {
    this.parsed = new ParsedCache<Loaded>(options.recent);
    this.memberOf = new GenerationalCache(options.recent * 10);
    // An entry must outlive the chains that may start at it, as well as its incident's window.
    this.entryTtlMs = options.windowMs * 2 + Math.max(0, ...options.chains.map((c) => c.maxSpanMs));
    this.local = localStore(store, options.exclusiveStore);
  }

  private get ttlMs(): number {
    return this.options.windowMs * 2;
  }

  /**
   * Puts the alert (or detection about to become one) into its incident; the incident as it now
   * stands, and the incidents this alert merged into it (each as it stands, redirecting).
   */
  add(alert: FactSource, changedMember = false): Added | Promise<Added> {
    return (this.local && this.addLocally(this.local, alert, changedMember)) || this.addShared(alert, changedMember);
  }

  /**
   * `add` in embedded mode, in one synchronous turn (no other event's work comes between its reads
   * and its writes, so nothing is compared and set): no promise, no compare-and-set, no second read
   * of the head per member. Undefined when the alert links two incidents: merging takes the shared path.
   * (The correlation of a Falco event cost about 87 µs CPU, twice the rest of the pipeline after the
   * edge, in bench/pipeline.js; a tenth of the bytes it allocated per event were the frames and
   * promises of these async calls.)
   */
  private addLocally(local: LocalStore, alert: FactSource, changedMember: boolean): Added | Promise<Added> | undefined {
    const known = changedMember ? undefined : this.memberOf.get(alert.fingerprint);
    if (known) {
      const incident = this.loadNow(known)?.incident;
      if (incident) return { incident, created: false, changed: false, absorbed: [] };
    }
    const facts = withLocalKey(factsOf(alert));
    const keys = incidentKeys(facts);
    let chosen: Loaded | undefined;
    for (const key of keys.lookup) {
      const id = local.peek(BY_KEY + key);
      const head = id === undefined ? undefined : this.loadNow(textOf(id));
      if (!head || !this.inWindow(head.incident, facts)) continue;
      if (chosen && chosen.incident.id !== head.incident.id) return undefined;
      chosen = head;
    }
    const member = chosen && hasMember(chosen.incident.alerts, facts.fingerprint);
    if (!changedMember && chosen && member) {
      this.rememberMember(facts.fingerprint, chosen.incident.id);
      const added: Added = { incident: chosen.incident, created: false, changed: false, absorbed: [] };
      return whenDone(this.joinKeysNow(local, keys.join, chosen.incident.id), () => added);
    }
    // A new incident's id may still hold a head no key leads to (as `update` reads it too).
    const before = chosen ?? this.loadNow(incidentId(facts));
    const incident = withMember(before?.incident, facts, this.options, chosen ? member : undefined);
    this.writeNow(local, before?.incident, incident);
    const keysWritten = this.joinKeysNow(local, keys.join, incident.id);
    const created = before === undefined;
    if (created) this.listNewNow(local, incident);
    this.rememberMember(facts.fingerprint, incident.id);
    const added: Added = { incident, created, changed: true, absorbed: [] };
    return whenDone(keysWritten, () => added);
  }

  private inWindow(incident: Incident, facts: AlertFacts): boolean {
    return facts.timeMs <= incident.lastMs + this.options.windowMs && facts.timeMs >= incident.firstMs - this.options.windowMs;
  }

  /** `add` through the store's atomic operations (Redis, or an alert that merges incidents). */
  private async addShared(alert: FactSource, changedMember: boolean): Promise<Added> {
    // A repeat of a member (a deduplicated occurrence) changes nothing: no write, no update. Past
    // `maxAlerts` members only this replica's memory tells a repeat from a new member. A member whose
    // facts changed (a late attribution) is written again, its timeline entry replaced.
    const known = changedMember ? undefined : this.memberOf.get(alert.fingerprint);
    if (known) {
      const incident = await this.get(known);
      if (incident) return { incident, created: false, changed: false, absorbed: [] };
    }
    const facts = this.local ? withLocalKey(factsOf(alert)) : factsOf(alert);
    const keys = incidentKeys(facts);
    const ids = new Set<string>();
    for (const key of keys.lookup) {
      const id = this.local ? this.local.peek(BY_KEY + key) : await this.store.get(BY_KEY + key);
      if (id) ids.add(textOf(id));
    }
    const candidates: Incident[] = [];
    const loaded = new Map<string, Loaded>();
    for (const id of ids) {
      const head = await this.load(id);
      if (head) loaded.set(head.incident.id, head);
      const found = head?.incident;
      if (found && !candidates.some((c) => c.id === found.id) && this.inWindow(found, facts)) candidates.push(found);
    }
    candidates.sort(olderFirst);
    let chosen = candidates[0];
    const absorbed: Incident[] = [];
    if (chosen && candidates.length > 1) {
      const merged = await this.merge(chosen, candidates.slice(1));
      chosen = merged.survivor;
      absorbed.push(...merged.absorbed);
    }
    if (!changedMember && chosen && hasMember(chosen.alerts, facts.fingerprint)) {
      this.rememberMember(facts.fingerprint, chosen.id);
      await this.joinKeys(keys.join, chosen.id);
      return { incident: chosen, created: false, changed: absorbed.length > 0, absorbed };
    }
    const { incident, created } = await this.update(
      chosen?.id ?? incidentId(facts),
      (before) => withMember(before, facts, this.options),
      absorbed.length ? undefined : chosen && loaded.get(chosen.id),
    );
    await this.joinKeys(keys.join, incident.id);
    if (created) await this.listNew(incident);
    this.rememberMember(facts.fingerprint, incident.id);
    return { incident, created, changed: true, absorbed };
  }

  /**
   * Points the alert's pod, subject and namespace keys at its incident, for at least `ttlMs` from now.
   * With an exclusive in-process store that tells a key's TTL, a key that already names the incident
   * and has at least that long left is not written again: keys are written with `KEY_SLACK` of a TTL
   * more, so a busy pod's key is written once per that slack, not once per member, and still never
   * expires sooner than it would have. (With Redis every member writes them, as before.)
   */
  private async joinKeys(keys: string[], id: string): Promise<void> {
    if (this.local) return this.joinKeysNow(this.local, keys, id);
    for (const k of keys) await this.store.set(BY_KEY + k, id, this.ttlMs);
  }

  /**
   * `joinKeys` on a local store: a key that names the incident and has its TTL left is not written.
   * One that is written goes through `set`, the store's usual write (once per slack of a TTL per key,
   * so nearly every member writes none): the promise of that write, else undefined.
   */
  private joinKeysNow(local: LocalStore, keys: string[], id: string): Promise<void> | undefined {
    let written: Promise<unknown> | undefined;
    for (const k of keys) {
      const key = BY_KEY + k;
      const ttlMs = local.ttlLeft ? this.ttlMs + Math.ceil(this.ttlMs * KEY_SLACK) : this.ttlMs;
      if (local.ttlLeft && (local.ttlLeft(key, id) ?? 0) >= this.ttlMs) continue;
      const write = this.store.set(key, id, ttlMs);
      written = written ? Promise.all([written, write]) : write;
    }
    return written?.then(() => undefined);
  }

  /** The incident, following an absorbed one to the incident it was merged into. */
  async get(id: string): Promise<Incident | undefined> {
    return (await this.load(id))?.incident;
  }

  /**
   * Recent incidents from the state store (every replica lists the same), newest first by first
   * event time, each once (an absorbed incident is listed as its survivor), at most `limit`.
   */
  async list(limit: number): Promise<Incident[]> {
    const shards = await Promise.all(
      Array.from({ length: LISTING_SHARDS }, async (_, n) => {
        const raw = await this.read(LISTING + n);
        return raw === undefined ? [] : this.listing.parse(LISTING + n, raw);
      }),
    );
    const listed = shards.flat().sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : -1));
    const out: Incident[] = [];
    const seen = new Set<string>();
    // Read side by side, as many as are still missing at a time (expired and absorbed ones are skipped).
    for (let at = 0; at < listed.length && out.length < limit;) {
      const batch = listed.slice(at, at + limit - out.length);
      at += batch.length;
      for (const incident of await Promise.all(batch.map(([id]) => this.get(id)))) {
        if (!incident || seen.has(incident.id) || out.length >= limit) continue;
        seen.add(incident.id);
        out.push(incident);
      }
    }
    return out;
  }

  /** Lists a new incident in its shard (newest kept); listing is best effort, the incident stands either way. */
  private async listNew(incident: Incident): Promise<void> {
    await updateList(
      this.store,
      listingShard(incident),
      LISTING_TTL_MS,
      this.listed(incident),
      this.listing,
      this.options.exclusiveStore,
    ).catch(() => undefined);
  }

  private listNewNow(local: LocalStore, incident: Incident): void {
    try {
      updateLocalList(local, listingShard(incident), LISTING_TTL_MS, this.listed(incident), this.listing);
    } catch {
      // best effort, as `listNew`
    }
  }

  /** A listing shard with the incident in it (the newest `recent` of all shards kept). */
  private listed(incident: Incident): (current: [string, number][]) => [string, number][] {
    const perShard = Math.ceil(this.options.recent / LISTING_SHARDS);
    return (current) =>
      [...current.filter((e) => e[0] !== incident.id), [incident.id, incident.firstMs] as [string, number]]
        .sort((a, b) => b[1] - a[1])
        .slice(0, perShard);
  }

  /**
   * Merges the absorbed incidents into the survivor: first the survivor takes their members, then
   * each absorbed head is marked with where it went (compare-and-set, so a member another replica
   * added meanwhile is merged again rather than lost). A crash in between leaves both incidents
   * standing, the survivor already holding the members: the next alert that links them finishes it.
   */
  private async merge(survivorFallback: Incident, absorbed: Incident[]): Promise<{ survivor: Incident; absorbed: Incident[] }> {
    let survivorId = survivorFallback.id;
    let survivor: Incident | undefined;
    const gone: Incident[] = [];
    for (const first of absorbed) {
      let current: Incident = first;
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        const fallback = survivor ?? survivorFallback;
        const into = await this.update(survivorId, (s) => mergeIncidents(s ?? fallback, current, this.options));
        survivor = into.incident;
        survivorId = survivor.id;
        const loaded = await this.read(INCIDENT + current.id);
        if (loaded === undefined) break;
        const head = await this.parse(current.id, loaded);
        if (head.mergedInto) break;
        if (head.incident.alertCount !== current.alertCount || head.incident.lastMs !== current.lastMs) {
          current = head.incident; // it grew since: merge what it gained, then mark it
          continue;
        }
        const text = this.head(head.incident, survivorId);
        if (await this.swap(INCIDENT + current.id, loaded, text)) {
          this.parsed.put(current.id, text, { raw: text, incident: head.incident, mergedInto: survivorId });
          gone.push(head.incident);
          break;
        }
      }
    }
    return { survivor: survivor ?? survivorFallback, absorbed: gone };
  }

  /** Read-modify-write of one incident's head by compare-and-set (following redirects), entries written first. */
  private async update(
    id: string,
    change: (before: Incident | undefined) => Incident,
    /** The head as just read, for the first attempt (saves reading it again). */
    current?: Loaded,
  ): Promise<{ incident: Incident; created: boolean }> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const before = attempt === 0 && current ? current : await this.load(id);
      const key = INCIDENT + (before?.incident.id ?? id);
      const next = change(before?.incident);
      const { added, removed } = deriveTimeline(before?.incident.timeline, next.timeline);
      for (const t of this.unstored(added)) {
        const { key } = entryOf(t);
        await this.store.set(ENTRY + key, this.local ? lazyEntry(t) : entryText(t), this.entryTtlMs);
        this.cacheEntry(key, t);
      }
      const text = this.head(next);
      if (await this.swap(key, before?.raw, text)) {
        this.parsed.put(next.id, text, { raw: text, incident: next });
        for (const key of this.dropped(added, removed)) await this.store.delete(ENTRY + key);
        settleTimeline(next.timeline);
        return { incident: next, created: before === undefined };
      }
    }
    throw new Error(`incident ${id} kept changing under us`);
  }

  /**
   * The incident with a new member (or newer facts of one) written to a local store, in one turn:
   * the entries it gained, its head, and the entries it lost. `update` without the compare-and-set.
   */
  private writeNow(local: LocalStore, before: Incident | undefined, next: Incident): void {
    const { added, removed } = deriveTimeline(before?.timeline, next.timeline);
    for (const t of this.unstored(added)) {
      const { key } = entryOf(t);
      local.setNow(ENTRY + key, lazyEntry(t), this.entryTtlMs);
      this.cacheEntry(key, t);
    }
    const key = INCIDENT + next.id;
    const head = lazyText(() => serialiseHead(next));
    local.setNow(key, head, this.ttlMs);
    this.wroteLazily(key, head);
    this.parsed.put(next.id, head, { raw: head, incident: next });
    for (const entry of this.dropped(added, removed)) local.deleteNow(ENTRY + entry);
    settleTimeline(next.timeline);
  }

  /** Of the entries a timeline gained (only those are looked at, not every entry), the ones not in the store yet. */
  private unstored(added: readonly AlertFacts[]): AlertFacts[] {
    return added.filter((t) => entryOf(t).storedIn !== this.store);
  }

  /**
   * The keys of the entries a timeline no longer holds (pushed out past `maxAlerts`, or replaced),
   * deleted at once; not one replaced by facts of the same text (the same key, just written).
   * They leave this process's cache here.
   */
  private dropped(added: readonly AlertFacts[], removed: readonly AlertFacts[]): string[] {
    const keys: string[] = [];
    for (const t of removed) {
      const { key } = entryOf(t);
      if (added.some((a) => entryOf(a).key === key)) continue;
      this.entries.delete(key);
      keys.push(key);
    }
    return keys;
  }

  /** The head under `id` and its incident, following redirects; undefined when it expired. */
  private async load(id: string): Promise<Loaded | undefined> {
    if (this.local) return this.loadNow(id);
    for (let hop = 0; hop < MAX_REDIRECTS; hop++) {
      const raw = await this.store.get(INCIDENT + id);
      if (raw === undefined) return undefined;
      const loaded = this.parsed.peek(id, raw) ?? (await this.parse(id, raw));
      if (loaded.mergedInto === undefined) return loaded;
      id = loaded.mergedInto;
    }
    return undefined;
  }

  /** `load` from a local store: synchronous. */
  private loadNow(id: string): Loaded | undefined {
    for (let hop = 0; hop < MAX_REDIRECTS; hop++) {
      const raw = this.local!.peek(INCIDENT + id);
      if (raw === undefined) return undefined;
      const loaded = this.parseNow(id, raw);
      if (loaded.mergedInto === undefined) return loaded;
      id = loaded.mergedInto;
    }
    return undefined;
  }

  private async parse(id: string, raw: LazyValue): Promise<Loaded> {
    if (this.local) return this.parseNow(id, raw);
    const hit = this.parsed.peek(id, raw);
    if (hit) return hit;
    const { entries, mergedInto, ...head } = JSON.parse(textOf(raw)) as IncidentHead;
    // Entries are immutable: only those this replica has not seen (another replica wrote them) are
    // read. A redirect's timeline is not needed (its survivor holds it).
    const timeline = await Promise.all(
      (mergedInto ? [] : entries).map(async (key) => this.entries.get(key) ?? this.entryFrom(key, await this.read(ENTRY + key))),
    );
    return this.assemble(id, raw, head, mergedInto, timeline);
  }

  /** `parse` from a local store: synchronous. */
  private parseNow(id: string, raw: LazyValue): Loaded {
    const hit = this.parsed.peek(id, raw);
    if (hit) return hit;
    const { entries, mergedInto, ...head } = JSON.parse(textOf(raw)) as IncidentHead;
    const timeline = (mergedInto ? [] : entries).map(
      (key) => this.entries.get(key) ?? this.entryFrom(key, this.local!.peek(ENTRY + key)),
    );
    return this.assemble(id, raw, head, mergedInto, timeline);
  }

  /** A timeline entry as stored, parsed and cached; undefined when it expired (the timeline goes on without it). */
  private entryFrom(key: string, stored: LazyValue | undefined): AlertFacts | undefined {
    if (stored === undefined) return undefined;
    const text = textOf(stored);
    const t = JSON.parse(text) as AlertFacts;
    withMeta(t, { text, key, storedIn: this.store });
    this.cacheEntry(key, t);
    return t;
  }

  private assemble(
    id: string,
    raw: LazyValue,
    head: Omit<IncidentHead, 'entries' | 'mergedInto'>,
    mergedInto: string | undefined,
    timeline: (AlertFacts | undefined)[],
  ): Loaded {
    const loaded: Loaded = {
      raw,
      incident: { ...head, timeline: timeline.filter((t): t is AlertFacts => t !== undefined) },
      ...(mergedInto ? { mergedInto } : {}),
    };
    this.parsed.put(id, raw, loaded);
    return loaded;
  }

  /** A record as stored: with an exclusive in-process store as set (a lazy one not made), else its text. */
  private read(key: string): LazyValue | undefined | Promise<string | undefined> {
    return readValue(this.store, key, this.options.exclusiveStore === true);
  }

  /** The head to write: lazily with an exclusive in-process store (made only if read or written out). */
  private head(incident: Incident, mergedInto?: string): LazyValue {
    return this.local ? lazyText(() => serialiseHead(incident, mergedInto)) : serialiseHead(incident, mergedInto);
  }

  /** A lazy head was written under `key` (see `lazyHeads`). */
  private wroteLazily(key: string, head: LazyText): void {
    this.lazyHeads.set(key, head);
    if (this.lazyHeads.size < LAZY_HEADS / 2) return;
    for (const [k, older] of this.olderLazyHeads) if (!this.lazyHeads.has(k) && this.local!.peek(k) === older) older();
    this.olderLazyHeads = this.lazyHeads;
    this.lazyHeads = new Map();
  }

  /**
   * Compare-and-set of a head: `expected` as read (undefined: the key must be absent). With an
   * exclusive in-process store, its `peek` and `set` in one synchronous turn; else `setIfAbsent` or `replace`.
   */
  private async swap(key: string, expected: LazyValue | undefined, value: LazyValue): Promise<boolean> {
    if (this.local) {
      if (!sameValue(this.local.peek(key), expected)) return false;
      this.local.setNow(key, value, this.ttlMs);
      if (typeof value === 'function') this.wroteLazily(key, value);
      return true;
    }
    return expected === undefined
      ? this.store.setIfAbsent(key, textOf(value), this.ttlMs)
      : this.store.replace(key, textOf(expected), textOf(value), this.ttlMs);
  }

  private cacheEntry(key: string, t: AlertFacts): void {
    this.entries.set(key, t);
    entryOf(t).storedIn = this.store;
  }

  private rememberMember(fingerprint: string, id: string): void {
    this.memberOf.set(fingerprint, id);
  }
}

function listingShard(incident: Incident): string {
  return LISTING + (parseInt(incident.id.slice(-4), 16) % LISTING_SHARDS);
}

function olderFirst(a: Incident, b: Incident): number {
  return a.firstMs - b.firstMs || (a.id < b.id ? -1 : 1);
}
