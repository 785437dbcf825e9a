import { parseResourceArg } from '../../../src/enrich/rbac/resource-arg';

describe('parseResourceArg', () => {
  it.each([
    ['pods', { resource: 'pods', apiGroup: '', clusterScoped: false, guessed: false }],
    ['po', { resource: 'pods', apiGroup: '', clusterScoped: false, guessed: false }],
    ['pods/exec', { resource: 'pods', apiGroup: '', subresource: 'exec', clusterScoped: false, guessed: false }],
    ['deployments', { resource: 'deployments', apiGroup: 'apps', clusterScoped: false, guessed: false }],
    ['deployments.apps', { resource: 'deployments', apiGroup: 'apps', clusterScoped: false, guessed: false }],
    [
      'Deployments.apps/scale',
      { resource: 'deployments', apiGroup: 'apps', subresource: 'scale', clusterScoped: false, guessed: false },
    ],
    ['nodes/proxy', { resource: 'nodes', apiGroup: '', subresource: 'proxy', clusterScoped: true, guessed: false }],
    [
      'clusterroles.rbac.authorization.k8s.io',
      { resource: 'clusterroles', apiGroup: 'rbac.authorization.k8s.io', clusterScoped: true, guessed: false },
    ],
    ['widgets.example.com', { resource: 'widgets', apiGroup: 'example.com', clusterScoped: false, guessed: false }],
    ['widgets', { resource: 'widgets', apiGroup: '', clusterScoped: false, guessed: true }],
    ['*', { resource: '*', apiGroup: '', clusterScoped: false, guessed: false }],
    ['constructor', { resource: 'constructor', apiGroup: '', clusterScoped: false, guessed: true }],
  ])('%s', (arg, expected) => {
    expect(parseResourceArg(arg)).toEqual(expected);
  });

  it.each(['', '/exec', 'pods/', 'pods/exec/x'])('rejects %j', (arg) => {
    expect(parseResourceArg(arg)).toBeUndefined();
  });
});
