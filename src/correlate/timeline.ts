import { hash } from 'node:crypto';
import type { StateStore } from '../store/port';
import { stepAdmits, type ChainDef } from './chains';
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
  text: string;
  /** The store key's suffix: 22 base64url characters of the text's SHA-256. */
  key: string;
  /** The store the entry is known to be in (written or read there): not written again. */
  storedIn?: StateStore;
  /** Which chain steps admit the entry (1 or 0 per step of `admitsFor`, see `stepSlots`). */
  admits?: number[];
  admitsFor?: readonly ChainDef[];
}

/**
 * An entry's text and key, on the (never mutated) facts object itself under a non-enumerable symbol
 * (JSON and test equality do not see it): each is serialised and hashed once.
 */
const META = Symbol('incident entry');

export function entryOf(t: AlertFacts): EntryMeta {
  const known = (t as AlertFacts & { [META]?: EntryMeta })[META];
  if (known) return known;
  const text = JSON.stringify(t);
  return withMeta(t, { text, key: hash('sha256', text, 'base64url').slice(0, 22) });
}

export function withMeta(t: AlertFacts, meta: EntryMeta): EntryMeta {
  Object.defineProperty(t, META, { value: meta, enumerable: false });
  return meta;
}

const KEY_LENGTH = 22;
/** One key's share of the entry list's JSON body: the key and the `","` after it. */
const KEY_STRIDE = KEY_LENGTH + 3;

interface Change {
  t: AlertFacts;
  meta: EntryMeta;
}

/** A timeline's entries (metas in timeline order) and, when derived from an earlier timeline, what changed. */
interface TimelineIndex {
  metas: EntryMeta[];
  from?: readonly AlertFacts[];
  /** Entries of this timeline that `from` did not hold, and entries of `from` this one does not hold. */
  added: Change[];
  removed: Change[];
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
  const index = cachedIndex(timeline);
  if (index) return index;
  const metas = timeline.map(entryOf);
  return remember(timeline, { metas, added: timeline.map((t, i) => ({ t, meta: metas[i]! })), removed: [] });
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
  const before = indexOf(from);
  const metas: EntryMeta[] = [];
  const added: Change[] = [];
  const removed: Change[] = [];
  let j = 0;
  for (const t of next) {
    let k = j;
    while (k < from.length && from[k] !== t) k++;
    if (k === from.length) {
      const meta = entryOf(t);
      metas.push(meta);
      added.push({ t, meta });
      continue;
    }
    for (; j < k; j++) removed.push({ t: from[j]!, meta: before.metas[j]! });
    metas.push(before.metas[k]!);
    j = k + 1;
  }
  for (; j < from.length; j++) removed.push({ t: from[j]!, meta: before.metas[j]! });
  // Entries in a new order would show as both removed and added: they were neither.
  if (added.length && removed.length) {
    const back = new Set(added.map((a) => a.t));
    const moved = removed.filter((r) => back.has(r.t));
    if (moved.length) {
      const gone = new Set(moved.map((m) => m.t));
      return remember(next, {
        metas,
        from,
        added: added.filter((a) => !gone.has(a.t)),
        removed: removed.filter((r) => !gone.has(r.t)),
      });
    }
  }
  const index: TimelineIndex = { metas, from, added, removed };
  // The usual change (the oldest entries shifted out, one newer appended): the key list is the old one, cut and extended.
  const shifted = removed.length && removed.every((r, i) => r.t === from[i]) ? removed.length : 0;
  if (
    before.body !== undefined &&
    removed.length === shifted &&
    added.length <= 1 &&
    (!added.length || next.at(-1) === added[0]!.t)
  ) {
    let body = before.body.slice(Math.min(before.body.length, shifted * KEY_STRIDE));
    if (added.length) body = body ? `${body}","${added[0]!.meta.key}` : added[0]!.meta.key;
    index.body = body;
  }
  return remember(next, index);
}

/** Kept on the array the first time only (a timeline derived again from another one keeps its first index). */
function remember(next: readonly AlertFacts[], index: TimelineIndex): TimelineIndex {
  if (!cachedIndex(next)) Object.defineProperty(next, INDEX, { value: index, enumerable: false });
  return index;
}

/** The timeline's entry keys as the head's JSON list. */
export function entriesJson(timeline: readonly AlertFacts[]): string {
  if (!timeline.length) return '[]';
  const index = indexOf(timeline);
  index.body ??= index.metas.map((m) => m.key).join('","');
  return `["${index.body}"]`;
}

/** Each chain's first slot in one flat array of all the chains' steps. */
const slots = new WeakMap<readonly ChainDef[], { offsets: number[]; total: number }>();

export function stepSlots(chains: readonly ChainDef[]): { offsets: number[]; total: number } {
  let s = slots.get(chains);
  if (!s) {
    const offsets: number[] = [];
    let total = 0;
    for (const c of chains) {
      offsets.push(total);
      total += c.steps.length;
    }
    s = { offsets, total };
    slots.set(chains, s);
  }
  return s;
}

/** Which steps of the chains admit the entry (computed once per entry and chain set). */
export function admitsOf(t: AlertFacts, chains: readonly ChainDef[]): number[] {
  const meta = entryOf(t);
  if (meta.admitsFor === chains) return meta.admits!;
  const { offsets, total } = stepSlots(chains);
  const admits = new Array<number>(total).fill(0);
  chains.forEach((c, i) =>
    c.steps.forEach((s, j) => {
      if (stepAdmits(s, t)) admits[offsets[i]! + j] = 1;
    }),
  );
  meta.admits = admits;
  meta.admitsFor = chains;
  return admits;
}

/** Per chain step, how many of the timeline's entries admit it: from the earlier timeline's counts and what changed. */
export function stepCounts(timeline: readonly AlertFacts[], chains: readonly ChainDef[]): number[] {
  const index = indexOf(timeline);
  if (index.countsFor === chains) return index.counts!;
  const earlier = index.from && cachedIndex(index.from);
  let counts: number[];
  if (earlier?.countsFor === chains) {
    counts = earlier.counts!.slice();
    for (const a of index.added) add(counts, admitsOf(a.t, chains), 1);
    for (const r of index.removed) add(counts, admitsOf(r.t, chains), -1);
  } else {
    counts = new Array<number>(stepSlots(chains).total).fill(0);
    for (const t of timeline) add(counts, admitsOf(t, chains), 1);
  }
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

export function hasMember(alerts: readonly string[], fingerprint: string): boolean {
  let index = (alerts as WithMembers)[MEMBERS];
  if (!index) {
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
