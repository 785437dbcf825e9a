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
 * `reach`). Results live as long as this object; ClusterState makes a new one whenever a ClusterRole
 * changes.
 */
export class RoleAggregation {
  /** Role names in name order: a role's number is its place here. */
  private readonly names: string[];
  private readonly numbers = new Map<string, number>();
  private readonly selectors: LabelSelector[] = [];
  /** Per role: the numbers of its distinct selectors. */
  private readonly selectorsOf: number[][] = [];
  /** Role name → its effective rules: its own first, then those of every other role it reaches. */
  private readonly results = new Map<string, PolicyRule[]>();
  private labelIndex?: LabelIndex;
  // Visit marks, reused across walks: a role or selector is visited in this walk when its mark is the walk's.
  private readonly roleMarks: Int32Array;
  private readonly selectorMarks: Int32Array;
  private walks = 0;

  constructor(private readonly roles: ReadonlyMap<string, ClusterRole>) {
    this.names = [...roles.keys()].sort();
    this.names.forEach((name, i) => this.numbers.set(name, i));
    const selectorNumbers = new Map<string, number>();
    for (const name of this.names) {
      const own = new Set<number>();
      for (const selector of roles.get(name)!.aggregationRule?.clusterRoleSelectors ?? []) {
        const key = JSON.stringify(selector);
        let n = selectorNumbers.get(key);
        if (n === undefined) {
          selectorNumbers.set(key, (n = this.selectors.length));
          this.selectors.push(selector);
        }
        own.add(n);
      }
      this.selectorsOf.push([...own]);
    }
    this.roleMarks = new Int32Array(this.names.length);
    this.selectorMarks = new Int32Array(this.selectors.length);
  }

  rules(name: string): PolicyRule[] | undefined {
    const role = this.roles.get(name);
    if (!role) return undefined;
    if (!role.aggregationRule) return role.rules;
    let result = this.results.get(name);
    if (!result) {
      const reached = this.reach(this.numbers.get(name)!);
      result = dedupe([role.rules, ...reached.map((n) => this.roles.get(this.names[n]!)!.rules)]);
      this.results.set(name, result);
    }
    return result;
  }

  /**
   * Every role `root` reaches through selectors (itself excluded), in name order: one breadth-first
   * walk in which each role and each distinct selector is visited once, and a selector is matched only
   * against roles not reached yet (the walk stops as soon as every role is reached). A thousand roles
   * that all select each other through one label cost a thousand matches, not a million.
   */
  private reach(root: number): number[] {
    const walk = ++this.walks;
    const { roleMarks, selectorMarks } = this;
    const total = this.names.length;
    const reached: number[] = [];
    const queue = [root];
    roleMarks[root] = walk;
    let seen = 1;
    for (let head = 0; head < queue.length && seen < total; head++) {
      for (const s of this.selectorsOf[queue[head]!]!) {
        if (selectorMarks[s] === walk) continue;
        selectorMarks[s] = walk;
        const selector = this.selectors[s]!;
        for (const name of this.candidates(selector)) {
          const n = this.numbers.get(name)!;
          if (roleMarks[n] === walk || !selectorMatches(selector, this.roles.get(name)!.metadata.labels)) continue;
          roleMarks[n] = walk;
          seen++;
          reached.push(n);
          queue.push(n);
        }
      }
    }
    return reached.sort((a, b) => a - b);
  }

  /**
   * The roles a selector can match at most, from a label index: the smallest set that one of its
   * `matchLabels`, `In` or `Exists` requirements allows. Only a selector made of negative requirements
   * alone (or an empty one) has to look at every role. Without the index, a chain of roles each selecting
   * the next by a label of its own costs roles × roles matches.
   */
  private candidates(selector: LabelSelector): readonly string[] {
    const index = (this.labelIndex ??= buildLabelIndex(this.roles));
    let best: readonly string[] | undefined;
    const consider = (names: readonly string[]) => {
      if (!best || names.length < best.length) best = names;
    };
    for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
      consider(index.byLabel.get(key)?.get(value) ?? []);
    }
    for (const req of selector.matchExpressions ?? []) {
      if (req.operator === 'Exists') consider(index.byKey.get(req.key) ?? []);
      if (req.operator === 'In') {
        const names: string[] = [];
        for (const v of new Set(req.values ?? [])) names.push(...(index.byLabel.get(req.key)?.get(v) ?? []));
        consider(names);
      }
    }
    return best ?? this.names;
  }
}

interface LabelIndex {
  byKey: Map<string, string[]>;
  byLabel: Map<string, Map<string, string[]>>;
}

function buildLabelIndex(roles: ReadonlyMap<string, ClusterRole>): LabelIndex {
  const index: LabelIndex = { byKey: new Map(), byLabel: new Map() };
  for (const [name, role] of roles) {
    for (const [key, value] of Object.entries(role.metadata.labels ?? {})) {
      let names = index.byKey.get(key);
      if (!names) index.byKey.set(key, (names = []));
      names.push(name);
      let values = index.byLabel.get(key);
      if (!values) index.byLabel.set(key, (values = new Map()));
      let withValue = values.get(value);
      if (!withValue) values.set(value, (withValue = []));
      withValue.push(name);
    }
  }
  return index;
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
