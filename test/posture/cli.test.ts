import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main';
import { KubeApiServer } from '../support/kube-api-server';

const SAMPLE = join(__dirname, '../fixtures/posture/cluster.yaml');

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
    return { code: await main(args), stdout, stderr };
  } finally {
    outSpy.mockRestore();
    errSpy.mockRestore();
  }
}

/** A rendered chart as `helm template` would leave it: a folder of multi-document YAML. */
function manifestsDir(extra = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'posture-'));
  mkdirSync(join(dir, 'templates'));
  writeFileSync(
    join(dir, 'templates', 'namespace.yaml'),
    `apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {pod-security.kubernetes.io/enforce: restricted}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
`,
  );
  writeFileSync(
    join(dir, 'templates', 'web.yaml'),
    `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: web:1
          securityContext:
            allowPrivilegeEscalation: false
            runAsNonRoot: true
            capabilities: {drop: [ALL]}
            seccompProfile: {type: RuntimeDefault}
${extra}`,
  );
  return dir;
}

describe('falconer posture', () => {
  it('--json: the documented top-level fields, scores per area, at most ten top fixes', async () => {
    const { code, stdout } = await run('posture', '--state', SAMPLE, '--json');
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(Object.keys(report)).toEqual([
      'schemaVersion',
      'cluster',
      'generatedAt',
      'areas',
      'summary',
      'rbac',
      'pss',
      'network',
    ]);
    expect(report.schemaVersion).toBe(1);
    expect(Object.keys(report.summary.scores)).toEqual(['rbac', 'pss', 'network']);
    expect(report.summary.topFixes).toHaveLength(10);
    expect(report.summary.topFixes[0]).toMatchObject({ severity: 'critical', id: 'rbac.cluster-admin' });
  });

  it('one area only', async () => {
    const { stdout } = await run('posture', 'pss', '--state', SAMPLE, '--json');
    const report = JSON.parse(stdout);
    expect(report.areas).toEqual(['pss']);
    expect(report.rbac).toBeUndefined();
    expect(report.pss.namespaces).toHaveLength(13);
  });

  it('text: the tables and every finding with its fix', async () => {
    const { code, stdout } = await run('posture', '--state', SAMPLE);
    expect(code).toBe(0);
    expect(stdout).toContain('RBAC: cluster-admin or equivalent');
    expect(stdout).toMatch(
      /shop\s+baseline:latest\s+restricted:latest\s+restricted:latest\s+5\s+baseline\s+3 pods block restricted: Deployment\/api/,
    );
    expect(stdout).toContain('fix: kubectl label --overwrite namespace batch pod-security.kubernetes.io/enforce=restricted');
  });

  it('--fail-on: exit 1 at or above the severity, 0 below it (a CI gate over rendered manifests)', async () => {
    expect((await run('posture', '--state', SAMPLE, '--fail-on', 'critical')).code).toBe(1);
    const clean = manifestsDir();
    const passing = await run('posture', '--state', clean, '--fail-on', 'low');
    expect(passing.stdout).toContain('Findings (0)');
    expect(passing.code).toBe(0);
    const privileged = manifestsDir('            privileged: true\n');
    expect((await run('posture', 'pss', '--state', privileged, '--fail-on', 'high')).code).toBe(1);
    expect((await run('posture', 'network', '--state', privileged, '--fail-on', 'low')).code).toBe(0);
  });

  it('--sarif: results located at the manifest line of the object', async () => {
    const dir = manifestsDir('            privileged: true\n');
    const { code, stdout } = await run('posture', '--state', dir, '--sarif');
    expect(code).toBe(0);
    const sarif = JSON.parse(stdout);
    expect(sarif.version).toBe('2.1.0');
    const [runEntry] = sarif.runs;
    const result = runEntry.results.find((r: { ruleId: string }) => r.ruleId === 'pss.pod-violates-enforce');
    expect(result.level).toBe('error');
    expect(result.locations[0].physicalLocation).toEqual({
      artifactLocation: { uri: join(dir, 'templates', 'web.yaml') },
      region: { startLine: 1 },
    });
    expect(runEntry.tool.driver.rules.map((r: { id: string }) => r.id)).toContain('pss.pod-violates-enforce');
  });

  it('--markdown escapes what the cluster supplies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'posture-md-'));
    writeFileSync(join(dir, 'ns.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: "a|b*c"}\n');
    const { stdout } = await run('posture', 'pss', '--state', dir, '--markdown');
    expect(stdout).toContain('| a\\|b\\*c | privileged:latest (unset) |');
    expect(stdout).not.toContain('| a|b*c |');
  });

  it.each([
    [['posture', 'everything', '--state', SAMPLE], 'unknown area'],
    [['posture', '--state', SAMPLE, '--fail-on', 'severe'], '--fail-on must be one of critical, high, medium, low'],
    [['posture', '--state', '/nonexistent/x.yaml'], 'cannot read /nonexistent/x.yaml: no such file'],
    [['posture'], 'give --state'],
    [['posture', '--state', SAMPLE, '--json', '--sarif'], 'exclude each other'],
  ])('bad input %j exits 2 with a reason', async (args, message) => {
    const { code, stderr } = await run(...args);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
  });
});

describe('falconer netpol', () => {
  it('exposure --json: isolation per direction and the selecting policies', async () => {
    const { code, stdout } = await run('netpol', 'exposure', 'api-59d7c8f6b-ax0q', '-n', 'payments', '--state', SAMPLE, '--json');
    expect(code).toBe(0);
    const e = JSON.parse(stdout);
    expect(e.ingress).toEqual({
      isolated: true,
      policies: ['api-from-shop', 'default-deny'],
      defaultDeny: true,
      anyPeerAllowed: false,
    });
    expect(e.egress.policies).toEqual(['api-egress', 'default-deny']);
  });

  it('peers: netpol-analyzer lines for the pod', async () => {
    const { stdout } = await run('netpol', 'peers', 'db-0', '-n', 'payments', '--state', SAMPLE);
    expect(stdout).toContain('  payments/api[Deployment] => payments/db[StatefulSet] : TCP 5432\n');
    expect(stdout).toContain('egress: isolated by default-deny');
    expect(stdout).toContain('  no peers allowed');
  });

  it('peers --dot: the namespace graph', async () => {
    const { stdout } = await run('netpol', 'peers', 'db-0', '-n', 'payments', '--state', SAMPLE, '--dot');
    expect(stdout).toMatch(/^digraph \{\n\tsubgraph "cluster_kube-system"/);
    expect(stdout.match(/->/g)).toHaveLength(3);
  });

  it('an unknown pod is bad input', async () => {
    const { code, stderr } = await run('netpol', 'peers', 'nope', '-n', 'payments', '--state', SAMPLE);
    expect(code).toBe(2);
    expect(stderr).toContain('pod payments/nope is not in the state');
  });
});

describe('falconer posture --live', () => {
  let server: KubeApiServer;
  beforeAll(async () => {
    server = await new KubeApiServer().start();
    server.apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'shop', labels: { 'pod-security.kubernetes.io/enforce': 'baseline' } },
    });
    server.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'everything' },
      rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
    });
    server.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'ci-everything' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'everything' },
      subjects: [{ kind: 'ServiceAccount', name: 'ci', namespace: 'shop' }],
    });
  });
  afterAll(() => server.close());

  it('lists the cluster once through a kubeconfig and reports on it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'posture-kube-'));
    const kubeconfig = join(dir, 'config');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: fake, cluster: {server: "${server.url}", insecure-skip-tls-verify: true}}]`,
        `users: [{name: falconer, user: {token: ${server.token}}}]`,
        'contexts: [{name: fake, context: {cluster: fake, user: falconer}}]',
        'current-context: fake',
      ].join('\n'),
    );
    const { code, stdout } = await run('posture', '--live', '--kubeconfig', kubeconfig, '--json', '--fail-on', 'critical');
    expect(code).toBe(1);
    const report = JSON.parse(stdout);
    expect(report.rbac.clusterAdmins.map((a: { subject: { name: string } }) => a.subject.name)).toEqual(['ci']);
    expect(report.pss.namespaces.map((n: { namespace: string; enforce: string }) => [n.namespace, n.enforce])).toEqual([
      ['shop', 'baseline:latest'],
    ]);
  });

  it('--live with --state is bad input; an unreadable kubeconfig too', async () => {
    expect((await run('posture', '--live', '--state', SAMPLE)).code).toBe(2);
    const r = await run('posture', '--live', '--kubeconfig', '/nonexistent/kubeconfig');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('falconer posture:');
  });
});
