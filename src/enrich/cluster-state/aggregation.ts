import { selectorMatches } from './label-selector';
import type { ClusterRole, LabelSelector, PolicyRule } from './types';

/**
 * ClusterRole aggregation as the kube-controller-manager's aggregation controller converges to it: an
 * aggregated role holds the union of the rules of the roles its `clusterRoleSelectors` pick, and
 * those roles' rules are their own aggregation results in turn. The controller writes each result into
 * the role and re-runs whenever any ClusterRole changes, so selections that form a cycle converge to
 * the union of the rules of every role reachable through the cycle; that is what is computed here.
 * A role's stored rules are kept as well: a snapshot taken after the controller ran then gives exactly
 * the stored set.
 *
 * Cost: one walk per requested role, linear in the roles and distinct selectors it reaches (see
 * `reach`), over a label index kept up to date as roles come and go. Results are kept until any
 * ClusterRole changes.
 */
export class RoleAggregation {
  /** Label index of the roles: key → names, key → value → names. */
  private readonly byKey = new Map<string, Set<string>>();
  private readonly byLabel = new Map<string, Map<string, Set<string>>>();
  /** Role name → its effective rules (its own first, then those of every role it reaches), null: too costly. */
  private results = new Map<string, PolicyRule[] | null>();

  constructor(private readonly roles: ReadonlyMap<string, ClusterRole>) {}

  /** Call after `role` entered the roles map. */
  added(role: ClusterRole): void {
    const name = role.metadata.name;
    for (const [key, value] of Object.entries(role.metadata.labels ?? {})) {
      nested(this.byKey, key, () => new Set<string>()).add(name);
      nested(
        nested(this.byLabel, key, () => new Map<string, Set<string>>()),
        value,
        () => new Set<string>(),
      ).add(name);
    }
    this.results = new Map();
  }

  /** Call after `role` left the roles map. */
  removed(role: ClusterRole): void {
    const name = role.metadata.name;
    for (const [key, value] of Object.entries(role.metadata.labels ?? {})) {
      const names = this.byKey.get(key);
      names?.delete(name);
      if (names?.size === 0) this.byKey.delete(key);
      const values = this.byLabel.get(key);
      const withValue = values?.get(value);
      withValue?.delete(name);
      if (withValue?.size === 0) values!.delete(value);
      if (values?.size === 0) this.byLabel.delete(key);
    }
    this.results = new Map();
  }

  rules(name: string): PolicyRule[] | undefined {
    const role = this.roles.get(name);
    if (!role) return undefined;
    if (!role.aggregationRule) return role.rules;
    if (this.results.has(name)) return this.results.get(name) ?? undefined;
    const reached = this.reach(role);
    const result = reached ? dedupe([role.rules, ...reached.map((n) => this.roles.get(n)!.rules)]) : null;
    this.results.set(name, result);
    return result ?? undefined;
  }

  /**
   * Every role `root` reaches through selectors (itself excluded), in name order: one breadth-first
   * walk in which each role and each distinct selector is visited once, and a selector is matched only
   * against roles not reached yet (the walk stops as soon as every role is reached). A thousand roles
   * that all select each other through one label cost a thousand matches, not a million. What is left
   * quadratic (distinct selectors made of negative requirements only, each tried against every role not
   * reached) is cut off at MAX_MATCHES: undefined then, so callers report the role as not known rather
   * than freeze or guess.
   */
  private reach(root: ClusterRole): string[] | undefined {
    let budget = MAX_MATCHES;
    const total = this.roles.size;
    const seenRoles = new Set<string>([root.metadata.name]);
    const seenSelectors = new Set<string>();
    const reached: string[] = [];
    const queue: ClusterRole[] = [root];
    for (let head = 0; head < queue.length && seenRoles.size < total; head++) {
      for (const { key, selector } of selectorsOf(queue[head]!)) {
        if (seenSelectors.has(key)) continue;
        seenSelectors.add(key);
        for (const name of this.candidates(selector)) {
          if (seenRoles.has(name)) continue;
          const role = this.roles.get(name)!;
          if (--budget < 0) return undefined;
          if (!selectorMatches(selector, role.metadata.labels)) continue;
          seenRoles.add(name);
          reached.push(name);
          queue.push(role);
        }
      }
    }
    return reached.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * The roles a selector can match at most, from the label index: the smallest set that one of its
   * `matchLabels`, `In` or `Exists` requirements allows. Only a selector made of negative requirements
   * alone (or an empty one) has to look at every role. Without the index, a chain of roles each selecting
   * the next by a label of its own costs roles × roles matches.
   */
  private candidates(selector: LabelSelector): Iterable<string> {
    type Names = ReadonlySet<string> | string[];
    let best: Names | undefined;
    const size = (c: Names) => (Array.isArray(c) ? c.length : (c as ReadonlySet<string>).size);
    const consider = (names: Names) => {
      if (!best || size(names) < size(best)) best = names;
    };
    for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
      consider(this.byLabel.get(key)?.get(value) ?? NONE);
    }
    for (const req of selector.matchExpressions ?? []) {
      if (req.operator === 'Exists') consider(this.byKey.get(req.key) ?? NONE);
      if (req.operator === 'In') {
        const names: string[] = [];
        for (const v of new Set(req.values ?? [])) for (const n of this.byLabel.get(req.key)?.get(v) ?? NONE) names.push(n);
        consider(names);
      }
    }
    return best ?? this.roles.keys();
  }
}

const NONE: ReadonlySet<string> = new Set();

/** Selector matches one walk may make (a few ms of work); real clusters need a few thousand at most. */
export const MAX_MATCHES = 50_000;

/** A role's distinct selectors with their identities, worked out once per (immutable) role object. */
const selectorCache = new WeakMap<ClusterRole, { key: string; selector: LabelSelector }[]>();
function selectorsOf(role: ClusterRole): { key: string; selector: LabelSelector }[] {
  let list = selectorCache.get(role);
  if (!list) {
    const byKey = new Map<string, LabelSelector>();
    for (const selector of role.aggregationRule?.clusterRoleSelectors ?? []) byKey.set(JSON.stringify(selector), selector);
    list = [...byKey].map(([key, selector]) => ({ key, selector }));
    selectorCache.set(role, list);
  }
  return list;
}

function nested<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = create()));
  return v;
}

/** A rule's identity for deduplication, computed once per rule object. */
const ruleIds = new WeakMap<PolicyRule, string>();
function ruleId(rule: PolicyRule): string {
  let id = ruleIds.get(rule);
  if (id === undefined) ruleIds.set(rule, (id = JSON.stringify(rule)));
  return id;
}

function dedupe(parts: PolicyRule[][]): PolicyRule[] {
  const seen = new Set<string>();
  const out: PolicyRule[] = [];
  for (const rules of parts) {
    for (const rule of rules) {
      const id = ruleId(rule);
      if (!seen.has(id)) {
        seen.add(id);
        out.push(rule);
      }
    }
  }
  return out;
}
