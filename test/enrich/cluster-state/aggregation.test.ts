import { ClusterState } from '../../../src/enrich/cluster-state/state';
import type { LabelSelector, PolicyRule } from '../../../src/enrich/cluster-state/types';
import { MAX_MATCHES } from '../../../src/enrich/cluster-state/aggregation';

const rule = (resource: string): PolicyRule => ({ verbs: ['get'], apiGroups: [''], resources: [resource] });

function role(name: string, labels: Record<string, string>, own: string[], selectors?: LabelSelector[]) {
  return {
    kind: 'ClusterRole',
    metadata: { name, labels },
    rules: own.map(rule),
    ...(selectors ? { aggregationRule: { clusterRoleSelectors: selectors } } : {}),
  };
}

const resources = (rules: PolicyRule[] | undefined) => rules?.map((r) => r.resources?.[0] ?? '');

describe('ClusterRole aggregation (fixpoint)', () => {
  it('a cycle converges to the union of every role reachable through it, own rules first', () => {
    const state = new ClusterState('c');
    state.upsert(role('a', { ring: 'b' }, ['ra'], [{ matchLabels: { ring: 'a' } }]));
    state.upsert(role('b', { ring: 'c' }, ['rb'], [{ matchLabels: { ring: 'b' } }]));
    state.upsert(role('c', { ring: 'a' }, ['rc'], [{ matchLabels: { ring: 'c' } }]));
    // a selects c, c selects b, b selects a.
    expect(resources(state.clusterRoleRules('a'))).toEqual(['ra', 'rb', 'rc']);
    expect(resources(state.clusterRoleRules('b'))).toEqual(['rb', 'ra', 'rc']);
    expect(resources(state.clusterRoleRules('c'))).toEqual(['rc', 'ra', 'rb']);
  });

  it('a diamond counts the shared leaf once', () => {
    const state = new ClusterState('c');
    state.upsert(role('top', {}, [], [{ matchLabels: { side: 'left' } }, { matchLabels: { side: 'right' } }]));
    state.upsert(role('left', { side: 'left' }, ['l'], [{ matchLabels: { leaf: 'yes' } }]));
    state.upsert(role('right', { side: 'right' }, ['r'], [{ matchLabels: { leaf: 'yes' } }]));
    state.upsert(role('leaf', { leaf: 'yes' }, ['shared', 'l']));
    expect(resources(state.clusterRoleRules('top'))).toEqual(['shared', 'l', 'r']);
    expect(resources(state.clusterRoleRules('left'))).toEqual(['l', 'shared']);
  });

  it('a role that selects itself gets its own rules once; an empty selector selects every role', () => {
    const state = new ClusterState('c');
    state.upsert(role('self', { me: 'yes' }, ['s'], [{ matchLabels: { me: 'yes' } }]));
    expect(resources(state.clusterRoleRules('self'))).toEqual(['s']);
    state.upsert(role('other', {}, ['o']));
    state.upsert(role('all', {}, [], [{}]));
    expect(resources(state.clusterRoleRules('all'))).toEqual(['o', 's']);
  });

  it('a selector that matches nothing leaves the stored rules; a non-aggregated role is returned as stored', () => {
    const state = new ClusterState('c');
    state.upsert(role('agg', {}, ['stored'], [{ matchLabels: { nobody: 'x' } }]));
    state.upsert(role('plain', { nobody: 'y' }, ['p']));
    expect(resources(state.clusterRoleRules('agg'))).toEqual(['stored']);
    expect(state.clusterRoleRules('plain')).toBe(state.clusterRole('plain')?.rules);
  });

  it('is recomputed when any ClusterRole changes: new rules, new labels, deletion', () => {
    const state = new ClusterState('c');
    state.upsert(role('agg', {}, [], [{ matchLabels: { to: 'agg' } }]));
    state.upsert(role('a', { to: 'agg' }, ['one']));
    const before = state.clusterRoleRules('agg');
    expect(resources(before)).toEqual(['one']);
    expect(state.clusterRoleRules('agg')).toBe(before); // cached while nothing changes

    state.upsert(role('a', { to: 'agg' }, ['one', 'two']));
    expect(resources(state.clusterRoleRules('agg'))).toEqual(['one', 'two']);
    state.upsert(role('b', { to: 'agg' }, ['three']));
    expect(resources(state.clusterRoleRules('agg'))).toEqual(['one', 'two', 'three']);
    state.upsert(role('a', { to: 'elsewhere' }, ['one', 'two']));
    expect(resources(state.clusterRoleRules('agg'))).toEqual(['three']);
    state.delete('ClusterRole', undefined, 'b');
    expect(resources(state.clusterRoleRules('agg'))).toEqual([]);
    state.delete('ClusterRole', undefined, 'agg');
    expect(state.clusterRoleRules('agg')).toBeUndefined();
  });

  it('a chain deeper than any call stack is walked without recursion', () => {
    const state = new ClusterState('c');
    const depth = 20_000;
    for (let i = 0; i < depth; i++) {
      state.upsert(
        role(`r${i}`, { id: String(i) }, [`res${i}`], i + 1 < depth ? [{ matchLabels: { id: String(i + 1) } }] : undefined),
      );
    }
    const rules = state.clusterRoleRules('r0');
    expect(rules).toHaveLength(depth);
    expect(new Set(resources(rules))).toEqual(new Set(Array.from({ length: depth }, (_, i) => `res${i}`)));
  });

  it('a thousand roles that all select each other share one answer: the union of all', () => {
    const state = new ClusterState('c');
    const n = 1000;
    for (let i = 0; i < n; i++) state.upsert(role(`m${i}`, { mesh: 'yes' }, [`res${i}`], [{ matchLabels: { mesh: 'yes' } }]));
    const first = state.clusterRoleRules('m0');
    expect(first).toHaveLength(n);
    expect(resources(first)?.[0]).toBe('res0');
    for (let i = 1; i < n; i++) {
      const rules = state.clusterRoleRules(`m${i}`)!;
      expect(rules).toHaveLength(n);
      expect(rules[0]!.resources).toEqual([`res${i}`]);
    }
  });

  it('a graph too costly to walk (distinct negative-only selectors) is reported as not known, not frozen on', () => {
    const state = new ClusterState('c');
    const n = 2000;
    // Every selector is distinct and negative-only, and half the roles match none of them: each selector
    // would be tried against every unreached role, n × n / 2 matches.
    for (let i = 0; i < n; i++) {
      state.upsert(
        role(
          `w${i}`,
          i % 2 ? { mesh: 'true', [`u${i}`]: 'x' } : { [`u${i}`]: 'x' },
          [`res${i}`],
          [
            {
              matchExpressions: [
                { key: 'mesh', operator: 'DoesNotExist' },
                { key: `never-${i}`, operator: 'DoesNotExist' },
              ],
            },
          ],
        ),
      );
    }
    expect(MAX_MATCHES).toBeLessThan((n * n) / 4);
    expect(state.clusterRoleRules('w0')).toBeUndefined();
    expect(state.clusterRole('w0')).toBeDefined();
    state.upsert(role('plain', { mesh: 'true' }, ['p']));
    expect(resources(state.clusterRoleRules('plain'))).toEqual(['p']); // a plain role is unaffected
    // The same shape, small enough to walk, gives the full answer.
    const small = new ClusterState('c');
    for (let i = 0; i < 40; i++) {
      small.upsert(
        role(
          `w${i}`,
          i % 2 ? { mesh: 'true' } : {},
          [`res${i}`],
          [
            {
              matchExpressions: [
                { key: 'mesh', operator: 'DoesNotExist' },
                { key: `never-${i}`, operator: 'DoesNotExist' },
              ],
            },
          ],
        ),
      );
    }
    expect(small.clusterRoleRules('w0')).toHaveLength(20);
  });

  it('agrees with the naive fixpoint (iterate until nothing changes) on random graphs', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const colours = ['red', 'green', 'blue', 'black'];
    for (let round = 0; round < 200; round++) {
      const n = 2 + Math.floor(random() * 9);
      const roles = Array.from({ length: n }, (_, i) => {
        const labels: Record<string, string> = {};
        for (const c of colours) if (random() < 0.4) labels[c] = 'yes';
        const own = random() < 0.7 ? [`r${i}`, ...(random() < 0.3 ? ['common'] : [])] : [];
        const selectors =
          random() < 0.6
            ? Array.from({ length: 1 + Math.floor(random() * 2) }, (): LabelSelector => {
                const c = colours[Math.floor(random() * colours.length)]!;
                return random() < 0.5
                  ? { matchLabels: { [c]: 'yes' } }
                  : { matchExpressions: [{ key: c, operator: random() < 0.5 ? 'Exists' : 'DoesNotExist' }] };
              })
            : undefined;
        return role(`n${i}`, labels, own, selectors);
      });
      const state = new ClusterState('c');
      for (const r of roles) state.upsert(r);
      const expected = naiveFixpoint(
        state,
        roles.map((r) => r.metadata.name),
      );
      for (const [name, set] of expected) expect(new Set(resources(state.clusterRoleRules(name)))).toEqual(set);
    }
  });
});

/** eff(A) = stored(A) ∪ ⋃ eff(B) over the roles A's selectors pick (B ≠ A), iterated to a fixpoint. */
function naiveFixpoint(state: ClusterState, names: string[]): Map<string, Set<string>> {
  const { selectorMatches } = jest.requireActual('../../../src/enrich/cluster-state/label-selector');
  const eff = new Map(names.map((n) => [n, new Set(resources(state.clusterRole(n)!.rules))]));
  for (let changed = true; changed;) {
    changed = false;
    for (const a of names) {
      const selectors = state.clusterRole(a)!.aggregationRule?.clusterRoleSelectors;
      if (!selectors) continue;
      for (const b of names) {
        if (b === a || !selectors.some((s) => selectorMatches(s, state.clusterRole(b)!.metadata.labels))) continue;
        for (const r of eff.get(b)!) {
          if (!eff.get(a)!.has(r)) {
            eff.get(a)!.add(r);
            changed = true;
          }
        }
      }
    }
  }
  return eff;
}
