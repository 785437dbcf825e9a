import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../../../src/cli/main';

const hardenedPod = `apiVersion: v1
kind: Pod
metadata:
  name: ok
  namespace: shop
spec:
  securityContext:
    runAsNonRoot: true
    seccompProfile: {type: RuntimeDefault}
  containers:
  - name: app
    image: nginx
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
`;

const workloads = `apiVersion: apps/v1
kind: Deployment
metadata: {name: agent, namespace: ops}
spec:
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - name: agent
        image: agent
        securityContext: {privileged: true}
---
apiVersion: v1
kind: Service
metadata: {name: agent, namespace: ops}
spec: {ports: [{port: 80}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: ops}
spec:
  schedule: "0 0 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: job, image: job}]
`;

const list = JSON.stringify({
  apiVersion: 'v1',
  kind: 'List',
  items: [
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'listed', namespace: 'a' },
      spec: { hostNetwork: true, containers: [{ name: 'c' }] },
    },
  ],
});

let dir: string;
let stdout: string;
let stderr: string;

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

async function run(...args: string[]): Promise<number> {
  stdout = '';
  stderr = '';
  return main(['pss', 'check', ...args]);
}

function jsonLines(): Array<Record<string, unknown>> {
  return stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'falconer-pss-'));
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
});

afterEach(() => {
  jest.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('falconer pss check', () => {
  it('exits 0 when every object meets the level', async () => {
    const pod = file('pod.yaml', hardenedPod);
    expect(await run(pod, '--level', 'restricted')).toBe(0);
    expect(stdout).toContain(`${pod}: Pod shop/ok: allowed by PodSecurity "restricted:latest"`);
    expect(stdout).toContain('1 object(s) evaluated, 0 violating restricted:latest');
  });

  it('exits 1 and prints the violations like the admission controller', async () => {
    const f = file('workloads.yaml', workloads);
    expect(await run(f, '--level', 'baseline', '--version', 'v1.30')).toBe(1);
    expect(stdout).toContain(
      `${f}: Deployment ops/agent: violates PodSecurity "baseline:v1.30": privileged (container "agent" must not set securityContext.privileged=true)`,
    );
    expect(stdout).toContain(`${f}: CronJob ops/nightly: allowed by PodSecurity "baseline:v1.30"`);
    expect(stdout).not.toContain('Service');
  });

  it('prints one JSON object per evaluated object, expanding Lists', async () => {
    const f = file('workloads.yaml', workloads);
    const l = file('list.json', list);
    expect(await run(f, l, '--level', 'restricted', '--json')).toBe(1);
    const lines = jsonLines();
    expect(lines.map((x) => [x.kind, x.name, x.allowed, x.highestLevel])).toEqual([
      ['Deployment', 'agent', false, 'privileged'],
      ['CronJob', 'nightly', false, 'baseline'],
      ['Pod', 'listed', false, 'privileged'],
    ]);
    expect(lines[0]).toMatchObject({
      file: f,
      namespace: 'ops',
      level: 'restricted',
      version: 'latest',
    });
    expect(lines[2]?.violations).toContainEqual({
      check: 'hostNamespaces',
      reason: 'host namespaces',
      detail: 'hostNetwork=true',
    });
  });

  it('without --level reports the highest level each object meets and exits 0', async () => {
    const f = file('workloads.yaml', workloads);
    expect(await run(f, '--json')).toBe(0);
    const [deployment, cronJob] = jsonLines();
    expect(deployment).toMatchObject({
      level: 'privileged',
      highestLevel: 'privileged',
      allowed: true,
      nextLevel: 'baseline',
    });
    expect(cronJob).toMatchObject({
      level: 'baseline',
      nextLevel: 'restricted',
    });
    expect((cronJob?.nextLevelViolations as Array<{ check: string }>).map((v) => v.check)).toContain('runAsNonRoot');

    expect(await run(f)).toBe(0);
    expect(stdout).toContain(
      `${f}: CronJob ops/nightly: meets "baseline:latest"; not restricted: allowPrivilegeEscalation != false`,
    );
  });

  it.each([
    ['a missing file', (): string => path.join(dir, 'absent.yaml'), 'no such file'],
    ['broken YAML', (): string => file('broken.yaml', 'kind: Pod\nspec: [unclosed\n'), 'cannot read'],
  ])('exits 2 on %s and still evaluates the rest', async (_name, makePath, message) => {
    const good = file('pod.yaml', hardenedPod);
    expect(await run(makePath(), good, '--level', 'restricted')).toBe(2);
    expect(stderr).toContain(message);
    expect(stdout).toContain('allowed by PodSecurity');
  });

  it.each([
    ['--level', 'strict'],
    ['--version', '1.25'],
  ])('exits 2 on an invalid %s', async (flag, value) => {
    const pod = file('pod.yaml', hardenedPod);
    expect(await run(pod, flag, value)).toBe(2);
    expect(stderr).toContain('invalid Pod Security');
  });

  it('agrees with the upstream fixtures of one version, read as a directory in one run', async () => {
    const root =
      process.env.FALCONER_PSA_FIXTURES ??
      path.resolve(__dirname, '..', '..', '..', '..', 'shared', 'conformance', 'pod-security-admission');
    const versionDir = path.join(root, 'restricted', 'v1.37');
    if (!fs.existsSync(versionDir)) throw new Error(`PSA fixtures missing at ${versionDir} (see conformance.test.ts)`);
    const code = await run(versionDir, '--level', 'restricted', '--version', 'v1.37', '--json');
    const lines = jsonLines();
    expect(lines.length).toBeGreaterThan(50);
    expect(code).toBe(1);
    for (const line of lines) {
      const expectAllowed = String(line.file).includes(`${path.sep}pass${path.sep}`);
      expect({ file: line.file, allowed: line.allowed }).toEqual({
        file: line.file,
        allowed: expectAllowed,
      });
    }
  });
});
