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
 * Cost: linear in the size of the selection graph. Roles and distinct selectors are its nodes (a
 * selector shared by a thousand roles is one node, matched once against every role), so a thousand
 * roles that all select each other through one label make a graph of two thousand edges, not a million.
 * One walk per requested role finds what it reaches; every role in its cycle shares the answer. Results
 * live as long as this object; ClusterState makes a new one whenever a ClusterRole changes.
 */
export class RoleAggregation {
  /** Role names in name order: a role's node number is its place here. Selectors are numbered after them. */
  private readonly names: string[];
  private readonly numbers = new Map<string, number>();
  private readonly selectors: LabelSelector[] = [];
  /** Per role: its distinct selectors' node numbers. */
  private readonly selectorsOf: number[][] = [];
  /** Per selector (by node number - role count): the roles it matches, computed on first use. */
  private readonly matched: (number[] | undefined)[] = [];
  /** Role number → the rules of every role it reaches (itself included), in name order, deduplicated. */
  private readonly reached = new Map<number, PolicyRule[]>();
  /** Role name → its effective rules: its own first, then the rest of what it reaches. */
  private readonly results = new Map<string, PolicyRule[]>();
  private labelIndex?: LabelIndex;
  // Tarjan's bookkeeping, reused across walks: an entry is valid only when its stamp is this walk's.
  private readonly stamp: Int32Array;
  private readonly order: Int32Array;
  private readonly low: Int32Array;
  private readonly onStack: Uint8Array;
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
          selectorNumbers.set(key, (n = this.names.length + this.selectors.length));
          this.selectors.push(selector);
        }
        own.add(n);
      }
      this.selectorsOf.push([...own]);
    }
    const nodes = this.names.length + this.selectors.length;
    this.stamp = new Int32Array(nodes);
    this.order = new Int32Array(nodes);
    this.low = new Int32Array(nodes);
    this.onStack = new Uint8Array(nodes);
  }

  rules(name: string): PolicyRule[] | undefined {
    const role = this.roles.get(name);
    if (!role) return undefined;
    if (!role.aggregationRule) return role.rules;
    let result = this.results.get(name);
    if (!result) {
      const n = this.numbers.get(name)!;
      if (!this.reached.has(n)) this.solve(n);
      const reached = this.reached.get(n)!;
      result = role.rules.length === 0 ? reached : ownFirst(role.rules, reached);
      this.results.set(name, result);
    }
    return result;
  }

  /** Outgoing edges: a role to its distinct selectors, a selector to the roles it matches. */
  private edges(node: number): readonly number[] {
    if (node < this.names.length) return this.selectorsOf[node]!;
    const s = node - this.names.length;
    let roles = this.matched[s];
    if (!roles) {
      const selector = this.selectors[s]!;
      roles = [];
      for (const name of this.candidates(selector)) {
        if (selectorMatches(selector, this.roles.get(name)!.metadata.labels)) roles.push(this.numbers.get(name)!);
      }
      this.matched[s] = roles;
    }
    return roles;
  }

  /**
   * The roles a selector can match at most, from a label index: the smallest set that one of its
   * `matchLabels`, `In` or `Exists` requirements allows. Only a selector made of negative requirements
   * alone (or an empty one) has to look at every role. Without the index, a chain of roles each selecting
   * the next by a label of its own costs roles × roles matches.
   */
  private candidates(selector: LabelSelector): Iterable<string> {
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

  /**
   * One walk from `root` (Tarjan's, iteratively, so a long chain cannot overflow the stack) gives both
   * what it reaches and its strongly connected component: every role of that component reaches the
   * same roles, so they all share the result.
   */
  private solve(root: number): void {
    const walk = ++this.walks;
    const { stamp, order, low, onStack } = this;
    const stack: number[] = [];
    const visitedRoles: number[] = [];
    const frames: { node: number; edges: readonly number[]; next: number }[] = [];
    let counter = 0;
    const component: number[] = [];
    const open = (node: number) => {
      stamp[node] = walk;
      order[node] = low[node] = counter++;
      stack.push(node);
      onStack[node] = 1;
      if (node < this.names.length) visitedRoles.push(node);
      frames.push({ node, edges: this.edges(node), next: 0 });
    };
    open(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1]!;
      if (frame.next < frame.edges.length) {
        const to = frame.edges[frame.next++]!;
        if (stamp[to] !== walk) open(to);
        else if (onStack[to]) low[frame.node] = Math.min(low[frame.node]!, order[to]!);
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent) low[parent.node] = Math.min(low[parent.node]!, low[frame.node]!);
      if (low[frame.node] !== order[frame.node]) continue;
      const isRoot = frame.node === root;
      let member: number;
      do {
        member = stack.pop()!;
        onStack[member] = 0;
        if (isRoot) component.push(member);
      } while (member !== frame.node);
    }
    visitedRoles.sort((a, b) => a - b);
    const reached = dedupe(visitedRoles.map((n) => this.roles.get(this.names[n]!)!.rules));
    for (const n of component) if (n < this.names.length) this.reached.set(n, reached);
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

function ownFirst(own: PolicyRule[], reached: PolicyRule[]): PolicyRule[] {
  const out = dedupe([own]);
  const mine = new Set(out.map(ruleId));
  for (const rule of reached) if (!mine.has(ruleId(rule))) out.push(rule);
  return out;
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
