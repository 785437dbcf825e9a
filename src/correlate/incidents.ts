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
  textOf,
  type LazyText,
  type LocalStore,
} from '../store/local';
import { updateList, updateLocalList } from './state';
import {
  admitsOf,
  deriveTimeline,
  entriesJson,
  entryOf,
  entryText,
  hasMember,
  listJson,
  mayMatch,
  stepCounts,
  settleTimeline,
  stepSlots,
  localKey,
  stepAdmitsOf,
  timelineView,
  viewOf,
  withAlert,
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
  const lookup: string[] = [];
  const joined = lookupKeys(f, lookup);
  return { join: lookup.slice(0, joined), lookup };
}

/**
 * `incidentKeys` into one list, its join keys first (the namespace's key, last, is one of them only
 * for a change to a namespace): how many of them join. Embedded mode fills one list it keeps, and
 * leaves out a namespace's key that only would be looked up while it holds no namespace key at all
 * (`namespaces` false: a lookup that cannot find anything, for nearly every alert).
 */
function lookupKeys(f: AlertFacts, keys: string[], namespaces = true): number {
  if (f.pod) keys.push(podKey(f.cluster, f.pod));
  joinSubject(keys, f.cluster, f.user);
  joinSubject(keys, f.cluster, f.tokenSubject);
  if (f.bindingSubjects) for (const u of f.bindingSubjects) joinSubject(keys, f.cluster, u);
  const joined = keys.length;
  // Every join key is looked up, and the namespace's (a change to its PodSecurity labels joins it).
  if (!f.namespace) return joined;
  // A change to a namespace (its PodSecurity labels) ties it to what happens in that namespace next.
  const joins = !f.pod && f.source === 'k8s_audit' && f.ruleId.startsWith('namespace-');
  if (!joins && !namespaces) return joined;
  keys.push(cachedKey(namespaceKeys, 'n:', f.cluster, f.namespace));
  return joins ? joined + 1 : joined;
}

/**
 * A pod's join key, one string per pod (bounded): facts name a pod by one interned string
 * (`factsOf`), so this lookup hashes nothing new, where the key made afresh was hashed by every map it keys.
 */
const podKeys = new Map<string, { cluster: string; key: string }>();
/** A namespace's key, likewise (looked up for every alert in a namespace, found for few). */
const namespaceKeys = new Map<string, { cluster: string; key: string }>();
const CACHED_KEYS = 65_536;

function podKey(cluster: string, pod: string): string {
  return cachedKey(podKeys, 'p:', cluster, pod);
}

function cachedKey(cache: Map<string, { cluster: string; key: string }>, kind: string, cluster: string, name: string): string {
  const known = cache.get(name);
  if (known?.cluster === cluster) return known.key;
  if (cache.size >= CACHED_KEYS) cache.clear();
  const key = `${kind}${cluster}/${name}`;
  cache.set(name, { cluster, key });
  return key;
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
 * On the incident object (a non-enumerable symbol, not a WeakMap entry per incident version): every
 * occurrence of a member carries the same reference. An incident version of the shared path is never
 * mutated; embedded mode's live incident forgets its reference when it changes (`forgetRef`).
 */
const REF = Symbol('incident ref');
type WithRef = Incident & { [REF]?: AlertIncident };

/** The incident as an alert carries it: a snapshot (count, severity, the last timeline entries) of the incident as it now stands. */
export function incidentRef(incident: Incident): AlertIncident {
  const known = (incident as WithRef)[REF];
  if (known) return known;
  const ref = makeRef(incident);
  setRef(incident, ref);
  return ref;
}

/** Gives a live incident (embedded mode) its reference as it now stands. */
function setRef(incident: Incident, ref: AlertIncident): void {
  if (Object.hasOwn(incident, REF)) (incident as WithRef)[REF] = ref;
  else Object.defineProperty(incident, REF, { value: ref, enumerable: false, writable: true });
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
 *
 * In embedded mode (an exclusive in-process store) the incidents live in this process instead
 * (`LiveIncidents`): the store is only where they are written out, for a restart to read back.
 */
export class IncidentTracker {
  /** Heads as read, with the incident assembled from them (reading an unchanged head again is a string comparison). */
  private readonly parsed: ParsedCache<Loaded>;
  private readonly entries = new GenerationalCache<AlertFacts>(ENTRY_CACHE);
  /** The incident each recently seen fingerprint joined: a repeat occurrence goes straight to it. */
  private readonly memberOf: GenerationalCache<string>;
  private readonly entryTtlMs: number;
  private readonly listing = new ParsedCache<[string, number][]>(LISTING_SHARDS);
  /** Embedded mode: the incidents themselves, in this process (the store only writes them out). */
  private readonly live?: LiveIncidents;

  constructor(
    private readonly store: StateStore,
    private readonly options: IncidentOptions,
  ) {
    this.parsed = new ParsedCache<Loaded>(options.recent);
    this.memberOf = new GenerationalCache(options.recent * 10);
    // An entry must outlive the chains that may start at it, as well as its incident's window.
    this.entryTtlMs = options.windowMs * 2 + Math.max(0, ...options.chains.map((c) => c.maxSpanMs));
    const local = localStore(store, options.exclusiveStore);
    if (local?.now) {
      const timed = local as TimedStore;
      this.live = new LiveIncidents(store, timed, options, (incident) => this.listNewNow(timed, incident));
    }
  }

  private get ttlMs(): number {
    return this.options.windowMs * 2;
  }

  /**
   * Puts the alert (or detection about to become one) into its incident; the incident as it now
   * stands, and the incidents this alert merged into it (each as it stands, redirecting). In
   * embedded mode the incident is the live one: read it (or take its `incidentRef`) before the next `add`.
   */
  add(alert: FactSource, changedMember = false): Added | Promise<Added> {
    return this.live ? this.live.add(alert, changedMember) : this.addShared(alert, changedMember);
  }

  private inWindow(incident: Incident, facts: AlertFacts): boolean {
    return inWindow(incident, facts, this.options.windowMs);
  }

  /** `add` through the store's atomic operations (Redis, or a store shared with other replicas). */
  private async addShared(alert: FactSource, changedMember: boolean): Promise<Added> {
    // A repeat of a member (a deduplicated occurrence) changes nothing: no write, no update. Past
    // `maxAlerts` members only this replica's memory tells a repeat from a new member. A member whose
    // facts changed (a late attribution) is written again, its timeline entry replaced.
    const known = changedMember ? undefined : this.memberOf.get(alert.fingerprint);
    if (known) {
      const incident = await this.get(known);
      if (incident) return { incident, created: false, changed: false, absorbed: [] };
    }
    const facts = factsOf(alert);
    const keys = incidentKeys(facts);
    const ids = new Set<string>();
    for (const key of keys.lookup) {
      const id = await this.store.get(BY_KEY + key);
      if (id) ids.add(id);
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
      this.memberOf.set(facts.fingerprint, chosen.id);
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
    this.memberOf.set(facts.fingerprint, incident.id);
    return { incident, created, changed: true, absorbed };
  }

  /** Points the alert's pod, subject and namespace keys at its incident, for `ttlMs` from now (every member writes them). */
  private async joinKeys(keys: string[], id: string): Promise<void> {
    for (const k of keys) await this.store.set(BY_KEY + k, id, this.ttlMs);
  }

  /** The incident, following an absorbed one to the incident it was merged into. */
  async get(id: string): Promise<Incident | undefined> {
    if (this.live) return this.live.get(id);
    return (await this.load(id))?.incident;
  }

  /**
   * Recent incidents from the state store (every replica lists the same), newest first by first
   * event time, each once (an absorbed incident is listed as its survivor), at most `limit`.
   */
  async list(limit: number): Promise<Incident[]> {
    const shards = await Promise.all(
      Array.from({ length: LISTING_SHARDS }, async (_, n) => {
        const raw = await readValue(this.store, LISTING + n, this.live !== undefined);
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
    await updateList(this.store, listingShard(incident), LISTING_TTL_MS, this.listed(incident), this.listing).catch(
      () => undefined,
    );
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
        const loaded = await this.store.get(INCIDENT + current.id);
        if (loaded === undefined) break;
        const head = await this.parse(current.id, loaded);
        if (head.mergedInto) break;
        if (head.incident.alertCount !== current.alertCount || head.incident.lastMs !== current.lastMs) {
          current = head.incident; // it grew since: merge what it gained, then mark it
          continue;
        }
        const text = serialiseHead(head.incident, survivorId);
        if (await this.store.replace(INCIDENT + current.id, loaded, text, this.ttlMs)) {
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
        await this.store.set(ENTRY + key, entryText(t), this.entryTtlMs);
        this.cacheEntry(key, t);
      }
      const text = serialiseHead(next);
      const swapped =
        before === undefined
          ? await this.store.setIfAbsent(key, text, this.ttlMs)
          : await this.store.replace(key, textOf(before.raw), text, this.ttlMs);
      if (swapped) {
        this.parsed.put(next.id, text, { raw: text, incident: next });
        for (const key of this.dropped(added, removed)) await this.store.delete(ENTRY + key);
        settleTimeline(next.timeline);
        return { incident: next, created: before === undefined };
      }
    }
    throw new Error(`incident ${id} kept changing under us`);
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
    for (let hop = 0; hop < MAX_REDIRECTS; hop++) {
      const raw = await this.store.get(INCIDENT + id);
      if (raw === undefined) return undefined;
      const loaded = this.parsed.peek(id, raw) ?? (await this.parse(id, raw));
      if (loaded.mergedInto === undefined) return loaded;
      id = loaded.mergedInto;
    }
    return undefined;
  }

  private async parse(id: string, raw: string): Promise<Loaded> {
    const hit = this.parsed.peek(id, raw);
    if (hit) return hit;
    const { entries, mergedInto, ...head } = JSON.parse(raw) as IncidentHead;
    // Entries are immutable: only those this replica has not seen (another replica wrote them) are
    // read. A redirect's timeline is not needed (its survivor holds it).
    const timeline = await Promise.all(
      (mergedInto ? [] : entries).map(
        async (key) => this.entries.get(key) ?? this.entryFrom(key, await this.store.get(ENTRY + key)),
      ),
    );
    const loaded: Loaded = {
      raw,
      incident: { ...head, timeline: timeline.filter((t): t is AlertFacts => t !== undefined) },
      ...(mergedInto ? { mergedInto } : {}),
    };
    this.parsed.put(id, raw, loaded);
    return loaded;
  }

  /** A timeline entry as stored, parsed and cached; undefined when it expired (the timeline goes on without it). */
  private entryFrom(key: string, text: string | undefined): AlertFacts | undefined {
    if (text === undefined) return undefined;
    const t = JSON.parse(text) as AlertFacts;
    withMeta(t, { text, key, storedIn: this.store });
    this.cacheEntry(key, t);
    return t;
  }

  private cacheEntry(key: string, t: AlertFacts): void {
    this.entries.set(key, t);
    entryOf(t).storedIn = this.store;
  }
}

function inWindow(incident: Incident, facts: AlertFacts, windowMs: number): boolean {
  return facts.timeMs <= incident.lastMs + windowMs && facts.timeMs >= incident.firstMs - windowMs;
}

/** An exclusive in-process store that tells the time its TTLs run on (the memory store, with or without a data dir). */
type TimedStore = LocalStore & { now(): number };

/**
 * An incident of embedded mode as this process keeps it: `incident` is changed in place by each
 * member (the very object `add` hands out, its `incidentRef` forgotten on change); what only the
 * tracker needs (membership, chain step counts, expiry) beside it.
 */
interface Live {
  incident: Incident;
  /** `incident.alerts` as a set. */
  members: Set<string>;
  /** Beside each timeline entry: which chain steps admit it (`stepAdmitsOf`). */
  admits: number[][];
  /**
   * The entries the last reference shows (the timeline's last `TIMELINE_SHOWN` when it was made) and
   * their views (that reference's own timeline, never changed): the next reference takes the views
   * of the entries it shows again from here and makes one for a new entry only. Per incident, not
   * an array beside the timeline kept in step with every member.
   */
  shownFacts: AlertFacts[];
  shownViews: TimelineView[];
  /**
   * Beside each entry, the key of its own record (`corr:ie:`) when the store writes out (a data
   * dir): written once (lazily), so a head made at a commit names its entries instead of holding them.
   * Not kept (undefined) when no entry has a record (memory only: nothing to write or delete).
   */
  entryKeys: (string | undefined)[] | undefined;
  /** Per chain step (`stepSlots`): how many timeline entries admit it. */
  counts: number[];
  /** When it expires (the store's clock): `ttlMs` after its last change, as its head in the store did. */
  expiresAt: number;
  /** Absorbed by a merge: the survivor's id (the live incident stays as the redirect). */
  mergedInto?: string;
  /** `get`'s copy of the incident as it stands, made once per change when asked for. */
  snapshot?: Incident;
  /**
   * What the member cache and the keys hold of it: emptied when it leaves `LiveIncidents.incidents`
   * (swept, or replaced by a new incident of its id), so they hold no expired incident (a member
   * cache of 10k could otherwise keep as many incidents alive, each with its timeline) and a key
   * that remembered it looks its id up again.
   */
  readonly handle: LiveHandle;
  /**
   * The head written to the store and not made yet: a change before it is made rides along (the
   * head is made from the incident as it then stands). Once made (the data dir's commit writes it
   * out), the next change writes the head again.
   */
  written?: LazyText;
  headKey: string;
}

type TimelineView = NonNullable<AlertIncident['timeline']>[number];

/** A join key of embedded mode: the incident it names, until when, and until when the store holds it. */
interface LiveKey {
  /** The key itself (the sweep walks values alone: a Map's entries iterator makes a pair per step). */
  readonly key: string;
  id: string;
  expiresAt: number;
  storedUntil: number;
  /**
   * What `incidents` held under `id` when last looked up (or joined), while it is there
   * (`Live.handle`): a key's incident is found without the id's lookup.
   */
  at?: LiveHandle;
}

/** A live incident while `LiveIncidents.incidents` holds it (one per incident, shared by its members' cache entries and keys). */
interface LiveHandle {
  live?: Live;
}

/** What an `add` that merged nothing absorbed (shared: never changed). */
const NO_INCIDENTS: Incident[] = Object.freeze([]) as unknown as Incident[];

/** Live incidents (keys) examined for expiry per one made (above 1: sweeping outpaces making). */
const SWEEP_STEP = 4;

/**
 * The incident tracker of embedded mode. The state store is this process's alone, so the incidents
 * themselves live here: a member changes its incident in place (its timeline, lists, counts and
 * chain step counts kept up incrementally, the chains searched only when the counts allow a match),
 * join keys are a plain map with expiry, and nothing is copied or serialised per member. The store
 * is the durable sink: a head is written (lazily, made from the live incident when the data dir's
 * commit writes it out) when the incident is created and again after each time it was made, join
 * keys once per `KEY_SLACK` of their TTL, the listing when an incident is created. After a restart
 * (the store held a listing when this started) what the last process wrote is read back on demand.
 */
class LiveIncidents {
  private readonly incidents = new Map<string, Live>();
  private readonly keys = new Map<string, LiveKey>();
  private readonly memberOf: GenerationalCache<LiveHandle>;
  private readonly ttlMs: number;
  private readonly keyTtlMs: number;
  private readonly slots: ReturnType<typeof stepSlots>;
  /** The store writes out (a data dir): timeline entries get records of their own (`Live.entryKeys`). */
  private readonly writesOut: boolean;
  private readonly entryTtlMs: number;
  /** The alert's keys (`lookupKeys`), one list reused by every `add`. */
  private readonly keyList: string[] = [];
  /** How many of `keys` are a namespace's (`n:`): none, and a namespace's key is not looked up (`lookupKeys`). */
  private namespaceKeys = 0;
  /** Beside each of `keyList`: its live key as the lookup found it (`joinKeys` takes it from here, not the map). */
  private readonly keysFound: (LiveKey | undefined)[] = [];
  /** Until when (the store's clock) the store may hold records of an earlier process: looked up on a miss. */
  private readonly restoringUntil: number;
  /** While restoring: ids of incidents this process let expire (the store's copy is not read back). */
  private gone?: Set<string>;
  private incidentsCursor?: Iterator<Live>;
  private keysCursor?: Iterator<LiveKey>;

  constructor(
    private readonly store: StateStore,
    private readonly local: TimedStore,
    private readonly options: IncidentOptions,
    private readonly listNew: (incident: Incident) => void,
  ) {
    this.ttlMs = options.windowMs * 2;
    this.slots = stepSlots(options.chains);
    this.writesOut = local.persistent === true;
    // As the shared path's: an entry must outlive the chains that may start at it, as well as its incident's window.
    this.entryTtlMs = this.ttlMs + Math.max(0, ...options.chains.map((c) => c.maxSpanMs));
    this.keyTtlMs = this.ttlMs + Math.ceil(this.ttlMs * KEY_SLACK);
    this.memberOf = new GenerationalCache(options.recent * 10);
    let restored = false;
    for (let n = 0; n < LISTING_SHARDS && !restored; n++) restored = local.peek(LISTING + n) !== undefined;
    this.restoringUntil = restored ? local.now() + Math.max(this.keyTtlMs, this.ttlMs) : 0;
    if (restored) this.gone = new Set();
  }

  add(alert: FactSource, changedMember: boolean): Added | Promise<Added> {
    const now = this.local.now();
    if (!changedMember) {
      const known = this.memberOf.get(alert.fingerprint)?.live;
      const live = known && this.resolve(known, now);
      if (live) return { incident: live.incident, created: false, changed: false, absorbed: NO_INCIDENTS };
    }
    const facts = factsOf(alert);
    const keys = this.keyList;
    keys.length = 0;
    const joined = lookupKeys(facts, keys, this.namespaceKeys > 0 || now < this.restoringUntil);
    let chosen: Live | undefined;
    let others: Live[] | undefined;
    for (let n = 0; n < keys.length; n++) {
      const live = this.byKey(keys[n]!, n, now);
      if (!live || !inWindow(live.incident, facts, this.options.windowMs)) continue;
      if (!chosen) chosen = live;
      else if (live !== chosen && !others?.includes(live)) (others ??= []).push(live);
    }
    let absorbed = NO_INCIDENTS;
    if (chosen && others) {
      const candidates = [chosen, ...others].sort((a, b) => olderFirst(a.incident, b.incident));
      chosen = candidates[0]!;
      absorbed = this.merge(chosen, candidates.slice(1), now);
    }
    if (!changedMember && chosen && chosen.members.has(facts.fingerprint)) {
      this.memberOf.set(facts.fingerprint, chosen.handle);
      const added: Added = { incident: chosen.incident, created: false, changed: absorbed.length > 0, absorbed };
      const written = this.joinKeys(keys, joined, chosen, now);
      return written ? written.then(() => added) : added;
    }
    let live = chosen;
    let created = false;
    if (!live) {
      // A new incident's id may still name one no key leads to (its keys expired or moved on).
      const id = incidentId(facts);
      live = this.byId(id, now);
      if (!live) {
        live = this.create(id, facts, now);
        created = true;
      }
    }
    this.addMember(live, facts);
    this.changed(live, now);
    const keysWritten = this.joinKeys(keys, joined, live, now);
    if (created) this.listNew(live.incident);
    this.memberOf.set(facts.fingerprint, live.handle);
    const added: Added = { incident: live.incident, created, changed: true, absorbed };
    return keysWritten ? keysWritten.then(() => added) : added;
  }

  /** The incident as it stands (a copy: the live one changes), following an absorbed one to its survivor. */
  get(id: string): Incident | undefined {
    const live = this.byId(id, this.local.now());
    return live && this.snapshot(live);
  }

  private create(id: string, f: AlertFacts, now: number): Live {
    this.sweepIncidents(now);
    const incident: Incident = {
      id,
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
    const replaced = this.incidents.get(id);
    if (replaced) replaced.handle.live = undefined;
    const live: Live = {
      incident,
      members: new Set(),
      admits: [],
      shownFacts: [],
      shownViews: [],
      entryKeys: this.writesOut ? [] : undefined,
      counts: new Array<number>(this.slots.total).fill(0),
      expiresAt: 0,
      headKey: INCIDENT + id,
      handle: { live: undefined },
    };
    live.handle.live = live;
    this.incidents.set(id, live);
    return live;
  }

  /**
   * `withMember` in place: the same incident, timeline, chain and severity (equivalence tests in
   * test/correlate/exclusive.test.ts hold the two paths to each other), without a copy.
   */
  private addMember(live: Live, f: AlertFacts): void {
    const { maxAlerts, chains } = this.options;
    const incident = live.incident;
    const timeline = incident.timeline;
    const known = live.members.has(f.fingerprint);
    const last = timeline[timeline.length - 1];
    const admits = stepAdmitsOf(f, chains);
    if (!last || last.timeMs < f.timeMs) {
      // The usual case: newer than every entry, so none has its time (none to replace) and nothing to sort.
      timeline.push(f);
      live.admits.push(admits);
      live.entryKeys?.push(this.storeEntry(f));
    } else {
      for (let i = timeline.length - 1; i >= 0; i--) {
        const t = timeline[i]!;
        if (t.fingerprint !== f.fingerprint || t.timeMs !== f.timeMs) continue;
        this.count(live, live.admits[i]!, -1);
        timeline.splice(i, 1);
        live.admits.splice(i, 1);
        this.unstoreEntry(live.entryKeys?.splice(i, 1)[0]);
      }
      // After every entry of its time or older (a stable sort of the timeline with it appended).
      let at = timeline.length;
      while (at > 0 && timeline[at - 1]!.timeMs > f.timeMs) at--;
      timeline.splice(at, 0, f);
      live.admits.splice(at, 0, admits);
      live.entryKeys?.splice(at, 0, this.storeEntry(f));
    }
    this.count(live, admits, 1);
    while (timeline.length > Math.max(1, maxAlerts)) {
      timeline.shift();
      this.unstoreEntry(live.entryKeys?.shift());
      this.count(live, live.admits.shift()!, -1);
    }
    if (priorityRank(f.priority) > priorityRank(incident.memberSeverity)) incident.memberSeverity = f.priority;
    if (!known) {
      incident.alertCount++;
      if (incident.alerts.length < maxAlerts) {
        incident.alerts.push(f.fingerprint);
        live.members.add(f.fingerprint);
      }
    }
    if (f.pod && incident.pods.length < LIST_MAX && !hasPod(incident.pods, f)) incident.pods.push(`${f.cluster}/${f.pod}`);
    if (f.user || f.tokenSubject || f.bindingSubjects)
      for (const u of subjectsOf(f))
        if (incident.subjects.length < LIST_MAX && !incident.subjects.includes(u)) incident.subjects.push(u);
    if (f.timeMs < incident.firstMs) {
      incident.firstTime = f.time;
      incident.firstMs = f.timeMs;
    }
    if (f.timeMs > incident.lastMs) {
      incident.lastTime = f.time;
      incident.lastMs = f.timeMs;
    }
    incident.severity = incident.memberSeverity;
    if (incident.chain && incident.chainMatch) {
      // A matched chain stays (its members stay in the timeline's story); the severity follows the members.
      const chain = chains.find((c) => c.chain === incident.chain);
      if (chain) incident.severity = chainSeverity(chain, incident.memberSeverity);
      return;
    }
    const previousChain = incident.chain;
    const completedBy = incident.chainCompletedBy;
    incident.chain = null;
    if (incident.chainMatch !== undefined) delete incident.chainMatch;
    if (completedBy !== undefined) delete incident.chainCompletedBy;
    // As `withMember`: the newest member can only complete a chain as its last step; a late one may
    // fit anywhere, but a match has to include it. Chains the step counts rule out are not searched.
    const newest = timeline[timeline.length - 1] === f ? f : undefined;
    const { offsets } = this.slots;
    for (let c = 0; c < chains.length; c++) {
      const chain = chains[c]!;
      if (!chain.enabled || !mayMatch(chain, offsets[c]!, live.counts, admits, newest !== undefined)) continue;
      const match = matchChain(chain, timeline, newest, newest ? undefined : f);
      if (!match) continue;
      incident.chain = chain.chain;
      incident.severity = chainSeverity(chain, incident.memberSeverity);
      incident.chainMatch = {
        name: chain.name,
        alerts: match.fingerprints,
        variables: match.variables,
        ...(chain.runbook ? { runbook: chain.runbook } : {}),
      };
      incident.chainCompletedBy = previousChain === chain.chain && completedBy ? completedBy : f.fingerprint;
      break;
    }
  }

  /** A new entry's record, when the store writes out: its text made only at the commit that writes it. */
  private storeEntry(t: AlertFacts): string | undefined {
    if (!this.writesOut) return undefined;
    const key = localKey();
    this.local.setNow(
      ENTRY + key,
      lazyText(() => JSON.stringify(t)),
      this.entryTtlMs,
    );
    return key;
  }

  private unstoreEntry(key: string | undefined): void {
    if (key !== undefined) this.local.deleteNow(ENTRY + key);
  }

  private count(live: Live, admits: number[], sign: number): void {
    if (admits === this.slots.none) return;
    for (let i = 0; i < admits.length; i++) if (admits[i]) live.counts[i]! += sign;
  }

  /** Timeline and step admits of an incident made elsewhere (restored, or merged): kept in step from here on. */
  private retimeline(live: Live, timeline: AlertFacts[], entryKeys?: string[]): void {
    live.incident.timeline = timeline;
    live.admits = timeline.map((t) => stepAdmitsOf(t, this.options.chains));
    live.entryKeys = entryKeys ?? (this.writesOut ? timeline.map((t) => this.storeEntry(t)) : undefined);
    live.counts.fill(0);
    for (const admits of live.admits) this.count(live, admits, 1);
  }

  /**
   * The incident changed: it lives `ttlMs` from now, its copy is made again when asked for, its
   * head is written out, and its reference is made now (every alert that changes it carries one),
   * with the views of the last reference for the entries it showed too (a new view for a new entry).
   */
  private changed(live: Live, now: number): void {
    live.expiresAt = now + this.ttlMs;
    live.snapshot = undefined;
    const i = live.incident;
    const timeline = i.timeline;
    const from = Math.max(0, timeline.length - TIMELINE_SHOWN);
    const shown = new Array<TimelineView>(timeline.length - from);
    const facts = live.shownFacts;
    const views = live.shownViews;
    for (let n = from; n < timeline.length; n++) {
      const t = timeline[n]!;
      // Members come newest last: an entry shown before is mostly one place further up than it was.
      const was = facts[n - from + 1] === t ? n - from + 1 : facts.indexOf(t);
      shown[n - from] = was === -1 ? viewOf(t) : views[was]!;
    }
    facts.length = shown.length;
    for (let n = from; n < timeline.length; n++) facts[n - from] = timeline[n]!;
    live.shownViews = shown;
    setRef(
      i,
      i.chainCompletedBy
        ? {
            id: i.id,
            parent: i.parent,
            severity: i.severity,
            alerts: i.alertCount,
            chain: i.chain,
            chainCompletedBy: i.chainCompletedBy,
            timeline: shown,
          }
        : { id: i.id, parent: i.parent, severity: i.severity, alerts: i.alertCount, chain: i.chain, timeline: shown },
    );
    this.writeHead(live);
  }

  /** The head in the store, unless one written since the last time it was made will still be made from the incident as it stands. */
  private writeHead(live: Live): void {
    if (live.written && live.written.made === undefined) return;
    const head = lazyText(() => {
      const text = this.writesOut ? entriesHeadText(live) : headText(live);
      if (live.written === head) live.written = undefined;
      return text;
    });
    live.written = head;
    this.local.setNow(live.headKey, head, this.ttlMs);
  }

  /**
   * Merges the absorbed incidents into the survivor (`mergeIncidents`, on copies: merges are rare),
   * the survivor's live incident taking the result in place; each absorbed one stays as a redirect.
   * The absorbed, as they stood.
   */
  private merge(survivor: Live, absorbed: Live[], now: number): Incident[] {
    const gone: Incident[] = [];
    for (const other of absorbed) {
      const before = this.snapshot(other);
      const merged = mergeIncidents(this.snapshot(survivor), before, this.options);
      const incident = survivor.incident;
      for (const k of Object.keys(incident) as (keyof Incident)[]) if (!(k in merged)) delete incident[k];
      Object.assign(incident, merged, { alerts: [...merged.alerts], pods: [...merged.pods], subjects: [...merged.subjects] });
      survivor.members = new Set(incident.alerts);
      // The merged timeline's entries are written out afresh (merges are rare), the two halves' records let go of.
      for (const key of [...(survivor.entryKeys ?? []), ...(other.entryKeys ?? [])]) this.unstoreEntry(key);
      other.entryKeys = this.writesOut ? [] : undefined;
      this.retimeline(survivor, [...merged.timeline]);
      this.changed(survivor, now);
      other.mergedInto = incident.id;
      this.changed(other, now);
      gone.push(before);
    }
    return gone;
  }

  /** Points the alert's keys at its incident for `ttlMs` from now; in the store, once per `KEY_SLACK` of that (the promise of a write, else undefined). */
  private joinKeys(keys: string[], joined: number, live: Live, now: number): Promise<void> | undefined {
    const id = live.incident.id;
    let written: Promise<unknown> | undefined;
    for (let n = 0; n < joined; n++) {
      const k = keys[n]!;
      // The key the lookup found, while unexpired (no sweep can have taken it since): else the map's.
      const seen = this.keysFound[n];
      let key = seen !== undefined && seen.expiresAt > now ? seen : this.keys.get(k);
      if (!key) {
        this.sweepKeys(now);
        this.keys.set(k, (key = { key: k, id, expiresAt: 0, storedUntil: 0, at: live.handle }));
        if (k.startsWith('n:')) this.namespaceKeys++;
      } else if (key.id !== id) {
        key.id = id;
        key.storedUntil = 0;
        key.at = live.handle;
      }
      key.expiresAt = now + this.ttlMs;
      if (key.storedUntil - now >= this.ttlMs) continue;
      key.storedUntil = now + this.keyTtlMs;
      // Through `set`, the store's usual write (nearly every member writes none).
      const write = this.store.set(BY_KEY + k, id, this.keyTtlMs);
      written = written ? Promise.all([written, write]) : write;
    }
    return written?.then(() => undefined);
  }

  /** The incident a key leads to (`keysFound[n]` told the key), following redirects; undefined when either expired. */
  private byKey(k: string, n: number, now: number): Live | undefined {
    let key = this.keys.get(k);
    if (!key && now < this.restoringUntil) key = this.restoredKey(k, now);
    this.keysFound[n] = key;
    if (!key || key.expiresAt <= now) return undefined;
    let live = key.at?.live;
    if (live === undefined) {
      live = this.incidents.get(key.id);
      if (!live && now < this.restoringUntil && !this.gone?.has(key.id)) live = this.restored(key.id, now);
      key.at = live?.handle;
    }
    return live && this.resolve(live, now);
  }

  /** The incident under `id`, following redirects; undefined when it expired. */
  private byId(id: string, now: number): Live | undefined {
    let live = this.incidents.get(id);
    if (!live && now < this.restoringUntil && !this.gone?.has(id)) live = this.restored(id, now);
    return live && this.resolve(live, now);
  }

  private resolve(live: Live | undefined, now: number): Live | undefined {
    for (let hop = 0; live && hop < MAX_REDIRECTS; hop++) {
      if (live.expiresAt <= now) return undefined;
      if (live.mergedInto === undefined) return live;
      const into: string = live.mergedInto;
      live = this.incidents.get(into);
      if (!live && now < this.restoringUntil && !this.gone?.has(into)) live = this.restored(into, now);
    }
    return undefined;
  }

  /** A join key an earlier process wrote (read back once: from then on it lives here). */
  private restoredKey(k: string, now: number): LiveKey | undefined {
    const stored = this.local.peek(BY_KEY + k);
    const left = stored === undefined ? undefined : this.local.ttlLeft?.(BY_KEY + k);
    if (stored === undefined || left === undefined) return undefined;
    const key: LiveKey = { key: k, id: textOf(stored), expiresAt: now + Math.min(left, this.ttlMs), storedUntil: now + left };
    this.keys.set(k, key);
    if (k.startsWith('n:')) this.namespaceKeys++;
    return key;
  }

  /** An incident an earlier process wrote: its head (and, in the format before live incidents, its entries). */
  private restored(id: string, now: number): Live | undefined {
    const key = INCIDENT + id;
    const stored = this.local.peek(key);
    const left = stored === undefined ? undefined : this.local.ttlLeft?.(key);
    if (stored === undefined || left === undefined) return undefined;
    const { entries, mergedInto, timeline, ...head } = JSON.parse(textOf(stored)) as Partial<IncidentHead> &
      Omit<Incident, 'timeline'> & { timeline?: AlertFacts[] };
    const facts: AlertFacts[] = timeline ?? [];
    const entryKeys: string[] = [];
    if (!timeline)
      for (const entry of mergedInto ? [] : (entries ?? [])) {
        const text = this.local.peek(ENTRY + entry);
        if (text === undefined) continue; // expired: the timeline goes on without it
        facts.push(JSON.parse(textOf(text)) as AlertFacts);
        entryKeys.push(entry);
      }
    const incident: Incident = { ...head, timeline: [] };
    const live: Live = {
      incident,
      members: new Set(incident.alerts),
      admits: [],
      shownFacts: [],
      shownViews: [],
      entryKeys: [],
      counts: new Array<number>(this.slots.total).fill(0),
      expiresAt: now + left,
      headKey: key,
      handle: { live: undefined },
      ...(mergedInto ? { mergedInto } : {}),
    };
    live.handle.live = live;
    // Entries read from their records keep them; a timeline read from the head gets records now (a data dir).
    this.retimeline(live, facts, timeline ? undefined : entryKeys);
    this.incidents.set(id, live);
    return live;
  }

  /** A copy of the incident as it stands (what `get` and the store's head show), made once per change. */
  private snapshot(live: Live): Incident {
    if (live.snapshot) return live.snapshot;
    const i = live.incident;
    const copy: Incident = {
      ...i,
      alerts: [...i.alerts],
      pods: [...i.pods],
      subjects: [...i.subjects],
      timeline: [...i.timeline],
    };
    live.snapshot = copy;
    return copy;
  }

  /**
   * Drops a few expired incidents per incident made (a cursor through the map; `sweepKeys` likewise
   * per key): neither map grows past what lives, and an `add` that makes nothing touches neither.
   */
  private sweepIncidents(now: number): void {
    const incidents = (this.incidentsCursor ??= this.incidents.values());
    for (let i = 0; i < SWEEP_STEP; i++) {
      const next = incidents.next();
      if (next.done) {
        this.incidentsCursor = undefined;
        break;
      }
      const live = next.value;
      if (live.expiresAt > now) continue;
      this.incidents.delete(live.incident.id);
      live.handle.live = undefined;
      if (now < this.restoringUntil) this.gone?.add(live.incident.id);
    }
    if (this.gone && now >= this.restoringUntil) this.gone = undefined;
  }

  private sweepKeys(now: number): void {
    const keys = (this.keysCursor ??= this.keys.values());
    for (let i = 0; i < SWEEP_STEP; i++) {
      const next = keys.next();
      if (next.done) {
        this.keysCursor = undefined;
        break;
      }
      if (next.value.expiresAt > now) continue;
      this.keys.delete(next.value.key);
      if (next.value.key.startsWith('n:')) this.namespaceKeys--;
    }
  }
}

/** Whether the incident lists the member's pod already, without making its `cluster/pod` string. */
function hasPod(pods: readonly string[], f: AlertFacts): boolean {
  const length = f.cluster.length + 1 + f.pod!.length;
  for (const p of pods)
    if (p.length === length && p.endsWith(f.pod!) && p.startsWith(f.cluster) && p[f.cluster.length] === '/') return true;
  return false;
}

/** A live incident's head as embedded mode writes it out: the incident with its timeline in it (one record). */
function headText(live: Live): string {
  const { timeline, ...head } = live.incident;
  return JSON.stringify({ ...head, ...(live.mergedInto ? { mergedInto: live.mergedInto } : {}), timeline });
}

/** A live incident's head as written out to a data dir: its entries by the keys of their records (`IncidentHead`). */
function entriesHeadText(live: Live): string {
  const { timeline: _timeline, ...head } = live.incident;
  const text = JSON.stringify(live.mergedInto ? { ...head, mergedInto: live.mergedInto } : head);
  // Entry keys are base64url (nothing to escape); a redirect names none (its survivor holds them).
  const entries = live.mergedInto ? '' : (live.entryKeys ?? []).filter((k) => k !== undefined).join('","');
  // `head` always has fields (`id` first), so its text ends in `}` after at least one of them.
  return `${text.slice(0, -1)},"entries":[${entries ? `"${entries}"` : ''}]}`;
}

function listingShard(incident: Incident): string {
  return LISTING + (parseInt(incident.id.slice(-4), 16) % LISTING_SHARDS);
}

function olderFirst(a: Incident, b: Incident): number {
  return a.firstMs - b.firstMs || (a.id < b.id ? -1 : 1);
}
