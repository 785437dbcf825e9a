/**
 * The guarantees Falconer's Kubernetes manifests keep, as jest suites over a list of parsed documents:
 * deploy/'s files (manifests.test.ts) and the Helm chart's rendered output (helm.test.ts) run the same
 * checks. Non-root, read-only root, restricted Pod Security, least-privilege RBAC, default-deny
 * NetworkPolicy with only the needed allows, and a configuration Falconer's own schema accepts.
 */
import { parse } from 'yaml';
import { validateConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { ClusterState } from '../../src/enrich/cluster-state';
import { networkExposure } from '../../src/enrich/network';
import { evaluatePodSecurity, formatViolations } from '../../src/enrich/pod-security';
import { can, riskyPermissions, subjectFor } from '../../src/enrich/rbac';
import { asDoc, asList, findOne, isDoc, type Doc, type Manifest } from './manifests';

export interface Expectations {
  namespace: string;
  /** Name shared by the Deployment, the Service and the service account. */
  name: string;
  configMap: string;
  role: string;
  tlsSecret: string;
  defaultDeny: string;
  replicas: number;
  /** Writable mounts besides /tmp, by path, with the volume source each must use (emptyDir or a claim). */
  dataVolume?: { path: string; source: 'emptyDir' | 'persistentVolumeClaim' };
  /** Whether Kafka and Redis are configured (and reachable through the egress policy). */
  scaleOut: boolean;
  /** Whether the documents include the namespace (with its Pod Security labels). */
  namespaceObject: boolean;
  /** Secret references the container must make, by variable; `rendered` when the Secret is in the documents. */
  secretRefs: Record<string, { secret: string; key: string }>;
}

export function envOf(c: Doc): Map<string, Doc> {
  return new Map(asList(c.env).map((e) => [String(asDoc(e, 'env').name), asDoc(e, 'env')]));
}

function podSpecOf(deployment: Manifest): Doc {
  return asDoc(asDoc(asDoc(deployment.body.spec, 'spec').template, 'template').spec, 'pod spec');
}

/** The Secret's keys, whether it is written with `stringData` or `data`. */
function secretKeys(secret: Manifest): string[] {
  return [
    ...Object.keys(isDoc(secret.body.stringData) ? secret.body.stringData : {}),
    ...Object.keys(isDoc(secret.body.data) ? secret.body.data : {}),
  ];
}

/** The receivers' Slack token arrives from the environment at start-up; fill it in as Falconer would. */
export function withSlackToken(doc: unknown): Doc {
  const config = asDoc(structuredClone(doc), 'falconer.yaml');
  for (const r of asList(config.receivers)) if (isDoc(r) && r.type === 'slack') r.token = 'xoxb-from-the-secret';
  return config;
}

export function describeGuarantees(label: string, all: Manifest[], exp: Expectations): void {
  const deployment = findOne(all, 'Deployment', exp.name);
  const podSpec = podSpecOf(deployment);
  const container = asDoc(asList(podSpec.containers)[0], 'container');
  const mounts = asList(container.volumeMounts).map((m) => asDoc(m, 'mount'));
  const volumes = asList(podSpec.volumes).map((v) => asDoc(v, 'volume'));
  const volumeAt = (path: string): Doc | undefined => {
    const mount = mounts.find((m) => path.startsWith(`${String(m.mountPath)}/`) || path === m.mountPath);
    return volumes.find((v) => v.name === mount?.name);
  };
  const env = envOf(container);
  const serviceAccountUser = `system:serviceaccount:${exp.namespace}:${exp.name}`;

  function config(): Config {
    const configMap = findOne(all, 'ConfigMap', exp.configMap);
    const configPath = String(env.get('FALCONER_CONFIG')?.value);
    const volume = volumeAt(configPath);
    expect(asDoc(volume?.configMap, 'configMap volume').name).toBe(exp.configMap);
    const mount = mounts.find((m) => configPath.startsWith(`${String(m.mountPath)}/`));
    const key = configPath.slice(String(mount?.mountPath).length + 1);
    return validateConfig(withSlackToken(parse(String(asDoc(configMap.body.data, 'data')[key]))));
  }

  describe(`${label}: Pod Security, Falconer passes the standard it checks others against`, () => {
    if (exp.namespaceObject) {
      it('labels its namespace to enforce restricted:latest', () => {
        const labels = asDoc(asDoc(findOne(all, 'Namespace', exp.namespace).body.metadata, 'metadata').labels, 'labels');
        expect(labels).toMatchObject({
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
        });
      });
    }

    it("passes Falconer's own evaluator at restricted:latest", () => {
      const result = evaluatePodSecurity(deployment.body, 'restricted', 'latest');
      expect(formatViolations(result.violations)).toBe('');
      expect(result.allowed).toBe(true);
    });

    // Proves the check above can fail: each regression alone breaks restricted.
    it.each<[string, (c: Doc, pod: Doc) => void]>([
      ['allowPrivilegeEscalation: true', (c) => (asDoc(c.securityContext, 'sc').allowPrivilegeEscalation = true)],
      ['capabilities not dropped', (c) => delete asDoc(c.securityContext, 'sc').capabilities],
      [
        'runAsNonRoot unset',
        (c, pod) => {
          delete asDoc(c.securityContext, 'sc').runAsNonRoot;
          delete asDoc(pod.securityContext, 'psc').runAsNonRoot;
        },
      ],
      [
        'no seccomp profile',
        (c, pod) => {
          delete asDoc(c.securityContext, 'sc').seccompProfile;
          delete asDoc(pod.securityContext, 'psc').seccompProfile;
        },
      ],
    ])('a regression (%s) would fail restricted', (_name, regress) => {
      const copy = structuredClone(deployment.body);
      const pod = asDoc(asDoc(asDoc(copy.spec, 'spec').template, 'template').spec, 'pod');
      regress(asDoc(asList(pod.containers)[0], 'container'), pod);
      expect(evaluatePodSecurity(copy, 'restricted', 'latest').allowed).toBe(false);
    });

    const writablePaths = ['/tmp', ...(exp.dataVolume ? [exp.dataVolume.path] : [])];
    it(`runs as UID 10001 with a read-only root filesystem and only ${writablePaths.join(', ')} writable`, () => {
      expect(container.securityContext).toMatchObject({
        runAsUser: 10001,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      const writable = mounts.filter((m) => m.readOnly !== true);
      expect(writable.map((m) => m.mountPath)).toEqual(writablePaths);
      expect(volumeAt('/tmp')).toHaveProperty('emptyDir');
      if (exp.dataVolume) expect(volumeAt(exp.dataVolume.path)).toHaveProperty(exp.dataVolume.source);
    });

    it(`runs ${exp.replicas} replica(s) with resources, /healthz and /readyz probes on the service port`, () => {
      expect(asDoc(deployment.body.spec, 'spec').replicas).toBe(exp.replicas);
      const resources = asDoc(container.resources, 'resources');
      expect(resources.requests).toEqual(expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }));
      expect(resources.limits).toEqual(expect.objectContaining({ memory: expect.any(String) }));
      const port = asDoc(asList(container.ports)[0], 'port');
      expect(port).toMatchObject({ name: 'http', containerPort: 2804 });
      const probe = (key: string) => asDoc(asDoc(container[key], key).httpGet, `${key}.httpGet`);
      expect(probe('livenessProbe')).toMatchObject({ path: '/healthz', port: 'http' });
      expect(probe('readinessProbe')).toMatchObject({ path: '/readyz', port: 'http' });
      const service = asDoc(findOne(all, 'Service', exp.name).body.spec, 'service spec');
      expect(asList(service.ports)).toContainEqual(expect.objectContaining({ port: 2804, targetPort: 'http' }));
    });
  });

  describe(`${label}: configuration and secrets the Deployment reads`, () => {
    it.each(Object.entries(exp.secretRefs))('takes %s from a Secret key', (name, { secret, key }) => {
      const ref = asDoc(asDoc(env.get(name)?.valueFrom, `${name}.valueFrom`).secretKeyRef, 'secretKeyRef');
      expect({ name: ref.name, key: ref.key }).toEqual({ name: secret, key });
      // A Secret in the documents must define the key; others are the user's (existing Secrets).
      const rendered = all.filter((m) => m.kind === 'Secret' && m.name === secret);
      for (const s of rendered) expect(secretKeys(s)).toContain(key);
    });

    it('sets no secret as a plain value, in the environment or in the ConfigMap', () => {
      for (const [name, e] of env) {
        if (/TOKEN|PASSWORD|SECRET/.test(name)) expect([name, e.value]).toEqual([name, undefined]);
      }
      const files = Object.values(asDoc(findOne(all, 'ConfigMap', exp.configMap).body.data, 'data')).map(String);
      for (const text of files) expect(text).not.toMatch(/^\s*-?\s*(token|password):/im);
    });

    it(`reads a falconer.yaml that Falconer's schema accepts${exp.scaleOut ? ', with Kafka and Redis' : ', without Kafka or Redis'}`, () => {
      const c = config();
      expect(c.server.port).toBe(2804);
      if (exp.scaleOut) {
        expect(c.kafka?.brokers.length).toBeGreaterThan(0);
        expect(c.redis?.url).toMatch(/^rediss?:\/\//);
      } else {
        expect(c.kafka).toBeUndefined();
        expect(c.redis).toBeUndefined();
      }
      expect(c.receivers).toContainEqual(expect.objectContaining({ type: 'slack' }));
      expect(c.server.shutdownGraceSeconds).toBeLessThan(Number(podSpec.terminationGracePeriodSeconds));
    });

    if (exp.dataVolume) {
      it(`points FALCONER_DATA_DIR at the data volume (${exp.dataVolume.path})`, () => {
        expect(env.get('FALCONER_DATA_DIR')?.value).toBe(exp.dataVolume?.path);
      });
    }

    it(`serves HTTPS from the ${exp.tlsSecret} Secret, and the probes speak HTTPS`, () => {
      const tls = config().server.tls;
      expect(tls).toBeDefined();
      const rendered = all.filter((m) => m.kind === 'Secret' && m.name === exp.tlsSecret);
      for (const file of [tls?.certFile, tls?.keyFile]) {
        expect(asDoc(volumeAt(String(file))?.secret, `volume for ${file}`).secretName).toBe(exp.tlsSecret);
        const mount = mounts.find((m) => String(file).startsWith(`${String(m.mountPath)}/`));
        for (const s of rendered) expect(secretKeys(s)).toContain(String(file).slice(String(mount?.mountPath).length + 1));
      }
      for (const key of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
        expect([key, asDoc(asDoc(container[key], key).httpGet, key).scheme]).toEqual([key, 'HTTPS']);
      }
    });
  });

  describe(`${label}: RBAC, least privilege by Falconer's own RBAC evaluator`, () => {
    const state = new ClusterState('deploy');
    for (const m of all) state.upsert(m.body);
    const subject = subjectFor(serviceAccountUser);

    it('grants only get/list/watch, on named resources, no wildcards', () => {
      const rules = asList(findOne(all, 'ClusterRole', exp.role).body.rules).map((r) => asDoc(r, 'rule'));
      expect(rules.length).toBeGreaterThan(0);
      const granted = new Set<string>();
      for (const rule of rules) {
        expect(asList(rule.verbs).every((v) => ['get', 'list', 'watch'].includes(String(v)))).toBe(true);
        for (const field of ['verbs', 'resources', 'apiGroups']) expect(asList(rule[field])).not.toContain('*');
        expect(rule).not.toHaveProperty('nonResourceURLs');
        for (const r of asList(rule.resources)) granted.add(String(r));
      }
      expect([...granted].sort()).toEqual(
        [
          'clusterrolebindings',
          'clusterroles',
          'namespaces',
          'networkpolicies',
          'pods',
          'rolebindings',
          'roles',
          'serviceaccounts',
          // Findings (docs/integrations.md): read-only, and deliberately not exposedsecretreports/sbomreports.
          'policyreports',
          'clusterpolicyreports',
          'reports',
          'clusterreports',
          'vulnerabilityreports',
          'configauditreports',
          'rbacassessmentreports',
          'events',
        ].sort(),
      );
      expect(all.filter((m) => m.kind === 'Role' || m.kind === 'ClusterRole').map((m) => m.name)).toEqual([exp.role]);
    });

    it('binds only that role, only to the Falconer service account', () => {
      const bindings = all.filter((m) => m.kind === 'ClusterRoleBinding' || m.kind === 'RoleBinding');
      expect(bindings.map((b) => [asDoc(b.body.roleRef, 'roleRef').name, b.body.subjects])).toEqual([
        [exp.role, [{ kind: 'ServiceAccount', name: exp.name, namespace: exp.namespace }]],
      ]);
      expect(podSpec.serviceAccountName).toBe(exp.name);
    });

    it('holds none of the permissions Falconer reports as risky', () => {
      expect(riskyPermissions(state, subject)).toEqual([]);
    });

    it.each<[string, string, string, string, boolean]>([
      ['watch', '', 'pods', '', true],
      ['list', 'rbac.authorization.k8s.io', 'clusterrolebindings', '', true],
      ['get', 'networking.k8s.io', 'networkpolicies', 'default', true],
      ['get', '', 'secrets', 'default', false],
      ['list', '', 'configmaps', 'kube-system', false],
      ['create', '', 'pods', 'default', false],
      ['patch', 'rbac.authorization.k8s.io', 'clusterroles', '', false],
      ['delete', '', 'pods', 'default', false],
      ['watch', 'wgpolicyk8s.io', 'policyreports', '', true],
      ['list', 'aquasecurity.github.io', 'vulnerabilityreports', '', true],
      ['list', '', 'events', 'default', true],
      ['get', 'aquasecurity.github.io', 'exposedsecretreports', 'shop', false],
      ['list', 'aquasecurity.github.io', 'sbomreports', '', false],
      ['patch', 'wgpolicyk8s.io', 'policyreports', 'shop', false],
      ['create', '', 'events', 'default', false],
    ])('%s %s/%s in namespace "%s" (empty: cluster-wide): allowed=%s', (verb, apiGroup, resource, namespace, allowed) => {
      const decision = can(state, subject, { verb, apiGroup, resource, ...(namespace ? { namespace } : {}) });
      expect(decision.allowed).toBe(allowed);
    });

    it('denies the exec subresource even though pods are readable', () => {
      expect(
        can(state, subject, { verb: 'get', apiGroup: '', resource: 'pods', subresource: 'exec', namespace: 'default' }).allowed,
      ).toBe(false);
    });
  });

  describe(`${label}: NetworkPolicy, default deny by Falconer's own exposure evaluator`, () => {
    const policies = all.filter((m) => m.kind === 'NetworkPolicy');
    const state = new ClusterState('deploy');
    for (const m of policies) state.upsert(m.body);
    const podLabels = asDoc(
      asDoc(asDoc(asDoc(deployment.body.spec, 'spec').template, 'template').metadata, 'meta').labels,
      'labels',
    ) as Record<string, string>;

    it('has a policy selecting every pod that denies both directions', () => {
      const denyAll = policies.find((p) => {
        const spec = asDoc(p.body.spec, 'spec');
        return (
          Object.keys(asDoc(spec.podSelector, 'podSelector')).length === 0 &&
          asList(spec.ingress).length === 0 &&
          asList(spec.egress).length === 0 &&
          ['Ingress', 'Egress'].every((t) => asList(spec.policyTypes).includes(t))
        );
      });
      expect(denyAll?.name).toBe(exp.defaultDeny);
      const exposure = networkExposure(state, exp.namespace, podLabels);
      expect(exposure.ingress).toMatchObject({ isolated: true, defaultDeny: true, anyPeerAllowed: false });
      expect(exposure.egress).toMatchObject({ isolated: true, defaultDeny: true, anyPeerAllowed: false });
    });

    it('selects the pods it means to: every allow policy matches the Falconer pods', () => {
      const exposure = networkExposure(state, exp.namespace, podLabels);
      const allows = policies.filter((p) => p.name !== exp.defaultDeny).map((p) => p.name);
      expect(allows.length).toBeGreaterThan(0);
      expect([...exposure.ingress.policies, ...exposure.egress.policies]).toEqual(expect.arrayContaining(allows));
    });

    it(`lets traffic in only on the service port, and allows DNS${exp.scaleOut ? ', Kafka and Redis' : ''} out`, () => {
      const rules = policies.flatMap((p) => asList(asDoc(p.body.spec, 'spec').ingress).map((r) => asDoc(r, 'ingress rule')));
      expect(rules.length).toBeGreaterThan(0);
      for (const rule of rules) expect(asList(rule.ports).map((p) => asDoc(p, 'port').port)).toEqual([2804]);
      const egressPorts = policies.flatMap((p) =>
        asList(asDoc(p.body.spec, 'spec').egress).flatMap((r) =>
          asList(asDoc(r, 'egress rule').ports).map((p) => asDoc(p, 'port')),
        ),
      );
      expect(egressPorts).toContainEqual({ port: 53, protocol: 'UDP' });
      expect(egressPorts.map((p) => p.port)).toContain(443);
      for (const port of [9092, 6379])
        expect([port, egressPorts.map((p) => p.port).includes(port)]).toEqual([port, exp.scaleOut]);
    });
  });
}
