import { hash, randomBytes } from 'node:crypto';
import type { AlertIncident } from '../core/alert';
import type { StateStore } from '../store/port';
import { stepAdmitsFacts, stepAdmitsRule, stepHasFacts, type ChainDef, type ChainStep } from './chains';
import type { AlertFacts } from './facts';

/**
 * What an incident's timeline and member list cost to keep up, made independent of their length:
 * an incident at its `maxAlerts` cap takes a new member in a constant number of steps instead of
 * touching all 50 entries (each a separate heap object: reading their fields was most of the cost,
 * in cache misses). Everything here is derived from arrays and facts that are never mutated once in
 * an incident, and kept on them under non-enumerable symbols (not in WeakMaps: an entry per incident
 * version made the garbage collector's ephemeron work grow), so the incident itself, its JSON and
 * test equality stay as they are.
 */

export interface EntryMeta {
  /** The entry's JSON, once made: at once for a content key, else only when something writes it out or reads it. */
  text?: string;
  /**
   * The store key's suffix, 22 base64url characters: of the text's SHA-256 (`entryOf`), or, in
   * embedded mode, a key of this process's own (`withLocalKey`) so no entry is serialised and hashed
   * unless the data dir writes it out.
   */
  key?: string;
  /** The store the entry is known to be in (written or read there): not written again. */
  storedIn?: StateStore;
  /** Which chain steps admit the entry (1 or 0 per step of `admitsFor`, see `stepSlots`). */
  admits?: number[];
  admitsFor?: readonly ChainDef[];
  /** The entry as an alert's incident reference shows it (shared by every reference that shows it). */
  view?: NonNullable<AlertIncident['timeline']>[number];
}

/**
 * An entry's text, key and what is derived from it, on the (never mutated) facts object itself under
 * a non-enumerable symbol (JSON and test equality do not see it): each is made once.
 */
const META = Symbol('incident entry');
const KEY_LENGTH = 22;

function metaOf(t: AlertFacts): EntryMeta {
  return (t as AlertFacts & { [META]?: EntryMeta })[META] ?? withMeta(t, {});
}

/** The entry's meta with its key: the hash of its text unless it was given one (`withLocalKey`). */
export function entryOf(t: AlertFacts): EntryMeta & { key: string } {
  const meta = metaOf(t);
  meta.key ??= hash('sha256', entryText(t), 'base64url').slice(0, KEY_LENGTH);
  return meta as EntryMeta & { key: string };
}

/** The entry's JSON (made once). */
export function entryText(t: AlertFacts): string {
  const meta = metaOf(t);
  return (meta.text ??= JSON.stringify(t));
}

/**
 * Keys of this process's own for entries of a store it alone writes (embedded mode): a random prefix
 * per process (a restart from the data dir finds the earlier process's keys) and a counter. An entry
 * keyed so is serialised only when something reads its text (the data dir writing it out), where a
 * content key took its JSON and a SHA-256 for every new member (~3 µs, and the text kept alive).
 */
const LOCAL_PREFIX = randomBytes(8).toString('base64url');
let localSeq = 0;

/** A new key of this process's own (`withLocalKey`), for an entry embedded mode writes out. */
export function localKey(): string {
  return LOCAL_PREFIX + (localSeq++).toString(36).padStart(KEY_LENGTH - LOCAL_PREFIX.length, '0');
}

/** Gives new facts (no key taken yet) a local key; facts already keyed keep theirs. */
export function withLocalKey(t: AlertFacts): AlertFacts {
  const meta = metaOf(t);
  meta.key ??= localKey();
  return t;
}

/** The entry as a lazy store value: its text made only if read or written out (the closure holds the facts alone). */
export function lazyEntry(t: AlertFacts): () => string {
  return () => entryText(t);
}

export function withMeta(t: AlertFacts, meta: EntryMeta): EntryMeta {
  Object.defineProperty(t, META, { value: meta, enumerable: false });
  return meta;
}

/** The entry as an alert's incident reference shows it: made once per entry, not once per reference. */
export function timelineView(t: AlertFacts): NonNullable<AlertIncident['timeline']>[number] {
  const meta = metaOf(t);
  meta.view ??= viewOf(t);
  return meta.view;
}

/** The entry as an alert's incident reference shows it, made now (embedded mode keeps it beside the entry). */
export function viewOf(t: AlertFacts): NonNullable<AlertIncident['timeline']>[number] {
  return t.user
    ? { time: t.time, source: t.source, rule: t.rule, user: t.user }
    : { time: t.time, source: t.source, rule: t.rule };
}

/** One key's share of the entry list's JSON body: the key and the `","` after it. */
const KEY_STRIDE = KEY_LENGTH + 3;

/**
 * A timeline's changes since the one it was derived from (`from`: only the last step is kept, so a
 * long-lived incident does not hold every version of its timeline): entries it gained, in timeline
 * order, and entries it lost, in `from`'s order.
 */
interface TimelineIndex {
  from?: readonly AlertFacts[];
  added: AlertFacts[];
  removed: AlertFacts[];
  /** The usual change: `from`'s oldest `shifted` entries gone and at most one newer appended. */
  simple?: { shifted: number; appended?: AlertFacts };
  /** The entry keys joined by `","` (the head's `entries` without its outer `["` and `"]`). */
  body?: string;
  /** Per chain step (`stepSlots` of `countsFor`): how many entries admit it. */
  counts?: number[];
  countsFor?: readonly ChainDef[];
}

const INDEX = Symbol('timeline index');
type Indexed = readonly AlertFacts[] & { [INDEX]?: TimelineIndex };
const NONE: readonly AlertFacts[] = [];

function cachedIndex(timeline: readonly AlertFacts[]): TimelineIndex | undefined {
  return (timeline as Indexed)[INDEX];
}

function indexOf(timeline: readonly AlertFacts[]): TimelineIndex {
  return cachedIndex(timeline) ?? remember(timeline, { added: [...timeline], removed: [] });
}

/**
 * `next`'s index, derived from `prev`'s by identity alone (no entry is read): entries an incident
 * keeps stay in the same order (members are appended or sorted in stably, the oldest shifted out,
 * a changed member replaced, a merge's entries sorted in), so one walk pairs them.
 */
export function deriveTimeline(prev: readonly AlertFacts[] | undefined, next: readonly AlertFacts[]): TimelineIndex {
  const from = prev ?? NONE;
  const cached = cachedIndex(next);
  if (cached && cached.from === from) return cached;
  let added: AlertFacts[] = [];
  let removed: AlertFacts[] = [];
  let j = 0;
  for (const t of next) {
    let k = j;
    while (k < from.length && from[k] !== t) k++;
    if (k === from.length) {
      added.push(t);
      continue;
    }
    for (; j < k; j++) removed.push(from[j]!);
    j = k + 1;
  }
  for (; j < from.length; j++) removed.push(from[j]!);
  // Entries in a new order would show as both removed and added: they were neither. (A new member
  // of a full incident is the usual one of each, told apart without a Set.)
  if (added.length === 1 && removed.length === 1) {
    if (added[0] === removed[0]) added = removed = [];
  } else if (added.length && removed.length) {
    const back = new Set(added);
    const moved = new Set(removed.filter((r) => back.has(r)));
    if (moved.size) {
      added = added.filter((a) => !moved.has(a));
      removed = removed.filter((r) => !moved.has(r));
    }
  }
  const shifted = removed.every((r, i) => r === from[i]) ? removed.length : -1;
  const simple = shifted !== -1 && added.length <= 1 && (!added.length || next.at(-1) === added[0]);
  return indexed(from, next, added, removed, simple ? shifted : -1);
}

/**
 * The timeline with a member newer than every entry, the oldest shifted out past `max`: one copy,
 * and indexed as it is made, so `deriveTimeline` need not walk it to find what changed.
 */
export function withNewest(timeline: readonly AlertFacts[], f: AlertFacts, max: number): AlertFacts[] {
  const length = Math.max(1, Math.min(timeline.length + 1, max));
  const shifted = timeline.length + 1 - length;
  // Made at its length: a slice and a push grew the copy's backing store by half again.
  const next = new Array<AlertFacts>(length);
  for (let i = 0; i < length - 1; i++) next[i] = timeline[shifted + i]!;
  next[length - 1] = f;
  indexed(timeline, next, [f], timeline.slice(0, shifted), shifted);
  return next;
}

/** `next`'s index from what changed since `from` (`shifted`: the usual change's count, else -1). */
function indexed(
  from: readonly AlertFacts[],
  next: readonly AlertFacts[],
  added: AlertFacts[],
  removed: AlertFacts[],
  shifted: number,
): TimelineIndex {
  const before = indexOf(from);
  const index: TimelineIndex = { from, added, removed };
  if (shifted !== -1) index.simple = { shifted, ...(added.length ? { appended: added[0]! } : {}) };
  // What is derived from `from` is taken now (counts) or needs only its body: its own link goes.
  if (before.countsFor) {
    // Counts are never changed once kept: most changes (entries no step admits) share the last ones.
    const counted = countedWith(countedWith(before.counts!, before, added, 1), before, removed, -1);
    index.counts = counted;
    index.countsFor = before.countsFor;
  }
  before.from = undefined;
  return remember(next, index);
}

/**
 * `kept` with the entries' admits added (`sign` 1) or taken away (-1): a copy if any admits a step,
 * else `kept` itself (counts are never changed once kept, so most changes share the last ones).
 */
function countedWith(kept: number[], from: TimelineIndex, entries: readonly AlertFacts[], sign: number): number[] {
  const none = stepSlots(from.countsFor!).none;
  let out = kept;
  for (const t of entries) {
    const admits = admitsOf(t, from.countsFor!);
    if (admits === none) continue;
    if (out === from.counts) out = out.slice();
    add(out, admits, sign);
  }
  return out;
}

/**
 * What a timeline's change was is needed until its head is written: then the index keeps only its
 * counts and key list (an incident that stops growing keeps no earlier timeline or removed entries).
 */
export function settleTimeline(timeline: readonly AlertFacts[]): void {
  const index = cachedIndex(timeline);
  if (!index) return;
  index.from = undefined;
  index.added = index.removed = [];
  index.simple = undefined;
}

/** Kept on the array the first time only (a timeline derived again from another one keeps its first index). */
function remember(next: readonly AlertFacts[], index: TimelineIndex): TimelineIndex {
  if (!cachedIndex(next)) Object.defineProperty(next, INDEX, { value: index, enumerable: false });
  return index;
}

/** The timeline's entry keys as the head's JSON list (for the usual change, the last list cut and extended). */
export function entriesJson(timeline: readonly AlertFacts[]): string {
  if (!timeline.length) return '[]';
  const index = indexOf(timeline);
  if (index.body === undefined) {
    const earlier = index.from && cachedIndex(index.from)?.body;
    if (index.simple && earlier !== undefined) {
      const body = earlier.slice(Math.min(earlier.length, index.simple.shifted * KEY_STRIDE));
      const key = index.simple.appended && entryOf(index.simple.appended).key;
      index.body = key === undefined ? body : body ? `${body}","${key}` : key;
    } else index.body = timeline.map((t) => entryOf(t).key).join('","');
  }
  return `["${index.body}"]`;
}

/**
 * Each chain's first slot in one flat array of all the chains' steps; `none`: the admits of an entry
 * no step admits; `patterns`: the admits of each set of steps seen (`stepAdmitsOf`), bounded by the
 * number of step sets an entry can admit (a few per rule); `byRule`: what the steps say of each rule.
 */
interface StepSlots {
  offsets: number[];
  total: number;
  none: number[];
  patterns: Map<string, number[]>;
  byRule: Map<string, RuleAdmits>;
}

/**
 * What the chains' steps say of an alert by its rule alone (rule, rule id, source, tags, priority:
 * `stepAdmitsRule`), kept by rule id and used while all five are the same: the steps that also match
 * on facts (`stepAdmitsFacts`, one built-in step) are the only ones looked at again per alert.
 */
interface RuleAdmits {
  rule: string;
  source: AlertFacts['source'];
  priority: AlertFacts['priority'];
  tags: readonly string[];
  /** The admits, when no step the rule passes matches on facts. */
  admits?: number[];
  /** Otherwise the slots the rule passes, in order, and beside each the step if it matches on facts. */
  slots: number[];
  steps: (ChainStep | undefined)[];
}

const slots = new WeakMap<readonly ChainDef[], StepSlots>();
const MAX_PATTERNS = 4096;
const MAX_RULES = 4096;

export function stepSlots(chains: readonly ChainDef[]): StepSlots {
  let s = slots.get(chains);
  if (!s) {
    const offsets: number[] = [];
    let total = 0;
    for (const c of chains) {
      offsets.push(total);
      total += c.steps.length;
    }
    s = {
      offsets,
      total,
      none: Object.freeze(new Array<number>(total).fill(0)) as number[],
      patterns: new Map(),
      byRule: new Map(),
    };
    slots.set(chains, s);
  }
  return s;
}

/**
 * Which steps of the chains admit the entry (computed once per entry and chain set). Most entries
 * admit none: those share one (frozen) array instead of each keeping its own for its incident's life.
 */
export function admitsOf(t: AlertFacts, chains: readonly ChainDef[]): number[] {
  const meta = metaOf(t);
  if (meta.admitsFor === chains) return meta.admits!;
  meta.admits = stepAdmitsOf(t, chains);
  meta.admitsFor = chains;
  return meta.admits;
}

/**
 * `admitsOf` made now and kept nowhere (embedded mode keeps it beside the entry): one shared
 * (frozen) array per pattern of steps, so the entries of a timeline that admit the same steps (the
 * same rules, mostly) hold one array between them; `stepSlots(chains).none` when no step admits it.
 * The steps are not evaluated again for every alert of a rule (`RuleAdmits`).
 */
export function stepAdmitsOf(t: AlertFacts, chains: readonly ChainDef[]): number[] {
  const s = stepSlots(chains);
  let known = s.byRule.get(t.ruleId);
  if (
    known === undefined ||
    known.rule !== t.rule ||
    known.source !== t.source ||
    known.priority !== t.priority ||
    !sameList(known.tags, t.tags)
  ) {
    known = ruleAdmits(t, chains, s);
    if (s.byRule.size >= MAX_RULES) s.byRule.clear();
    s.byRule.set(t.ruleId, known);
  }
  if (known.admits) return known.admits;
  let pattern = '';
  for (let i = 0; i < known.slots.length; i++) {
    const step = known.steps[i];
    if (step === undefined || stepAdmitsFacts(step, t)) pattern += `${known.slots[i]!},`;
  }
  return admitsFor(s, pattern);
}

function ruleAdmits(t: AlertFacts, chains: readonly ChainDef[], s: StepSlots): RuleAdmits {
  const known: RuleAdmits = { rule: t.rule, source: t.source, priority: t.priority, tags: t.tags, slots: [], steps: [] };
  let facts = false;
  let pattern = '';
  for (let i = 0; i < chains.length; i++) {
    const steps = chains[i]!.steps;
    for (let j = 0; j < steps.length; j++) {
      const step = steps[j]!;
      if (!stepAdmitsRule(step, t)) continue;
      const onFacts = stepHasFacts(step);
      facts ||= onFacts;
      known.slots.push(s.offsets[i]! + j);
      known.steps.push(onFacts ? step : undefined);
      pattern += `${s.offsets[i]! + j},`;
    }
  }
  if (!facts) known.admits = admitsFor(s, pattern);
  return known;
}

/** The admits of a pattern of slots (`"3,7,"`): shared while the patterns kept are few. */
function admitsFor(s: StepSlots, pattern: string): number[] {
  if (pattern === '') return s.none;
  let admits = s.patterns.get(pattern);
  if (!admits) {
    admits = new Array<number>(s.total).fill(0);
    for (const at of pattern.slice(0, -1).split(',')) admits[Number(at)] = 1;
    Object.freeze(admits);
    if (s.patterns.size < MAX_PATTERNS) s.patterns.set(pattern, admits);
  }
  return admits;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Per chain step, how many of the timeline's entries admit it (kept up by `deriveTimeline` once counted). */
export function stepCounts(timeline: readonly AlertFacts[], chains: readonly ChainDef[]): number[] {
  const index = indexOf(timeline);
  if (index.countsFor === chains) return index.counts!;
  const counts = new Array<number>(stepSlots(chains).total).fill(0);
  for (const t of timeline) add(counts, admitsOf(t, chains), 1);
  index.counts = counts;
  index.countsFor = chains;
  return counts;
}

function add(counts: number[], admits: number[], sign: number): void {
  for (let i = 0; i < admits.length; i++) if (admits[i]) counts[i]! += sign;
}

/**
 * Whether a search for the chain could find a match the member makes (a necessary condition, from
 * the step counts alone): as the newest member it must take the last step and every earlier step
 * needs another entry; a late member must take some step and every step needs an entry.
 */
export function mayMatch(chain: ChainDef, offset: number, counts: number[], member: number[], newest: boolean): boolean {
  const last = chain.steps.length - 1;
  if (newest) {
    if (!member[offset + last]) return false;
    for (let i = 0; i < last; i++) if (counts[offset + i]! - member[offset + i]! <= 0) return false;
    return true;
  }
  let takesOne = false;
  for (let i = 0; i <= last; i++) {
    if (counts[offset + i]! <= 0) return false;
    if (member[offset + i]) takesOne = true;
  }
  return takesOne;
}

/**
 * Where each member fingerprint stands in the longest of the alert lists that share the index; each
 * list sharing it is a prefix of that one (lists only grow by appending, and only the longest is
 * extended in place), so a fingerprint is in a list when its position is below the list's length.
 */
interface MemberIndex {
  at: Map<string, number>;
  length: number;
}

const MEMBERS = Symbol('member index');
type WithMembers = readonly string[] & { [MEMBERS]?: MemberIndex };

function setMembers(alerts: readonly string[], index: MemberIndex): void {
  Object.defineProperty(alerts, MEMBERS, { value: index, enumerable: false });
}

/** Lists shorter than this are searched (most incidents have a few members: no index kept for them). */
const INDEXED_FROM = 16;

export function hasMember(alerts: readonly string[], fingerprint: string): boolean {
  let index = (alerts as WithMembers)[MEMBERS];
  if (!index) {
    if (alerts.length < INDEXED_FROM) return alerts.includes(fingerprint);
    index = { at: new Map(alerts.map((a, i) => [a, i])), length: alerts.length };
    setMembers(alerts, index);
  }
  const at = index.at.get(fingerprint);
  return at !== undefined && at < alerts.length;
}

/** The list with one more member (not in it yet), its index carried over when it can be. */
export function withAlert(alerts: readonly string[], fingerprint: string): string[] {
  const next = [...alerts, fingerprint];
  const index = (alerts as WithMembers)[MEMBERS];
  if (index && index.length === alerts.length) {
    index.at.set(fingerprint, alerts.length);
    index.length++;
    setMembers(next, index);
  }
  return next;
}

/** The JSON of a list the head holds, by array (never mutated once in an incident): unchanged lists are not serialised again. */
const listText = new WeakMap<readonly string[], string>();

export function listJson(list: readonly string[]): string {
  let text = listText.get(list);
  if (text === undefined) {
    text = JSON.stringify(list);
    listText.set(list, text);
  }
  return text;
}
