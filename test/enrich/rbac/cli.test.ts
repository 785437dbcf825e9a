import { join } from 'node:path';
import { main } from '../../../src/cli/main';

const STATE = join(__dirname, '../../fixtures/cluster/snapshot.json');

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const outSpy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const errSpy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(['rbac', ...args]);
    return { code, stdout, stderr };
  } finally {
    outSpy.mockRestore();
    errSpy.mockRestore();
  }
}

describe('falconer rbac can-i', () => {
  it.each([
    // [args, exit code, stdout]
    [
      ['create', 'pods/exec', '-n', 'shop', '--as', 'alice', '--as-group', 'devs'],
      0,
      'yes\nallowed by RoleBinding "shop-debuggers/shop" of ClusterRole "pod-exec" to Group "devs"\n',
    ],
    [['create', 'pods/exec', 'web-7c9f8d-abcde', '-n', 'prod', '--as', 'alice', '--as-group', 'devs'], 1, 'no\n'],
    [['get', 'pods', '-n', 'shop', '--as', 'alice'], 1, 'no\n'],
    [
      ['create', 'clusterrolebindings', '--as', 'alice', '--as-group', 'devs'],
      0,
      'yes\nallowed by ClusterRoleBinding "rbac-admins" of ClusterRole "rbac-manager" to Group "devs"\n',
    ],
    [
      ['update', 'deployments.apps/scale', 'web', '-n', 'shop', '--as', 'system:serviceaccount:ci:deployer'],
      0,
      'yes\nallowed by RoleBinding "deployers/shop" of ClusterRole "edit" to ServiceAccount "deployer/ci"\n',
    ],
    [['update', 'deployments.apps/status', '-n', 'shop', '--as', 'system:serviceaccount:ci:deployer'], 1, 'no\n'],
    [
      ['get', '/metrics', '--as', 'system:serviceaccount:monitoring:prometheus'],
      0,
      'yes\nallowed by ClusterRoleBinding "prometheus" of ClusterRole "metrics-reader" to ServiceAccount "prometheus/monitoring"\n',
    ],
    [['get', '/metrics', '--as', 'alice'], 1, 'no\n'],
    [
      ['delete', 'nodes', 'n1', '--as', 'root', '--as-group', 'system:masters'],
      0,
      'yes\nallowed: member of system:masters (RBAC not consulted)\n',
    ],
  ])('%j', async (args, code, stdout) => {
    const result = await run('can-i', ...args, '--state', STATE);
    expect(result.stdout).toBe(stdout);
    expect(result.code).toBe(code);
  });

  it.each([
    [['get', 'pods/', '--as', 'a', '--state', STATE], 'cannot parse resource'],
    [['get', '/metrics', 'name', '--as', 'a', '--state', STATE], 'takes no name'],
    [['get', 'pods', '--as', 'a', '--state', '/nonexistent.json'], 'cannot read snapshot'],
    [['get', 'pods', '--as', 'a', '-n', 'x', '-A', '--state', STATE], 'exclude each other'],
    [['get', 'pods', '--state', STATE], "required option '--as <user>'"],
    [['get', '--as', 'a', '--state', STATE], "missing required argument 'resource'"],
  ])('exits 2 on bad input %j', async (args, message) => {
    const result = await run('can-i', ...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stdout).toBe('');
  });

  it('warns when it has to guess the group of an unknown resource', async () => {
    const result = await run('can-i', 'get', 'widgets', '--as', 'a', '--state', STATE);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("unknown resource type 'widgets'");
  });
});

describe('falconer rbac who-can', () => {
  it('lists the subjects with their binding and role', async () => {
    const result = await run('who-can', 'create', 'pods/exec', '-n', 'shop', '--state', STATE);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      'KIND   NAMESPACE  NAME            BINDING                          ROLE',
      'Group             system:masters  (bypasses RBAC)',
      'Group             devs            RoleBinding/shop/shop-debuggers  ClusterRole/pod-exec',
      '',
    ]);
  });

  it('only counts ClusterRoleBindings cluster-wide', async () => {
    const result = await run('who-can', 'create', 'pods', '-A', '--state', STATE);
    expect(result.stdout).not.toContain('deployer');
    const inShop = await run('who-can', 'create', 'pods', '-n', 'shop', '--state', STATE);
    expect(inShop.stdout).toContain('ServiceAccount  ci         deployer');
  });
});
