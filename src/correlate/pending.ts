import type { Alert, Attribution } from '../core/alert';
import type { RuntimeTarget } from './attribution';

/** Confidence, user and audit IDs of the attribution a pending alert went out with. */
export type AttributionSummary = Pick<Attribution, 'confidence' | 'user' | 'auditID'> & { candidates: { auditID: string }[] };

/**
 * A runtime alert that a late audit event may still attribute (or attribute better), as a pod's list
 * entry (the shared store's `corr:r:` record is a JSON array of these).
 */
export interface PendingAlert {
  fingerprint: string;
  firstSeen: number;
  target: RuntimeTarget;
  attribution?: AttributionSummary;
}

/** No slot (the end of a list). */
export const NONE = -1;

/** A pod's pending alerts: the ends of its list in the `PendingSlots` and what the list adds up to. */
export class PodPending {
  /** Oldest and newest slot of the pod's list. */
  first = NONE;
  last = NONE;
  count = 0;
  /** At least the length of the list's JSON as a record: `LIST_FIXED` plus each entry's bound. */
  bound = LIST_FIXED;
}

const INITIAL_SLOTS = 256;
const LIST_FIXED = 2;
/** `{"fingerprint":"","firstSeen":N,"target":{"key":"","container":"","timeMs":N,"execAuditID":"","names":[],"tty":false}},` */
const ENTRY_FIXED = 192;
/** `,"attribution":{"confidence":"ambiguous","user":null,"auditID":null,"candidates":[]}` */
const ATTRIBUTION_FIXED = 112;

/**
 * Embedded mode: every pending alert, in slots of parallel arrays rather than an object each. A
 * tracked alert makes no object of its own and lives in no object the collector copies: its numbers
 * and links are in typed arrays (a pod's list and the queue of all of them are linked through slot
 * numbers), its strings and target in arrays of references. Each slot is on its pod's list (oldest
 * first) and on the queue (oldest first, all pods): adding, dropping and evicting the oldest are
 * O(1), with no allocation once the arrays have grown to what is kept. A slot is reused once
 * dropped; `version` tells a slot's occupant from a later one.
 */
export class PendingSlots<P extends PodPending = PodPending> {
  private capacity = 0;

  /** `max`: at most this many entries at once (the arrays grow up to it). */
  constructor(private readonly max = Number.MAX_SAFE_INTEGER) {}

  fingerprint: (string | undefined)[] = [];
  /** A few characters of the fingerprint, hashed: a pod's list is searched without reading its strings. */
  private tag = new Int32Array(0);
  firstSeen = new Float64Array(0);
  /** Until when (store clock) a late update may amend it. */
  until = new Float64Array(0);
  target: (RuntimeTarget | undefined)[] = [];
  attribution: (AttributionSummary | undefined)[] = [];
  /** The alert as the alert stage made it (amended since, maybe); undefined when read back from the data dir. */
  alert: (Alert | undefined)[] = [];
  pod: (P | undefined)[] = [];
  /** The entry's JSON, once made (for the data dir's record). */
  private text: (string | undefined)[] = [];
  private bound = new Int32Array(0);
  version = new Uint32Array(0);
  private older = new Int32Array(0);
  private newer = new Int32Array(0);
  private podOlder = new Int32Array(0);
  private podNewer = new Int32Array(0);
  private free = new Int32Array(0);
  private freeCount = 0;
  /** The queue: oldest and newest slot of all. */
  oldest = NONE;
  private newest = NONE;
  size = 0;
  private tagged?: string = undefined;
  private lastTag = 0;

  /** A new entry at the end of `pod`'s list and of the queue; returns its slot. */
  add(
    pod: P,
    fingerprint: string,
    firstSeen: number,
    target: RuntimeTarget,
    attribution: AttributionSummary | undefined,
    until: number,
    alert: Alert | undefined,
  ): number {
    if (this.freeCount === 0) this.grow();
    const s = this.free[--this.freeCount]!;
    this.fingerprint[s] = fingerprint;
    this.tag[s] = this.tagOf(fingerprint);
    this.firstSeen[s] = firstSeen;
    this.until[s] = until;
    this.target[s] = target;
    this.attribution[s] = attribution;
    this.alert[s] = alert;
    this.pod[s] = pod;
    const bound = entryBound(fingerprint, target, attribution);
    this.bound[s] = bound;
    pod.bound += bound;
    pod.count++;
    this.podOlder[s] = pod.last;
    this.podNewer[s] = NONE;
    if (pod.last === NONE) pod.first = s;
    else this.podNewer[pod.last] = s;
    pod.last = s;
    this.older[s] = this.newest;
    this.newer[s] = NONE;
    if (this.newest === NONE) this.oldest = s;
    else this.newer[this.newest] = s;
    this.newest = s;
    this.size++;
    return s;
  }

  /** The slot leaves its pod's list and the queue, and lets go of what it held. */
  drop(s: number): void {
    const pod = this.pod[s]!;
    pod.bound -= this.bound[s]!;
    pod.count--;
    const po = this.podOlder[s]!;
    const pn = this.podNewer[s]!;
    if (po === NONE) pod.first = pn;
    else this.podNewer[po] = pn;
    if (pn === NONE) pod.last = po;
    else this.podOlder[pn] = po;
    const o = this.older[s]!;
    const n = this.newer[s]!;
    if (o === NONE) this.oldest = n;
    else this.newer[o] = n;
    if (n === NONE) this.newest = o;
    else this.older[n] = o;
    this.size--;
    this.fingerprint[s] = undefined;
    this.target[s] = undefined;
    this.attribution[s] = undefined;
    this.alert[s] = undefined;
    this.pod[s] = undefined;
    this.text[s] = undefined;
    this.version[s]!++;
    this.free[this.freeCount++] = s;
  }

  /** The slot's attribution changed (a late update): it keeps its places. */
  reattributed(s: number, attribution: AttributionSummary, alert: Alert | undefined): void {
    const pod = this.pod[s]!;
    const bound = entryBound(this.fingerprint[s]!, this.target[s]!, attribution);
    pod.bound += bound - this.bound[s]!;
    this.bound[s] = bound;
    this.attribution[s] = attribution;
    this.alert[s] = alert;
    this.text[s] = undefined;
    this.version[s]!++;
  }

  /** The slot after `s` on its pod's list (`NONE` at the end). */
  next(s: number): number {
    return this.podNewer[s]!;
  }

  /** The slot of `fingerprint` on the pod's list, or `NONE`. */
  find(pod: P, fingerprint: string): number {
    const tag = this.tagOf(fingerprint);
    for (let s = pod.first; s !== NONE; s = this.podNewer[s]!)
      if (this.tag[s] === tag && this.fingerprint[s] === fingerprint) return s;
    return NONE;
  }

  /** The entry as the shared store's list keeps it, as JSON (made once per version). */
  json(s: number): string {
    let text = this.text[s];
    if (text === undefined) {
      const entry: PendingAlert = { fingerprint: this.fingerprint[s]!, firstSeen: this.firstSeen[s]!, target: this.target[s]! };
      const attribution = this.attribution[s];
      if (attribution) entry.attribution = attribution;
      text = this.text[s] = JSON.stringify(entry);
    }
    return text;
  }

  /** The pod's list as the shared store's record (a JSON array), from the list as it stands. */
  listText(pod: P): string {
    const texts: string[] = [];
    for (let s = pod.first; s !== NONE; s = this.podNewer[s]!) texts.push(this.json(s));
    return `[${texts.join(',')}]`;
  }

  /** The pod's list cut from the front until its JSON fits `max`, as `updateList` cuts a shared store's. */
  cutToFit(pod: P, max: number): void {
    let length = pod.count + 1;
    for (let s = pod.first; s !== NONE; s = this.podNewer[s]!) length += this.json(s).length;
    while (length > max && pod.count > 1) {
      length -= this.json(pod.first).length + 1;
      this.drop(pod.first);
    }
  }

  /** The fingerprint's tag; the last one is remembered (`track` looks a fingerprint up, then adds it). */
  private tagOf(fingerprint: string): number {
    if (fingerprint !== this.tagged) {
      this.tagged = fingerprint;
      this.lastTag = tagOf(fingerprint);
    }
    return this.lastTag;
  }

  private grow(): void {
    const old = this.capacity;
    const capacity = Math.max(old + 1, Math.min(this.max, old === 0 ? INITIAL_SLOTS : old * 2));
    this.tag = grown(this.tag, new Int32Array(capacity));
    this.firstSeen = grown(this.firstSeen, new Float64Array(capacity));
    this.until = grown(this.until, new Float64Array(capacity));
    this.bound = grown(this.bound, new Int32Array(capacity));
    this.version = grown(this.version, new Uint32Array(capacity));
    this.older = grown(this.older, new Int32Array(capacity));
    this.newer = grown(this.newer, new Int32Array(capacity));
    this.podOlder = grown(this.podOlder, new Int32Array(capacity));
    this.podNewer = grown(this.podNewer, new Int32Array(capacity));
    this.free = grown(this.free, new Int32Array(capacity));
    for (const refs of [this.fingerprint, this.target, this.attribution, this.alert, this.pod, this.text] as unknown[][])
      for (let s = old; s < capacity; s++) refs[s] = undefined;
    // Lowest slot taken first: the arrays' front stays the busy part.
    for (let s = capacity - 1; s >= old; s--) this.free[this.freeCount++] = s;
    this.capacity = capacity;
  }
}

function grown<A extends Int32Array | Uint32Array | Float64Array>(from: A, to: A): A {
  to.set(from);
  return to;
}

/** A few characters of a fingerprint hashed (its last ones: fingerprints are digests, and share no suffix). */
function tagOf(fingerprint: string): number {
  let h = fingerprint.length;
  for (let i = Math.max(0, fingerprint.length - 8); i < fingerprint.length; i++)
    h = (Math.imul(h, 31) + fingerprint.charCodeAt(i)) | 0;
  return h;
}

/**
 * At least the length of the entry's JSON in a list, without making it: every character of a string
 * at most 6 (`\u00XX`), and the fields' names, punctuation and numbers (at most 24 characters each)
 * within the `_FIXED` allowances (165 and 84 characters at most). A list's bound is `LIST_FIXED`
 * plus its entries'.
 */
function entryBound(fingerprint: string, t: RuntimeTarget, a: AttributionSummary | undefined): number {
  let n = ENTRY_FIXED + 6 * (fingerprint.length + t.key.length + (t.container?.length ?? 0) + (t.execAuditID?.length ?? 0));
  for (const name of t.names) n += 3 + 6 * name.length;
  if (a) {
    n += ATTRIBUTION_FIXED + 6 * ((a.user?.length ?? 0) + (a.auditID?.length ?? 0));
    for (const c of a.candidates) n += 16 + 6 * c.auditID.length;
  }
  return n;
}
