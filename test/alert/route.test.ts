import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { buildRoute, groupKey, matchRoutes, matchingTree, routeKey, routeReceivers, routeTree } from '../../src/alert/route';
import { routeSchema } from '../../src/config/schema';
import { validateConfig } from '../../src/config/load';
import { main } from '../../src/cli/main';

// Alertmanager's own routing-tree test (dispatch/route_test.go, TestRouteMatch), pasted as is.
const AM_TREE = `
receiver: 'notify-def'

routes:
- match:
    owner: 'team-A'

  receiver: 'notify-A'

  routes:
  - match:
      env: 'testing'

    receiver: 'notify-testing'
    group_by: [...]

  - match:
      env: "production"

    receiver: 'notify-productionA'
    group_wait: 1m

    continue: true

  - match_re:
      env: "produ.*"
      job: ".*"

    receiver: 'notify-productionB'
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 1h
    group_by: ['job']

- match_re:
    owner: 'team-(B|C)'

  group_by: ['foo', 'bar']
  group_wait: 2m
  receiver: 'notify-BC'

- match:
    group_by: 'role'
  group_by: ['role']

  routes:
  - match:
      env: 'testing'
    receiver: 'notify-testing'
    routes:
    - match:
        wait: 'long'
      group_wait: 2m
`;

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const tree = buildRoute(routeSchema.parse(parse(AM_TREE)));

describe('routing tree (Alertmanager semantics)', () => {
  it.each([
    // [labels, [receiver, groupBy or '...', groupWait, groupInterval, repeatInterval, key][]]
    [{ owner: 'team-A' }, [['notify-A', [], 30 * S, 5 * M, 4 * H, '{}/{owner="team-A"}']]],
    [{ owner: 'team-A', env: 'unset' }, [['notify-A', [], 30 * S, 5 * M, 4 * H, '{}/{owner="team-A"}']]],
    [{ owner: 'team-C' }, [['notify-BC', ['foo', 'bar'], 2 * M, 5 * M, 4 * H, '{}/{owner=~"^(?:team-(B|C))$"}']]],
    [
      { owner: 'team-A', env: 'testing' },
      [['notify-testing', '...', 30 * S, 5 * M, 4 * H, '{}/{owner="team-A"}/{env="testing"}']],
    ],
    [
      { owner: 'team-A', env: 'production' },
      [
        ['notify-productionA', [], 1 * M, 5 * M, 4 * H, '{}/{owner="team-A"}/{env="production"}'],
        ['notify-productionB', ['job'], 30 * S, 5 * M, 1 * H, '{}/{owner="team-A"}/{env=~"^(?:produ.*)$",job=~"^(?:.*)$"}'],
      ],
    ],
    [{ group_by: 'role' }, [['notify-def', ['role'], 30 * S, 5 * M, 4 * H, '{}/{group_by="role"}']]],
    [
      { env: 'testing', group_by: 'role' },
      [['notify-testing', ['role'], 30 * S, 5 * M, 4 * H, '{}/{group_by="role"}/{env="testing"}']],
    ],
    [
      { env: 'testing', group_by: 'role', wait: 'long' },
      [['notify-testing', ['role'], 2 * M, 5 * M, 4 * H, '{}/{group_by="role"}/{env="testing"}/{wait="long"}']],
    ],
    // No child takes it: the root handles it.
    [{ owner: 'team-Z' }, [['notify-def', [], 30 * S, 5 * M, 4 * H, '{}']]],
    [{}, [['notify-def', [], 30 * S, 5 * M, 4 * H, '{}']]],
  ] as const)('%j', (labels, expected) => {
    const got = matchRoutes(tree, labels).map((r) => [
      r.receiver,
      r.groupByAll ? '...' : r.groupBy,
      r.groupWaitMs,
      r.groupIntervalMs,
      r.repeatIntervalMs,
      routeKey(r),
    ]);
    expect(got).toEqual(expected);
  });

  it('reads matcher strings (quoted or not, several per string) and ANDs them with match/match_re', () => {
    const root = buildRoute(
      routeSchema.parse({
        receiver: 'default',
        routes: [
          { receiver: 'shop-pager', matchers: ['namespace = shop', 'priority=~"critical|emergency"'] },
          { receiver: 'not-kube-system', matchers: ['{namespace!="kube-system", rule!~"Debug.*"}'], match: { source: 'falco' } },
        ],
      }),
    );
    expect(routeReceivers(root, { namespace: 'shop', priority: 'critical' })).toEqual(['shop-pager']);
    expect(routeReceivers(root, { namespace: 'shop', priority: 'warning', source: 'falco' })).toEqual(['not-kube-system']);
    expect(routeReceivers(root, { namespace: 'kube-system', source: 'falco' })).toEqual(['default']);
    expect(routeReceivers(root, { namespace: 'shop', source: 'k8s_audit' })).toEqual(['default']);
    expect(routeReceivers(root, { source: 'falco', rule: 'Debug shell' })).toEqual(['default']);
    expect(routeReceivers(root, { source: 'falco' })).toEqual(['not-kube-system']); // missing namespace is "" ≠ kube-system
  });

  it('keys a group by route and group_by values; ... groups by every label', () => {
    const root = buildRoute(
      routeSchema.parse({
        receiver: 'r',
        group_by: ['namespace'],
        routes: [{ matchers: ['rule="Each"'], group_by: ['...'] }],
      }),
    );
    const [byNs] = matchRoutes(root, { namespace: 'shop', pod: 'a' });
    expect(groupKey(byNs!, { namespace: 'shop', pod: 'a' })).toBe(groupKey(byNs!, { namespace: 'shop', pod: 'b' }));
    expect(groupKey(byNs!, { namespace: 'shop' })).not.toBe(groupKey(byNs!, { namespace: 'web' }));
    const [all] = matchRoutes(root, { rule: 'Each', pod: 'a' });
    expect(all!.receiver).toBe('r'); // inherited
    expect(groupKey(all!, { rule: 'Each', pod: 'a' })).not.toBe(groupKey(all!, { rule: 'Each', pod: 'b' }));
  });

  it('draws the matching path and the whole tree as amtool does', () => {
    expect(matchingTree(tree, { owner: 'team-A', env: 'production' })).toBe(
      [
        '.',
        '└── default-route',
        '    └── {owner="team-A"}',
        '        ├── {env="production"}  receiver: notify-productionA',
        '        └── {env=~"^(?:produ.*)$",job=~"^(?:.*)$"}  receiver: notify-productionB',
        '',
      ].join('\n'),
    );
    expect(routeTree(tree).split('\n').slice(0, 4)).toEqual([
      '.',
      '└── default-route  receiver: notify-def',
      '    ├── {owner="team-A"}  receiver: notify-A',
      '    │   ├── {env="testing"}  receiver: notify-testing',
    ]);
  });
});

describe('route configuration', () => {
  const receivers = [
    { type: 'console', name: 'a' },
    { type: 'console', name: 'b' },
  ];
  it.each([
    [{ receivers, route: { routes: [] } }, 'route.receiver: the root route must name a receiver'],
    [{ receivers, route: { receiver: 'a', matchers: ['x=1'] } }, 'route: the root route must not have any matchers'],
    [{ receivers, route: { receiver: 'a', routes: [{ receiver: 'c' }] } }, 'route.routes.0.receiver: undefined receiver "c"'],
    [{ receivers, route: { receiver: 'a', routes: [{ matchers: ['x=~"("'] }] } }, 'route.routes.0.matchers.0: invalid regular'],
    [{ receivers, route: { receiver: 'a', group_wait: '30 seconds' } }, 'route.group_wait: must be a duration'],
    [{ receivers, route: { receiver: 'a', group_by: ['...', 'pod'] } }, "route.group_by: '...' must be the only"],
    [
      { receivers, route: { receiver: 'a', routes: [{ matchers: ['x=1'], recevier: 'b' }] } },
      'route.routes.0: unknown key "recevier"',
    ],
    [{ receivers: [...receivers, { type: 'console', name: 'a' }] }, 'receivers.2.name: duplicate receiver name "a"'],
  ])('rejects %j', (doc, problem) => {
    expect(() => validateConfig(doc)).toThrow(problem);
  });
});

describe('falconer routes test / config check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'falconer-routes-'));
  const file = join(dir, 'falconer.yaml');
  const yamlTree = AM_TREE.trim()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
  const names = ['notify-def', 'notify-A', 'notify-testing', 'notify-productionA', 'notify-productionB', 'notify-BC'];
  writeFileSync(
    file,
    `receivers:\n${names.map((n) => `  - { type: console, name: ${n} }`).join('\n')}\nroute:\n${yamlTree}\nrules: { builtin: false }\n`,
  );

  async function run(...args: string[]) {
    let stdout = '';
    let stderr = '';
    const out = jest.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((stdout += String(c)), true));
    const err = jest.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((stderr += String(c)), true));
    try {
      return { code: await main(args), stdout, stderr };
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  }

  it('prints the receivers comma-separated in tree order', async () => {
    expect(await run('routes', 'test', '-c', file, 'owner=team-A', 'env=production')).toEqual({
      code: 0,
      stdout: 'notify-productionA,notify-productionB\n',
      stderr: '',
    });
  });

  it('exits 1 when --verify.receivers differs, 0 when it agrees', async () => {
    const bad = await run('routes', 'test', '-c', file, '--verify.receivers=notify-A', 'owner=team-C');
    expect(bad).toEqual({
      code: 1,
      stdout: 'notify-BC\nWARNING: Expected receivers did not match resolved receivers.\n',
      stderr: '',
    });
    expect((await run('routes', 'test', '-c', file, '--verify.receivers=notify-BC', 'owner=team-C')).code).toBe(0);
  });

  it('prints the matching tree with --tree, and refuses labels that are not key=value', async () => {
    const { stdout } = await run('routes', 'test', '-c', file, '--tree', 'owner=team-A');
    expect(stdout).toBe('Matching routes:\n.\n└── default-route\n    └── {owner="team-A"}  receiver: notify-A\n\n\nnotify-A\n');
    const refused = await run('routes', 'test', '-c', file, 'owner=~team');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('key=value');
  });

  it('config check passes a good file and names each problem of a bad one', async () => {
    const good = await run('config', 'check', '-c', file);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('ok: 6 receivers');
    const badFile = join(dir, 'bad.yaml');
    writeFileSync(
      badFile,
      'receivers: [{ type: console, name: a }]\nroute:\n  receiver: a\n  group_wait: soon\n  routes: [{ receiver: b }]\nrules: { builtin: false }\n',
    );
    const bad = await run('config', 'check', '-c', badFile);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('route.group_wait: must be a duration');
    expect(bad.stderr).toContain('route.routes.0.receiver: undefined receiver "b" used in route');
  });
});
