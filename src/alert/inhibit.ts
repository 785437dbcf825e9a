import { hash } from 'node:crypto';
import type { Alert } from '../core/alert';
import type { StateStore } from '../store/port';
import { matchesAll, newMatcher, parseMatchers, type Labels, type Matcher } from './matcher';

/** One `inhibit_rules` entry in Alertmanager's syntax (the legacy match forms included). */
export interface InhibitRuleConfig {
  name?: string | undefined;
  source_matchers?: string[] | undefined;
  target_matchers?: string[] | undefined;
  source_match?: Record<string, string> | undefined;
  source_match_re?: Record<string, string> | undefined;
  target_match?: Record<string, string> | undefined;
  target_match_re?: Record<string, string> | undefined;
  equal?: string[] | undefined;
}

interface Rule {
  id: string;
  source: Matcher[];
  target: Matcher[];
  equal: string[];
  /** Mark keys by their `equal` values (see `key`). */
  keys: Map<string, string>;
}

/**
 * Mark keys remembered per rule: every alert hashes its `equal` values (the built-in rule: its pod),
 * and a lookup costs a tenth of the SHA-256. Bounded, as the other memos of this stage: it starts
 * over when full, and long values (hostile labels) are hashed each time instead of kept.
 */
const KEYS_KEPT = 10_000;
const KEPT_VALUES_LENGTH = 256;

/**
 * The built-in rule: a critical alert on a pod mutes the lower alerts of the same pod, so one page
 * replaces five.
 */
export const CRITICAL_POD_RULE: InhibitRuleConfig = {
  name: 'critical-pod',
  source_matchers: ['severity="critical"', 'pod!=""'],
  target_matchers: ['severity!="critical"', 'pod!=""'],
  equal: ['cluster', 'namespace', 'pod'],
};

const NONE: readonly string[] = Object.freeze([]);

function compile(c: InhibitRuleConfig, index: number): Rule {
  const side = (ms: string[] | undefined, eq: Record<string, string> | undefined, re: Record<string, string> | undefined) => [
    ...Object.entries(eq ?? {}).map(([n, v]) => newMatcher('=', n, v)),
    ...Object.entries(re ?? {}).map(([n, v]) => newMatcher('=~', n, v)),
    ...(ms ?? []).flatMap((m) => parseMatchers(m)),
  ];
  return {
    id: `${index}`, // by position: names are optional and need not be unique
    source: side(c.source_matchers, c.source_match, c.source_match_re),
    target: side(c.target_matchers, c.target_match, c.target_match_re),
    equal: c.equal ?? [],
    keys: new Map(),
  };
}

/**
 * Inhibition (Alertmanager's semantics): an alert matching a rule's target matchers is muted while an
 * alert matching its source matchers fires with the same values of the `equal` labels (a label absent
 * on both sides counts as equal). An alert never inhibits itself. Firing sources are marked in the
 * store for the quiet period, so every replica sees the sources any replica saw.
 */
export class Inhibitor {
  private readonly rules: Rule[];

  constructor(
    rules: readonly InhibitRuleConfig[],
    private readonly store: StateStore,
    /** How long a source counts as firing after its last occurrence (the resolve quiet period). */
    private readonly firingMs: number,
  ) {
    this.rules = rules.map(compile);
  }

  /**
   * Records a source occurrence for every rule whose source matchers it matches. A store that keeps
   * values in this process takes the mark at once (`setNow`): no promise when nothing waits.
   */
  observe(alert: Alert): void | Promise<void> {
    const marks: Promise<void>[] = [];
    for (const r of this.rules) {
      if (!matchesAll(r.source, alert.labels)) continue;
      if (this.store.setNow) this.store.setNow(this.key(r, alert.labels), alert.fingerprint, this.firingMs);
      else marks.push(this.store.set(this.key(r, alert.labels), alert.fingerprint, this.firingMs));
    }
    if (marks.length === 1) return marks[0];
    if (marks.length) return Promise.all(marks).then(() => undefined);
  }

  /**
   * The fingerprints of the firing sources that mute this alert: read with `peek` (no promise) from a
   * store that keeps values in this process.
   */
  inhibitedBy(alert: Alert): string[] | Promise<string[]> {
    if (!this.store.peek) return this.inhibitedByAsync(alert);
    let by: string[] | undefined;
    for (const r of this.rules) {
      if (!matchesAll(r.target, alert.labels)) continue;
      const source = this.store.peek(this.key(r, alert.labels));
      if (typeof source === 'function') return this.inhibitedByAsync(alert); // not a mark of ours: let `get` read it
      if (source !== undefined && source !== alert.fingerprint && !by?.includes(source)) (by ??= []).push(source);
    }
    return by ?? (NONE as string[]);
  }

  private async inhibitedByAsync(alert: Alert): Promise<string[]> {
    const by: string[] = [];
    for (const r of this.rules) {
      if (!matchesAll(r.target, alert.labels)) continue;
      const source = await this.store.get(this.key(r, alert.labels));
      if (source !== undefined && source !== alert.fingerprint && !by.includes(source)) by.push(source);
    }
    return by;
  }

  private key(r: Rule, labels: Labels): string {
    const values = r.equal.map((n) => labels[n] ?? '').join('\u0000');
    let key = r.keys.get(values);
    if (key === undefined) {
      key = `inhibit:${r.id}:${hash('sha256', values, 'hex').slice(0, 32)}`;
      if (values.length <= KEPT_VALUES_LENGTH) {
        if (r.keys.size >= KEYS_KEPT) r.keys.clear();
        r.keys.set(values, key);
      }
    }
    return key;
  }
}
