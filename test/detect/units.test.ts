import type { JsonObject } from '../../src/core/event';
import { AuditActivation, imageRepository } from '../../src/detect/activation';
import { intersects, within } from '../../src/detect/cel/environment';
import { expandCondition, ExpansionError } from '../../src/detect/cel/expand';
import { overlay } from '../../src/detect/fixtures';
import { selectorAdmits } from '../../src/detect/rules/index';
import { compileTemplate, templateVariables } from '../../src/detect/template';

describe('expandCondition', () => {
  const macros = new Map([
    ['a', 'verb == "get"'],
    ['b', 'a || c'],
    ['c', 'user == "a"'],
  ]);
  test.each([
    ['b && x', '((verb == "get") || (user == "a")) && x'],
    ['"a b" == name', '"a b" == name'], // inside a string: untouched
    ["r'a' + 'b\\'a'", "r'a' + 'b\\'a'"],
    ['ka.a == 1', 'ka.a == 1'], // a field selection is not a macro
    ['ka . a == 1', 'ka . a == 1'],
    ['uri.matches("x") && matches(uri, "y")', 'uri.safeMatches("x") && safeMatches(uri, "y")'],
    ['ka.matches == "x"', 'ka.matches == "x"'], // a field called matches is not a call
    ['"""a"""+a', '"""a"""+(verb == "get")'],
  ])('%s', (src, expected) => {
    expect(expandCondition(src, macros).source).toBe(expected);
  });

  test('reports the macros used and throws on cycles', () => {
    expect([...expandCondition('b', macros).macrosUsed].sort()).toEqual(['a', 'b', 'c']);
    expect(() =>
      expandCondition(
        'x',
        new Map([
          ['x', 'y'],
          ['y', 'x'],
        ]),
      ),
    ).toThrow(ExpansionError);
  });
});

test.each([
  [['a'], ['a', 'b'], true, true],
  [['a', 'c'], ['a', 'b'], false, true],
  [['c'], ['a', 'b'], false, false],
  [[], ['a'], false, false],
])('within(%j, %j) = %s, intersects = %s', (values, set, w, i) => {
  expect(within(values, set)).toBe(w);
  expect(intersects(values, set)).toBe(i);
});

test.each([
  ['nginx', 'nginx'],
  ['nginx:1.27', 'nginx'],
  ['registry.k8s.io/kube-proxy:v1.30.0', 'registry.k8s.io/kube-proxy'],
  ['localhost:5000/app', 'localhost:5000/app'],
  ['localhost:5000/app:1@sha256:abc', 'localhost:5000/app'],
  ['quay.io/calico/node@sha256:abc', 'quay.io/calico/node'],
])('imageRepository(%s) = %s', (image, repo) => {
  expect(imageRepository(image)).toBe(repo);
});

describe('AuditActivation', () => {
  test('source IP is the last entry of sourceIPs; exec query parsed', () => {
    const a = new AuditActivation({
      sourceIPs: ['203.0.113.9', '10.0.0.12'],
      requestURI: '/api/v1/namespaces/shop/pods/web/exec?command=sh&command=-c&command=id&container=app&tty=true',
      objectRef: { resource: 'pods', subresource: 'exec', namespace: 'shop', name: 'web' },
    });
    expect(a.sourceIp).toBe('10.0.0.12');
    expect(a.exec).toEqual({ command: ['sh', '-c', 'id'], commandLine: 'sh -c id', container: 'app', tty: true, ports: [] });
    expect(a.ns).toBe('shop');
  });

  test('containers span containers, initContainers and ephemeralContainers; workload templates too', () => {
    const spec: JsonObject = {
      containers: [{ name: 'a', image: 'nginx:1', securityContext: { privileged: true, runAsUser: 0 } }],
      initContainers: [{ name: 'i', image: 'busybox', securityContext: { capabilities: { add: ['NET_ADMIN'] } } }],
      ephemeralContainers: [{ name: 'e', image: 'alpine' }],
      volumes: [
        { name: 'h', hostPath: { path: '/etc' } },
        { name: 'c', configMap: { name: 'x' } },
      ],
      hostPID: true,
      serviceAccountName: 'sa',
    };
    const pod = new AuditActivation({ objectRef: { resource: 'pods' }, requestObject: { spec } });
    expect(pod.containers.map((c) => [c.kind, c.repository, c.privileged, c.runAsUser, c.capabilities])).toEqual([
      ['container', 'nginx', true, 0n, []],
      ['initContainer', 'busybox', false, -1n, ['NET_ADMIN']],
      ['ephemeralContainer', 'alpine', false, -1n, []],
    ]);
    expect([pod.hostPaths, pod.hostPID, pod.hostNetwork, pod.serviceAccountName]).toEqual([['/etc'], true, false, 'sa']);
    const cron = new AuditActivation({
      objectRef: { resource: 'cronjobs' },
      requestObject: { spec: { jobTemplate: { spec: { template: { spec } } } } },
    });
    expect(cron.images).toEqual(['nginx:1', 'busybox', 'alpine']);
    expect(new AuditActivation({ objectRef: { resource: 'configmaps' }, requestObject: { spec } }).containers).toEqual([]);
  });

  test('absent fields have neutral defaults', () => {
    const a = new AuditActivation({});
    expect([a.user, a.verb, a.name, a.sourceIp, a.responseCode, a.groups, a.requestObject, a.roleRef.name]).toEqual([
      '',
      '',
      '',
      '',
      0n,
      [],
      {},
      '',
    ]);
  });
});

describe('templates', () => {
  const render = (t: string, a: object) => compileTemplate(t)(a);
  test.each([
    ['{user} did {verb}', { user: 'u', verb: 'get' }, 'u did get'],
    ['{missing} {empty}', { empty: '' }, '<NA> <NA>'],
    ['{list} {obj}', { list: ['a', 'b'], obj: { k: 1 } }, 'a,b {"k":1}'],
    ['{code}', { code: 201n }, '201'],
    // Objects holding the activation's bigints (a container's runAsUser) render them as numbers.
    ['{c}', { c: [{ name: 'a', runAsUser: 0n }, { name: 'b' }] }, '{"name":"a","runAsUser":0},{"name":"b"}'],
    ['{o}', { o: { code: 201n, nested: { ids: [1n, 2] } } }, '{"code":201,"nested":{"ids":[1,2]}}'],
    ['{a[x.y/z]}', { a: { 'x.y/z': 'v' } }, 'v'],
    ['{a.constructor}', { a: {} }, '<NA>'],
    ['{not closed', {}, '{not closed'],
  ])('%s', (t, a, out) => expect(render(t, a)).toBe(out));

  test('long values are cut', () => {
    expect(render('{v}', { v: 'x'.repeat(5000) }).length).toBeLessThan(600);
  });

  test('templateVariables lists the head of each placeholder', () => {
    expect(templateVariables('{a.b} {c[d.e]} {f}')).toEqual(['a', 'c', 'f']);
  });
});

test.each([
  [{ stages: ['ResponseComplete'], verbs: ['*'], resources: ['pods'] }, 'ResponseComplete', 'get', 'pods', '', true],
  [{ stages: ['ResponseComplete'], verbs: ['*'], resources: ['pods'] }, 'ResponseComplete', 'get', 'pods', 'log', false],
  [{ stages: ['*'], verbs: ['get'], resources: ['pods/*'] }, 'Panic', 'get', 'pods', 'log', true],
  [
    { stages: ['ResponseStarted'], verbs: ['get', 'create'], resources: ['pods/exec'] },
    'ResponseComplete',
    'get',
    'pods',
    'exec',
    false,
  ],
])('selectorAdmits(%j, %s %s %s/%s) = %s', (match, stage, verb, res, sub, expected) => {
  expect(selectorAdmits(match, stage, verb, res, sub)).toBe(expected);
});

test('overlay merges objects, replaces arrays and scalars, deletes on null', () => {
  expect(overlay({ a: { b: 1, c: 2 }, l: [1, 2], d: 'x' }, { a: { c: 3 }, l: [9], d: null, e: true })).toEqual({
    a: { b: 1, c: 3 },
    l: [9],
    e: true,
  });
});
