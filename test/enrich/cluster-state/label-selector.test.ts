import { selectorMatches, selectsEverything } from '../../../src/enrich/cluster-state/label-selector';
import type { LabelSelector } from '../../../src/enrich/cluster-state/types';

const labels = { app: 'web', tier: 'frontend' };
const expr = (key: string, operator: string, values?: string[]): LabelSelector => ({
  matchExpressions: [values ? { key, operator, values } : { key, operator }],
});

const cases: [string, LabelSelector | undefined, Record<string, string> | undefined, boolean][] = [
  ['empty selector matches everything', {}, labels, true],
  ['empty selector matches unlabelled objects', {}, undefined, true],
  ['absent selector matches nothing', undefined, labels, false],
  ['matchLabels equal', { matchLabels: { app: 'web' } }, labels, true],
  ['matchLabels differ', { matchLabels: { app: 'db' } }, labels, false],
  ['matchLabels all must hold', { matchLabels: { app: 'web', tier: 'backend' } }, labels, false],
  ['In hit', expr('tier', 'In', ['frontend', 'edge']), labels, true],
  ['In miss', expr('tier', 'In', ['backend']), labels, false],
  ['In without the key', expr('zone', 'In', ['a']), labels, false],
  ['NotIn hit', expr('tier', 'NotIn', ['frontend']), labels, false],
  ['NotIn miss', expr('tier', 'NotIn', ['backend']), labels, true],
  ['NotIn without the key matches', expr('zone', 'NotIn', ['a']), labels, true],
  ['Exists', expr('app', 'Exists'), labels, true],
  ['Exists missing', expr('zone', 'Exists'), labels, false],
  ['DoesNotExist', expr('zone', 'DoesNotExist'), labels, true],
  ['DoesNotExist present', expr('app', 'DoesNotExist'), labels, false],
  ['labels and expressions are ANDed', { matchLabels: { app: 'web' }, ...expr('tier', 'In', ['backend']) }, labels, false],
  ['In with no values is invalid', expr('app', 'In', []), labels, false],
  ['Exists with values is invalid', expr('app', 'Exists', ['web']), labels, false],
  ['unknown operator is invalid', expr('app', 'Equals', ['web']), labels, false],
  ['a label named like a prototype key is not inherited', { matchLabels: { constructor: 'x' } }, {}, false],
];

describe('selectorMatches', () => {
  it.each(cases)('%s', (_name, selector, have, expected) => {
    expect(selectorMatches(selector, have)).toBe(expected);
  });

  it('recognises the select-all selector', () => {
    expect(selectsEverything({})).toBe(true);
    expect(selectsEverything({ matchLabels: {}, matchExpressions: [] })).toBe(true);
    expect(selectsEverything({ matchLabels: { a: 'b' } })).toBe(false);
    expect(selectsEverything(undefined)).toBe(false);
  });
});
