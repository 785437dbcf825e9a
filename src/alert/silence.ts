import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock';
import { FalconerError, NotFoundError } from '../core/errors';
import type { StateStore } from '../store/port';
import { fromApiMatcher, matches, matchesAll, type ApiMatcher, type Labels, type Matcher, MatcherError } from './matcher';

/** Alertmanager's silence (api/v2 `silence`): matchers, a time span, who and why. */
export interface Silence {
  id: string;
  matchers: ApiMatcher[];
  /** RFC 3339. */
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  updatedAt: string;
}

export type SilenceState = 'pending' | 'active' | 'expired';

export interface SilenceInput {
  matchers: ApiMatcher[];
  startsAt?: string | undefined;
  endsAt: string;
  createdBy: string;
  comment: string;
}

export class InvalidSilenceError extends FalconerError {
  constructor(message: string) {
    super('invalid_silence', message, 400);
  }
}

export function silenceState(s: Pick<Silence, 'startsAt' | 'endsAt'>, now: number): SilenceState {
  if (Date.parse(s.endsAt) <= now) return 'expired';
  if (Date.parse(s.startsAt) > now) return 'pending';
  return 'active';
}

export interface SilenceStoreOptions {
  /** Most silences kept (expired ones included until their retention ends). */
  capacity: number;
  /** How long an expired silence stays listed (Alertmanager's `--data.retention`, 120 h). */
  retentionMs: number;
  /** How long a replica may use its copy before reading the shared one again. */
  cacheMs: number;
  /** Called after every change with the whole set, e.g. to mirror it into a file (embedded mode). */
  onChange?: (json: string) => void;
}

const KEY = 'silences';
const MAX_COMMENT = 4096;

interface Compiled {
  silence: Silence;
  matchers: Matcher[];
  starts: number;
  ends: number;
}

/**
 * The silences, one JSON document in the state store (Redis in scale-out mode, so every replica sees
 * the same set), changed with compare-and-set so two replicas' writes never overwrite each other.
 * Reads for muting use a copy at most `cacheMs` old.
 */
export class SilenceStore {
  private cache: { raw: string | undefined; compiled: Compiled[]; at: number } | undefined;

  constructor(
    private readonly store: StateStore,
    private readonly clock: Clock,
    private readonly options: SilenceStoreOptions,
  ) {}

  /** Seeds the shared set from a saved copy when the store has none (embedded mode after a restart). */
  async seed(json: string): Promise<void> {
    const parsed = parseSet(json);
    if (parsed.length) await this.store.setIfAbsent(KEY, JSON.stringify(parsed), this.ttl(parsed));
    this.cache = undefined;
  }

  async list(): Promise<(Silence & { status: { state: SilenceState } })[]> {
    const now = this.clock.now();
    return (await this.read(true)).map(({ silence }) => ({ ...silence, status: { state: silenceState(silence, now) } }));
  }

  async get(id: string): Promise<Silence & { status: { state: SilenceState } }> {
    const found = (await this.list()).find((s) => s.id === id);
    if (!found) throw new NotFoundError(`silence ${id}`);
    return found;
  }

  async create(input: SilenceInput): Promise<Silence> {
    const now = this.clock.now();
    const silence = validate(input, now, randomUUID());
    await this.change((set) => {
      const live = set.filter((s) => silenceState(s, now) !== 'expired');
      if (live.length >= this.options.capacity) throw new FalconerError('too_many_silences', 'too many silences', 409);
      return [...set, silence];
    });
    return silence;
  }

  /** Ends a silence now (a pending one never starts). Expiring an expired silence is refused, as in Alertmanager. */
  async expire(id: string): Promise<void> {
    const now = this.clock.now();
    await this.change((set) => {
      const i = set.findIndex((s) => s.id === id);
      if (i < 0) throw new NotFoundError(`silence ${id}`);
      const s = set[i]!;
      const state = silenceState(s, now);
      if (state === 'expired') throw new FalconerError('silence_expired', `silence ${id} already expired`, 409);
      const at = new Date(now).toISOString();
      const next = [...set];
      next[i] = { ...s, endsAt: at, ...(state === 'pending' ? { startsAt: at } : {}), updatedAt: at };
      return next;
    });
  }

  /**
   * Ids of the active silences that match these labels; empty when none mutes them. Asked for every
   * alert, so it answers without a promise when it can: from a fresh cached copy, or from a store
   * that keeps values in this process (`peek`: the shared document as it is now, as `get` reads it).
   */
  mutes(labels: Labels): string[] | Promise<string[]> {
    const now = this.clock.now();
    const set = this.current(now);
    return set ? muting(set, labels, now) : this.read(false).then((read) => muting(read, labels, now));
  }

  /** The compiled set without a store trip, or undefined when it takes one. */
  private current(now: number): Compiled[] | undefined {
    if (this.cache && now - this.cache.at < this.options.cacheMs) return this.cache.compiled;
    const raw = this.store.peek?.(KEY);
    // Written as text (`setIfAbsent`, `replace`); anything else is left to `get`.
    if (!this.store.peek || typeof raw === 'function') return undefined;
    return this.compiled(raw, now);
  }

  private async read(fresh: boolean): Promise<Compiled[]> {
    const now = this.clock.now();
    if (!fresh && this.cache && now - this.cache.at < this.options.cacheMs) return this.cache.compiled;
    return this.compiled(await this.store.get(KEY), now);
  }

  /** The set as the store holds it (`raw`), compiled once per version of the document. */
  private compiled(raw: string | undefined, now: number): Compiled[] {
    if (this.cache && this.cache.raw === raw) {
      this.cache.at = now;
      return this.cache.compiled;
    }
    const compiled = compile(raw === undefined ? [] : parseSet(raw));
    this.cache = { raw, compiled, at: now };
    return compiled;
  }

  private async change(edit: (set: Silence[]) => Silence[]): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const raw = await this.store.get(KEY);
      const now = this.clock.now();
      const current = (raw === undefined ? [] : parseSet(raw)).filter(
        (s) => Date.parse(s.endsAt) + this.options.retentionMs > now, // garbage-collect old expired ones
      );
      const next = edit(current);
      const json = JSON.stringify(next);
      const written =
        raw === undefined
          ? await this.store.setIfAbsent(KEY, json, this.ttl(next))
          : await this.store.replace(KEY, raw, json, this.ttl(next));
      if (written) {
        this.cache = { raw: json, compiled: compile(next), at: now };
        this.options.onChange?.(json);
        return;
      }
    }
    throw new FalconerError('silence_conflict', 'silences changed concurrently too often; try again', 409);
  }

  /** Kept until the last silence's retention ends (at least a day). */
  private ttl(set: Silence[]): number {
    const now = this.clock.now();
    const last = Math.max(now, ...set.map((s) => Date.parse(s.endsAt)));
    return Math.max(24 * 3_600_000, last + this.options.retentionMs - now);
  }
}

const NONE: readonly string[] = Object.freeze([]);

function muting(set: readonly Compiled[], labels: Labels, now: number): string[] {
  // No silence at all (the usual case): one shared empty answer, no arrays made per alert.
  if (set.length === 0) return NONE as string[];
  return set.filter((c) => c.starts <= now && now < c.ends && matchesAll(c.matchers, labels)).map((c) => c.silence.id);
}

function parseSet(json: string): Silence[] {
  const value = JSON.parse(json) as unknown;
  return Array.isArray(value) ? (value as Silence[]) : [];
}

function compile(set: Silence[]): Compiled[] {
  return set.map((silence) => ({
    silence,
    matchers: silence.matchers.map(fromApiMatcher),
    starts: Date.parse(silence.startsAt),
    ends: Date.parse(silence.endsAt),
  }));
}

/** Alertmanager's checks: at least one matcher, valid regexes, not matching everything, ends after it starts. */
function validate(input: SilenceInput, now: number, id: string): Silence {
  if (!Array.isArray(input.matchers) || input.matchers.length === 0)
    throw new InvalidSilenceError('at least one matcher is required');
  const compiled: Matcher[] = [];
  for (const m of input.matchers) {
    if (!m || typeof m.name !== 'string' || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(m.name))
      throw new InvalidSilenceError(`invalid matcher name ${JSON.stringify(m?.name)}`);
    if (typeof m.value !== 'string') throw new InvalidSilenceError(`matcher ${m.name}: value must be a string`);
    try {
      compiled.push(fromApiMatcher({ name: m.name, value: m.value, isRegex: m.isRegex === true, isEqual: m.isEqual !== false }));
    } catch (err) {
      if (err instanceof MatcherError) throw new InvalidSilenceError(err.message);
      throw err;
    }
  }
  if (compiled.every((m) => matches(m, '')))
    throw new InvalidSilenceError('at least one matcher must not match the empty string');
  const starts = input.startsAt === undefined ? now : Date.parse(input.startsAt);
  const ends = Date.parse(input.endsAt);
  if (Number.isNaN(starts)) throw new InvalidSilenceError('startsAt must be an RFC 3339 time');
  if (Number.isNaN(ends)) throw new InvalidSilenceError('endsAt must be an RFC 3339 time');
  if (ends <= starts) throw new InvalidSilenceError('endsAt must be after startsAt');
  if (ends <= now) throw new InvalidSilenceError('endsAt must be in the future');
  if (typeof input.createdBy !== 'string' || input.createdBy.trim() === '')
    throw new InvalidSilenceError('createdBy is required');
  if (typeof input.comment !== 'string' || input.comment.trim() === '') throw new InvalidSilenceError('comment is required');
  if (input.comment.length > MAX_COMMENT) throw new InvalidSilenceError(`comment is longer than ${MAX_COMMENT} characters`);
  return {
    id,
    matchers: compiled.map((m) => ({
      name: m.name,
      value: m.value,
      isRegex: m.type === '=~' || m.type === '!~',
      isEqual: m.type === '=' || m.type === '=~',
    })),
    startsAt: new Date(Math.max(starts, now)).toISOString(),
    endsAt: new Date(ends).toISOString(),
    createdBy: input.createdBy,
    comment: input.comment,
    updatedAt: new Date(now).toISOString(),
  };
}
