import { ruleAllows, type AccessRequest } from '../../../src/enrich/rbac/rules';
import type { PolicyRule } from '../../../src/enrich/cluster-state/types';

const podsGet: PolicyRule = { verbs: ['get'], apiGroups: [''], resources: ['pods'] };

// One row per rule of kube-apiserver's RuleAllows (pkg/apis/rbac/v1/evaluation_helpers.go).
const cases: [string, PolicyRule, AccessRequest, boolean][] = [
  ['exact verb, group, resource', podsGet, { verb: 'get', resource: 'pods', namespace: 'a' }, true],
  ['other verb', podsGet, { verb: 'list', resource: 'pods' }, false],
  ['verb *', { ...podsGet, verbs: ['*'] }, { verb: 'delete', resource: 'pods' }, true],
  ['verb match is exact, not prefix', { ...podsGet, verbs: ['ge'] }, { verb: 'get', resource: 'pods' }, false],
  ['other group', podsGet, { verb: 'get', apiGroup: 'apps', resource: 'pods' }, false],
  ['group *', { ...podsGet, apiGroups: ['*'] }, { verb: 'get', apiGroup: 'x.io', resource: 'pods' }, true],
  ['no apiGroups matches no resource request', { verbs: ['get'], resources: ['pods'] }, { verb: 'get', resource: 'pods' }, false],
  ['pods does not cover pods/exec', podsGet, { verb: 'get', resource: 'pods', subresource: 'exec' }, false],
  [
    'pods/exec covers pods/exec',
    { ...podsGet, resources: ['pods/exec'] },
    { verb: 'get', resource: 'pods', subresource: 'exec' },
    true,
  ],
  ['pods/exec does not cover pods', { ...podsGet, resources: ['pods/exec'] }, { verb: 'get', resource: 'pods' }, false],
  [
    'resource * covers subresources',
    { ...podsGet, resources: ['*'] },
    { verb: 'get', resource: 'pods', subresource: 'log' },
    true,
  ],
  [
    '*/scale matches any scale',
    { verbs: ['get'], apiGroups: ['*'], resources: ['*/scale'] },
    { verb: 'get', apiGroup: 'apps', resource: 'deployments', subresource: 'scale' },
    true,
  ],
  [
    '*/scale does not match the parent',
    { verbs: ['get'], apiGroups: ['*'], resources: ['*/scale'] },
    { verb: 'get', apiGroup: 'apps', resource: 'deployments' },
    false,
  ],
  [
    '*/scale does not match other subresources',
    { verbs: ['get'], apiGroups: ['*'], resources: ['*/scale'] },
    { verb: 'get', resource: 'pods', subresource: 'exec' },
    false,
  ],
  [
    'pods/* is not a wildcard',
    { ...podsGet, resources: ['pods/*'] },
    { verb: 'get', resource: 'pods', subresource: 'exec' },
    false,
  ],
  ['empty resourceNames allows any name', podsGet, { verb: 'get', resource: 'pods', name: 'web' }, true],
  ['resourceNames lists the name', { ...podsGet, resourceNames: ['web'] }, { verb: 'get', resource: 'pods', name: 'web' }, true],
  ['resourceNames lacks the name', { ...podsGet, resourceNames: ['web'] }, { verb: 'get', resource: 'pods', name: 'db' }, false],
  [
    'request without a name never matches named rules',
    { ...podsGet, verbs: ['list'], resourceNames: ['web'] },
    { verb: 'list', resource: 'pods' },
    false,
  ],
  ['non-resource exact', { verbs: ['get'], nonResourceURLs: ['/metrics'] }, { verb: 'get', nonResourceURL: '/metrics' }, true],
  [
    'non-resource exact is not a prefix',
    { verbs: ['get'], nonResourceURLs: ['/metrics'] },
    { verb: 'get', nonResourceURL: '/metrics/cadvisor' },
    false,
  ],
  [
    'non-resource trailing *',
    { verbs: ['get'], nonResourceURLs: ['/healthz/*'] },
    { verb: 'get', nonResourceURL: '/healthz/etcd' },
    true,
  ],
  [
    'non-resource trailing * as plain prefix',
    { verbs: ['get'], nonResourceURLs: ['/heal*'] },
    { verb: 'get', nonResourceURL: '/healthz' },
    true,
  ],
  [
    'non-resource /healthz/* does not match /healthz',
    { verbs: ['get'], nonResourceURLs: ['/healthz/*'] },
    { verb: 'get', nonResourceURL: '/healthz' },
    false,
  ],
  ['non-resource *', { verbs: ['get'], nonResourceURLs: ['*'] }, { verb: 'get', nonResourceURL: '/anything' }, true],
  ['non-resource verb mismatch', { verbs: ['get'], nonResourceURLs: ['*'] }, { verb: 'post', nonResourceURL: '/x' }, false],
  [
    'resource rule does not allow a URL',
    { ...podsGet, resources: ['*'], apiGroups: ['*'] },
    { verb: 'get', nonResourceURL: '/metrics' },
    false,
  ],
  ['URL rule does not allow a resource', { verbs: ['*'], nonResourceURLs: ['*'] }, { verb: 'get', resource: 'pods' }, false],
];

describe('ruleAllows', () => {
  it.each(cases)('%s', (_name, rule, request, expected) => {
    expect(ruleAllows(rule, request)).toBe(expected);
  });
});
