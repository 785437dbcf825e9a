import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load';
import { atMost, auditDecision, LEVELS, type AuditLevel, type AuditPolicy, type AuditRequest } from './audit-policy';
import { describeGuarantees } from './guarantees';
import { asDoc, asList, composeFile, DEPLOY_DIR, documents, interpolate, isDoc, manifests, yamlFiles } from './manifests';

const all = manifests();
const NAMESPACE = 'falconer';
const SERVICE_ACCOUNT_USER = 'system:serviceaccount:falconer:falconer';
/** Helm values files: YAML without a `kind`, fed to charts rather than to the apiserver. */
const HELM_VALUES = ['falco-values.yaml', 'falcosidekick-values.yaml'];
/** Files that are not applied by `kubectl apply -k deploy/`. */
const NOT_APPLIED = ['kustomization.yaml', 'secret.yaml', ...HELM_VALUES];

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

describeGuarantees('deploy/', all, {
  namespace: NAMESPACE,
  name: 'falconer',
  configMap: 'falconer-config',
  role: 'falconer-enrichment-reader',
  tlsSecret: 'falconer-tls',
  defaultDeny: 'default-deny-all',
  replicas: 2,
  scaleOut: true,
  namespaceObject: true,
  dataVolume: { path: '/var/lib/falconer', source: 'emptyDir' },
  secretRefs: {
    FALCONER_INGEST_TOKEN: { secret: 'falconer', key: 'ingest-token' },
    FALCONER_SLACK_TOKEN: { secret: 'falconer', key: 'slack-token' },
  },
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

  it('points embedded mode at /var/lib/falconer, a volume the service user owns', () => {
    expect(dockerfile).toMatch(/^ENV FALCONER_DATA_DIR=\/var\/lib\/falconer$/m);
    expect(dockerfile).toMatch(/^VOLUME \/var\/lib\/falconer$/m);
    expect(dockerfile).toMatch(/chown 10001:10001 \/var\/lib\/falconer/);
  });
});
