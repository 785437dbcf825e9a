import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig, validateConfig } from '../../src/config/load';
import { ClusterState } from '../../src/enrich/cluster-state';
import { networkExposure } from '../../src/enrich/network';
import { evaluatePodSecurity, formatViolations } from '../../src/enrich/pod-security';
import { can, riskyPermissions, subjectFor } from '../../src/enrich/rbac';
import { atMost, auditDecision, LEVELS, type AuditLevel, type AuditPolicy, type AuditRequest } from './audit-policy';
import {
  asDoc,
  asList,
  composeFile,
  DEPLOY_DIR,
  documents,
  findOne,
  interpolate,
  isDoc,
  manifests,
  yamlFiles,
  type Doc,
} from './manifests';

const all = manifests();
const NAMESPACE = 'falconer';
const SERVICE_ACCOUNT_USER = 'system:serviceaccount:falconer:falconer';
/** Helm values files: YAML without a `kind`, fed to charts rather than to the apiserver. */
const HELM_VALUES = ['falco-values.yaml', 'falcosidekick-values.yaml'];
/** Files that are not applied by `kubectl apply -k deploy/`. */
const NOT_APPLIED = ['kustomization.yaml', 'secret.yaml', ...HELM_VALUES];

const deployment = findOne(all, 'Deployment', 'falconer');
const podSpec = asDoc(asDoc(asDoc(deployment.body.spec, 'spec').template, 'template').spec, 'pod spec');
const container = asDoc(asList(podSpec.containers)[0], 'container');

function envOf(c: Doc): Map<string, Doc> {
  return new Map(asList(c.env).map((e) => [String(asDoc(e, 'env').name), asDoc(e, 'env')]));
}

describe('deploy/: every YAML file', () => {
  const files = yamlFiles();

  it('finds the manifests, the apiserver files and the Helm values', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'kustomization.yaml',
        'namespace.yaml',
        'deployment.yaml',
        'networkpolicy.yaml',
        'rbac.yaml',
        'apiserver/audit-policy.yaml',
        'apiserver/audit-webhook-kubeconfig.yaml',
        'falcosidekick-values.yaml',
      ]),
    );
  });

  it.each(files)('%s parses and each document names its kind (or is Helm values)', (file) => {
    const docs = documents(file);
    expect(docs.length).toBeGreaterThan(0);
    for (const doc of docs) {
      expect(isDoc(doc)).toBe(true);
      if (HELM_VALUES.includes(file)) continue;
      expect(doc).toEqual(expect.objectContaining({ apiVersion: expect.any(String), kind: expect.any(String) }));
    }
  });

  it('kustomization.yaml applies every manifest at the top level except the Secret template', () => {
    const kustomization = asDoc(documents('kustomization.yaml')[0], 'kustomization');
    const resources = asList(kustomization.resources).map(String).sort();
    const expected = files.filter((f) => !f.includes('/') && !NOT_APPLIED.includes(f)).sort();
    expect(resources).toEqual(expected);
    for (const r of resources) expect(existsSync(join(DEPLOY_DIR, r))).toBe(true);
    // A committed token would be a shared, public one.
    expect(resources).not.toContain('secret.yaml');
  });

  it('puts every namespaced object in the falconer namespace', () => {
    const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'Kustomization', 'Config', 'Policy']);
    for (const m of all.filter((m) => !clusterScoped.has(m.kind)))
      expect([m.file, m.kind, m.namespace]).toEqual([m.file, m.kind, NAMESPACE]);
  });
});

describe('Pod Security: Falconer passes the standard it checks others against', () => {
  it('labels its namespace to enforce restricted:latest', () => {
    const labels = asDoc(asDoc(findOne(all, 'Namespace', NAMESPACE).body.metadata, 'metadata').labels, 'labels');
    expect(labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/enforce-version': 'latest',
    });
  });

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

  it('runs as UID 10001 with a read-only root filesystem and only /tmp writable', () => {
    expect(container.securityContext).toMatchObject({
      runAsUser: 10001,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    const mounts = asList(container.volumeMounts).map((m) => asDoc(m, 'mount'));
    const writable = mounts.filter((m) => m.readOnly !== true);
    expect(writable.map((m) => m.mountPath)).toEqual(['/tmp']);
    const tmpVolume = asList(podSpec.volumes)
      .map((v) => asDoc(v, 'volume'))
      .find((v) => v.name === writable[0]?.name);
    expect(tmpVolume).toHaveProperty('emptyDir');
  });

  it('runs two replicas with resources, /healthz and /readyz probes on the service port', () => {
    expect(asDoc(deployment.body.spec, 'spec').replicas).toBe(2);
    const resources = asDoc(container.resources, 'resources');
    expect(resources.requests).toEqual(expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }));
    expect(resources.limits).toEqual(expect.objectContaining({ memory: expect.any(String) }));
    const port = asDoc(asList(container.ports)[0], 'port');
    expect(port).toMatchObject({ name: 'http', containerPort: 2804 });
    const probe = (key: string) => asDoc(asDoc(container[key], key).httpGet, `${key}.httpGet`);
    expect(probe('livenessProbe')).toMatchObject({ path: '/healthz', port: 'http' });
    expect(probe('readinessProbe')).toMatchObject({ path: '/readyz', port: 'http' });
    const service = asDoc(findOne(all, 'Service', 'falconer').body.spec, 'service spec');
    expect(asList(service.ports)).toContainEqual(expect.objectContaining({ port: 2804, targetPort: 'http' }));
  });
});

describe('configuration and secrets the Deployment reads', () => {
  const env = envOf(container);

  it('takes both tokens from keys the Secret template defines', () => {
    const secret = findOne(all, 'Secret', 'falconer');
    const keys = Object.keys(asDoc(secret.body.stringData, 'stringData'));
    for (const name of ['FALCONER_INGEST_TOKEN', 'FALCONER_SLACK_TOKEN']) {
      const ref = asDoc(asDoc(env.get(name)?.valueFrom, `${name}.valueFrom`).secretKeyRef, 'secretKeyRef');
      expect(ref.name).toBe('falconer');
      expect(keys).toContain(ref.key);
    }
  });

  it("reads a falconer.yaml that Falconer's schema accepts, with Kafka and Redis for two replicas", () => {
    const configMap = findOne(all, 'ConfigMap', 'falconer-config');
    const configPath = String(env.get('FALCONER_CONFIG')?.value);
    const mount = asList(container.volumeMounts)
      .map((m) => asDoc(m, 'mount'))
      .find((m) => configPath.startsWith(`${String(m.mountPath)}/`));
    const volume = asList(podSpec.volumes)
      .map((v) => asDoc(v, 'volume'))
      .find((v) => v.name === mount?.name);
    expect(asDoc(volume?.configMap, 'configMap volume').name).toBe('falconer-config');
    const key = configPath.slice(String(mount?.mountPath).length + 1);
    const text = String(asDoc(configMap.body.data, 'data')[key]);

    // The Slack token arrives from the environment; the file names the channel.
    const config = validateConfig(withSlackToken(parse(text)));
    expect(config.server.port).toBe(2804);
    expect(config.kafka?.brokers.length).toBeGreaterThan(0);
    expect(config.redis?.url).toMatch(/^rediss?:\/\//);
    expect(config.receivers).toContainEqual(expect.objectContaining({ type: 'slack' }));
    expect(config.server.shutdownGraceSeconds).toBeLessThan(Number(podSpec.terminationGracePeriodSeconds));
  });

  it('serves HTTPS from the falconer-tls Secret, and the probes speak HTTPS', () => {
    const configMap = findOne(all, 'ConfigMap', 'falconer-config');
    const config = validateConfig(withSlackToken(parse(String(asDoc(configMap.body.data, 'data')['falconer.yaml']))));
    const tls = config.server.tls;
    expect(tls).toBeDefined();
    const secretKeys = Object.keys(asDoc(findOne(all, 'Secret', 'falconer-tls').body.stringData, 'stringData'));
    for (const file of [tls?.certFile, tls?.keyFile]) {
      const mount = asList(container.volumeMounts)
        .map((m) => asDoc(m, 'mount'))
        .find((m) => String(file).startsWith(`${String(m.mountPath)}/`));
      const volume = asList(podSpec.volumes)
        .map((v) => asDoc(v, 'volume'))
        .find((v) => v.name === mount?.name);
      expect(asDoc(volume?.secret, `volume for ${file}`).secretName).toBe('falconer-tls');
      expect(secretKeys).toContain(String(file).slice(String(mount?.mountPath).length + 1));
    }
    for (const key of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      expect([key, asDoc(asDoc(container[key], key).httpGet, key).scheme]).toEqual([key, 'HTTPS']);
    }
  });
});

function withSlackToken(doc: unknown): Doc {
  const config = asDoc(structuredClone(doc), 'falconer.yaml');
  for (const r of asList(config.receivers)) if (isDoc(r) && r.type === 'slack') r.token = 'xoxb-from-the-secret';
  return config;
}

describe("RBAC: least privilege, by Falconer's own RBAC evaluator", () => {
  const state = new ClusterState('deploy');
  for (const m of all) state.upsert(m.body);
  const subject = subjectFor(SERVICE_ACCOUNT_USER);

  it('grants only get/list/watch, on named resources, no wildcards', () => {
    const role = findOne(all, 'ClusterRole', 'falconer-enrichment-reader');
    const rules = asList(role.body.rules).map((r) => asDoc(r, 'rule'));
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
      ].sort(),
    );
  });

  it('binds only that role, only to the falconer service account', () => {
    const bindings = all.filter((m) => m.kind === 'ClusterRoleBinding' || m.kind === 'RoleBinding');
    expect(bindings.map((b) => [asDoc(b.body.roleRef, 'roleRef').name, b.body.subjects])).toEqual([
      ['falconer-enrichment-reader', [{ kind: 'ServiceAccount', name: 'falconer', namespace: NAMESPACE }]],
    ]);
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

describe("NetworkPolicy: default deny, by Falconer's own exposure evaluator", () => {
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
    expect(denyAll?.name).toBe('default-deny-all');
    const exposure = networkExposure(state, NAMESPACE, podLabels);
    expect(exposure.ingress).toMatchObject({ isolated: true, defaultDeny: true, anyPeerAllowed: false });
    expect(exposure.egress).toMatchObject({ isolated: true, defaultDeny: true, anyPeerAllowed: false });
  });

  it('lets traffic in only on the service port, and allows DNS out', () => {
    const rules = policies.flatMap((p) => asList(asDoc(p.body.spec, 'spec').ingress).map((r) => asDoc(r, 'ingress rule')));
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) expect(asList(rule.ports).map((p) => asDoc(p, 'port').port)).toEqual([2804]);
    const egressPorts = policies.flatMap((p) =>
      asList(asDoc(p.body.spec, 'spec').egress).flatMap((r) =>
        asList(asDoc(r, 'egress rule').ports).map((p) => asDoc(p, 'port')),
      ),
    );
    expect(egressPorts).toContainEqual({ port: 53, protocol: 'UDP' });
    for (const port of [9092, 6379, 443]) expect(egressPorts.map((p) => p.port)).toContain(port);
  });
});

describe('apiserver audit policy', () => {
  const policy = asDoc(documents('apiserver/audit-policy.yaml')[0], 'policy') as unknown as AuditPolicy;
  const alice = { user: 'alice', groups: ['system:authenticated'] };
  const kubelet = { user: 'system:node:node-1', groups: ['system:nodes', 'system:authenticated'] };
  const controller = {
    user: 'system:serviceaccount:kube-system:replicaset-controller',
    groups: ['system:serviceaccounts', 'system:authenticated'],
  };
  const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];
  const req = (who: typeof alice, verb: string, group: string, resource: string, subresource?: string): AuditRequest => ({
    ...who,
    verb,
    resource: { group, resource, namespace: 'default', name: 'x', ...(subresource ? { subresource } : {}) },
  });

  it('is an audit.k8s.io/v1 Policy that drops only the RequestReceived stage', () => {
    expect(policy).toMatchObject({ apiVersion: 'audit.k8s.io/v1', kind: 'Policy' });
    expect(policy.omitStages).toEqual(['RequestReceived']);
    for (const rule of policy.rules) expect(LEVELS).toContain(rule.level);
  });

  it.each([alice, kubelet, controller])('never records a Secret or TokenReview body (user $user)', (who) => {
    for (const verb of VERBS) {
      const secrets = auditDecision(policy, req(who, verb, '', 'secrets')).level;
      const tokenReviews = auditDecision(policy, req(who, verb, 'authentication.k8s.io', 'tokenreviews')).level;
      expect([verb, atMost(secrets, 'Metadata'), atMost(tokenReviews, 'Metadata')]).toEqual([verb, true, true]);
    }
  });

  it('never records the token a TokenRequest returns', () => {
    expect(atMost(auditDecision(policy, req(alice, 'create', '', 'serviceaccounts', 'token')).level, 'Request')).toBe(true);
  });

  it.each([
    ['get', 'exec'],
    ['create', 'exec'],
    ['get', 'attach'],
    ['create', 'portforward'],
  ])('records %s pods/%s at Metadata and keeps its ResponseStarted event', (verb, sub) => {
    const decision = auditDecision(policy, req(alice, verb, '', 'pods', sub));
    expect(decision.level).toBe('Metadata');
    expect(decision.omitStages).not.toContain('ResponseStarted');
  });

  it('records a kubectl debug patch of pods/ephemeralcontainers with its body and its ResponseComplete event', () => {
    // The correlate stage reads the new ephemeral container's name from the request body (docs/correlation.md).
    const decision = auditDecision(policy, req(alice, 'patch', '', 'pods', 'ephemeralcontainers'));
    expect(decision.level).toBe('RequestResponse');
    expect(decision.omitStages).not.toContain('ResponseComplete');
  });

  it.each<[string, string, string, AuditLevel]>([
    ['create', '', 'pods', 'RequestResponse'],
    ['patch', 'apps', 'deployments', 'RequestResponse'],
    ['create', 'rbac.authorization.k8s.io', 'clusterrolebindings', 'RequestResponse'],
    ['update', 'admissionregistration.k8s.io', 'validatingwebhookconfigurations', 'RequestResponse'],
    ['update', 'certificates.k8s.io', 'certificatesigningrequests', 'RequestResponse'],
    ['delete', 'networking.k8s.io', 'networkpolicies', 'RequestResponse'],
    ['patch', '', 'namespaces', 'RequestResponse'],
    ['create', '', 'serviceaccounts', 'RequestResponse'],
    ['create', '', 'configmaps', 'Request'],
    ['get', '', 'pods', 'Metadata'],
    ['create', '', 'events', 'None'],
    ['update', 'coordination.k8s.io', 'leases', 'None'],
    ['get', '', 'endpoints', 'None'],
  ])('a user %s of %s/%s is audited at %s', (verb, group, resource, level) => {
    expect(auditDecision(policy, req(alice, verb, group, resource)).level).toBe(level);
  });

  it('drops the read-only traffic of kubelets and of Falconer itself, and health probes', () => {
    expect(auditDecision(policy, req(kubelet, 'get', '', 'pods')).level).toBe('None');
    expect(auditDecision(policy, req({ user: SERVICE_ACCOUNT_USER, groups: [] }, 'watch', '', 'pods')).level).toBe('None');
    expect(auditDecision(policy, { ...alice, verb: 'get', path: '/readyz' }).level).toBe('None');
    // A kubelet that writes a pod (not its status) is still recorded.
    expect(auditDecision(policy, req(kubelet, 'create', '', 'pods')).level).toBe('RequestResponse');
  });
});

describe('apiserver audit webhook kubeconfig', () => {
  const kubeconfig = asDoc(documents('apiserver/audit-webhook-kubeconfig.yaml')[0], 'kubeconfig');

  it('posts to the audit ingest of the falconer Service with a cluster name and a bearer token', () => {
    const cluster = asDoc(asDoc(asList(kubeconfig.clusters)[0], 'cluster entry').cluster, 'cluster');
    const url = new URL(String(cluster.server));
    expect(url.hostname).toBe('falconer.falconer.svc');
    expect(url.port).toBe('2804');
    expect(url.pathname).toBe('/v1/events/audit');
    expect(url.searchParams.get('cluster')).toBeTruthy();
    const user = asDoc(asDoc(asList(kubeconfig.users)[0], 'user entry').user, 'user');
    expect(typeof user.token).toBe('string');
    expect(kubeconfig['current-context']).toBe(asDoc(asList(kubeconfig.contexts)[0], 'context').name);
  });
});

describe('falcosidekick values', () => {
  it.each(HELM_VALUES)(
    '%s sends the webhook to the Falco ingest over HTTPS with the Authorization header from a Secret',
    (file) => {
      const values = asDoc(documents(file)[0], file);
      const config = asDoc(
        (file === 'falco-values.yaml' ? asDoc(values.falcosidekick, 'falcosidekick') : values).config,
        'config',
      );
      expect(String(asDoc(config.webhook, 'webhook').address)).toMatch(
        /^https:\/\/falconer\.falconer\.svc[.\w]*:2804\/v1\/events\/falco$/,
      );
      const header = asList(config.extraEnv)
        .map((e) => asDoc(e, 'env'))
        .find((e) => e.name === 'WEBHOOK_CUSTOMHEADERS');
      expect(asDoc(header?.valueFrom, 'valueFrom')).toHaveProperty('secretKeyRef');
      // Falconer's CA is mounted where Falcosidekick looks for extra CAs.
      const chart = file === 'falco-values.yaml' ? asDoc(values.falcosidekick, 'falcosidekick') : values;
      const caFile = String(asDoc(config.tlsclient, 'tlsclient').cacertfile);
      const mounts = asList(chart.extraVolumeMounts).map((m) => asDoc(m, 'mount'));
      expect(mounts.some((m) => caFile.startsWith(`${String(m.mountPath)}/`))).toBe(true);
    },
  );
});

describe('docker-compose.yml', () => {
  const compose = composeFile();
  const services = asDoc(compose.services, 'services');
  const falconers = ['falconer', 'falconer-2'].map((name) => [name, asDoc(services[name], name)] as const);
  const testEnv = { FALCONER_INGEST_TOKEN: 'a-token-of-at-least-16-chars' };

  it('runs Falconer with Kafka and Redis, each with a healthcheck', () => {
    for (const name of ['falconer', 'kafka', 'redis']) expect(asDoc(services[name], name)).toHaveProperty('healthcheck');
    expect(String(asDoc(services.kafka, 'kafka').image)).toMatch(/^apache\/kafka:/);
  });

  it.each(falconers)('%s is read-only, non-root, with /tmp on tmpfs, and waits for healthy Kafka and Redis', (_name, service) => {
    expect(service.read_only).toBe(true);
    expect(
      asList(service.tmpfs)
        .map(String)
        .some((t) => t.split(':')[0] === '/tmp'),
    ).toBe(true);
    expect(String(service.user).split(':')[0]).toBe('10001');
    expect(service.depends_on).toEqual({ kafka: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
  });

  it.each(falconers)("%s's environment configures Falconer to use the compose Kafka and Redis", (_name, service) => {
    const raw = asDoc(service.environment, 'environment');
    const env = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, interpolate(String(v), testEnv)]));
    const config = loadConfig({ env });
    const kafka = asDoc(services.kafka, 'kafka');
    const advertised = String(asDoc(kafka.environment, 'kafka env').KAFKA_ADVERTISED_LISTENERS).replace(/^\w+:\/\//, '');
    expect(config.kafka?.brokers).toEqual([advertised]);
    const redisUrl = new URL(String(config.redis?.url));
    expect(Object.keys(services)).toContain(redisUrl.hostname);
    expect(redisUrl.port).toBe('6379');
    expect(config.ingest.token).toBe(testEnv.FALCONER_INGEST_TOKEN);
  });

  it('refuses to start without an ingest token, which every replica must share', () => {
    const raw = asDoc(asDoc(services.falconer, 'falconer').environment, 'environment');
    expect(() => interpolate(String(raw.FALCONER_INGEST_TOKEN), {})).toThrow(/FALCONER_INGEST_TOKEN/);
  });

  it('publishes 2804 and puts the second replica behind a profile on another host port', () => {
    const published = falconers.map(([, s]) => asList(s.ports).map(String));
    expect(published[0]).toEqual(['2804:2804']);
    expect(published[1]).toHaveLength(1);
    expect(published[1]?.[0]).toMatch(/^\d+:2804$/);
    expect(published[1]?.[0]).not.toBe('2804:2804');
    expect(asDoc(services['falconer-2'], 'falconer-2').profiles).toEqual(['replicas']);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(DEPLOY_DIR, '..', 'Dockerfile'), 'utf8');
  const dockerignore = readFileSync(join(DEPLOY_DIR, '..', '.dockerignore'), 'utf8');
  const copies = [
    ...new Set([...dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((m) => (m[1] ?? '').trim().split(/\s+/).slice(0, -1))),
  ];

  it.each(copies)('copies %s, which exists and the build context keeps', (path) => {
    expect(existsSync(join(DEPLOY_DIR, '..', path))).toBe(true);
    const isDir = statSync(join(DEPLOY_DIR, '..', path)).isDirectory();
    expect(dockerignore.split('\n')).toContain(isDir ? `!${path}/` : `!${path}`);
  });

  it('runs node bin/falconer.js serve as UID 10001 on port 2804 with a healthcheck', () => {
    expect(dockerfile).toMatch(/^FROM node:24|^ARG NODE_IMAGE=node:24/m);
    expect(dockerfile).toMatch(/^USER 10001(:10001)?$/m);
    expect(dockerfile).toMatch(/^EXPOSE 2804$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*[\s\S]*\/healthz/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "bin\/falconer\.js"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["serve"\]$/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev --ignore-scripts/);
  });
});
