/**
 * The Helm chart (deploy/helm/falconer), linted and rendered by a real `helm` in both modes, then held to
 * the guarantees deploy/'s manifests keep (guarantees.ts). helm comes from .services/bin (built by
 * `bash scripts/provision-helm.sh`) or PATH.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { parse } from 'yaml';
import { BUILTIN_RULES_DIR, compileRuleSources } from '../../src/detect/engine';
import { readRuleSources } from '../../src/detect/rules/load';
import { formatProblem } from '../../src/detect/rules/types';
import { describeGuarantees } from './guarantees';
import { asDoc, asList, DEPLOY_DIR, findOne, parseDocuments, REPO_ROOT, toManifests, type Manifest } from './manifests';

const CHART = join(DEPLOY_DIR, 'helm', 'falconer');
const PROVISION = 'bash scripts/provision-helm.sh';
const RELEASE = 'falconer';
const NAMESPACE = 'falconer';
// Rendering assumes this cluster version instead of the one compiled into helm.
const KUBE_VERSION = '1.35.0';

function findHelm(): string | undefined {
  const candidates = [
    join(process.env.SERVICES_DIR ?? join(REPO_ROOT, '.services'), 'bin', 'helm'),
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'helm')),
  ];
  return candidates.find((path) => path && existsSync(path));
}

const helm = findHelm();

function run(args: string[]): { status: number | null; out: string } {
  const result = spawnSync(helm as string, args, { encoding: 'utf8', cwd: REPO_ROOT });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

function render(valuesFile: string, set: string[] = [], setFile: string[] = []): Manifest[] {
  const args = ['template', RELEASE, CHART, '--namespace', NAMESPACE, '--kube-version', KUBE_VERSION, '-f', valuesFile];
  for (const s of set) args.push('--set', s);
  for (const s of setFile) args.push('--set-file', s);
  const text = execFileSync(helm as string, args, { encoding: 'utf8', cwd: REPO_ROOT });
  return toManifests(parseDocuments(text, `helm template -f ${valuesFile}`), `helm template -f ${valuesFile}`);
}

const EMBEDDED = join(CHART, 'ci', 'embedded-values.yaml');
const SCALE_OUT = join(CHART, 'ci', 'scale-out-values.yaml');

if (!helm) {
  test('helm is available to render the chart', () => {
    throw new Error(`helm not found in .services/bin or on PATH: run \`${PROVISION}\` (builds helm v3.22.0 with Go, once)`);
  });
} else {
  describe('helm lint', () => {
    it.each([
      ['the defaults', []],
      ['embedded', ['-f', EMBEDDED]],
      ['scale-out', ['-f', SCALE_OUT]],
    ])('passes with %s', (_name, args) => {
      const { status, out } = run(['lint', CHART, '--strict', '--kube-version', KUBE_VERSION, ...args]);
      expect([status, out]).toEqual([0, expect.stringContaining('0 chart(s) failed')]);
    });
  });

  const embedded = render(EMBEDDED);
  const scaleOut = render(SCALE_OUT);

  describeGuarantees('helm embedded', embedded, {
    namespace: NAMESPACE,
    name: RELEASE,
    configMap: `${RELEASE}-config`,
    role: `${RELEASE}-enrichment-reader`,
    tlsSecret: `${RELEASE}-tls`,
    defaultDeny: `${RELEASE}-default-deny-all`,
    replicas: 1,
    dataVolume: { path: '/var/lib/falconer', source: 'persistentVolumeClaim' },
    scaleOut: false,
    namespaceObject: true,
    secretRefs: {
      FALCONER_INGEST_TOKEN: { secret: RELEASE, key: 'ingest-token' },
      FALCONER_SLACK_TOKEN: { secret: RELEASE, key: 'slack-token' },
    },
  });

  describeGuarantees('helm scale-out', scaleOut, {
    namespace: NAMESPACE,
    name: RELEASE,
    configMap: `${RELEASE}-config`,
    role: `${RELEASE}-enrichment-reader`,
    tlsSecret: `${RELEASE}-tls`,
    defaultDeny: `${RELEASE}-default-deny-all`,
    replicas: 3,
    scaleOut: true,
    namespaceObject: false,
    secretRefs: {
      FALCONER_INGEST_TOKEN: { secret: 'falconer-tokens', key: 'ingest' },
      FALCONER_SLACK_TOKEN: { secret: 'falconer-tokens', key: 'slack' },
      FALCONER_KAFKA_SASL_PASSWORD: { secret: 'kafka-credentials', key: 'password' },
      FALCONER_REDIS_PASSWORD: { secret: RELEASE, key: 'redis-password' },
    },
  });

  const podSpec = (all: Manifest[]) =>
    asDoc(asDoc(asDoc(findOne(all, 'Deployment', RELEASE).body.spec, 'spec').template, 'template').spec, 'pod spec');
  const kinds = (all: Manifest[]) => all.map((m) => m.kind).sort();

  describe.each([
    ['embedded', embedded],
    ['scale-out', scaleOut],
  ])('helm %s: every object', (_mode, all) => {
    it('is namespaced in the release namespace, or cluster-scoped', () => {
      const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);
      for (const m of all)
        expect([m.kind, m.name, m.namespace]).toEqual([m.kind, m.name, clusterScoped.has(m.kind) ? undefined : NAMESPACE]);
    });

    it('carries the chart labels', () => {
      for (const m of all) {
        const labels = asDoc(asDoc(m.body.metadata, 'metadata').labels, `${m.kind} labels`);
        expect([m.kind, labels['app.kubernetes.io/part-of']]).toEqual([m.kind, 'falconer']);
      }
    });
  });

  describe('helm: what differs between the modes', () => {
    it('embedded: one replica, Recreate (never two pods on the volume), a kept claim, no PodDisruptionBudget', () => {
      const spec = asDoc(findOne(embedded, 'Deployment', RELEASE).body.spec, 'spec');
      expect(asDoc(spec.strategy, 'strategy').type).toBe('Recreate');
      const claim = findOne(embedded, 'PersistentVolumeClaim', `${RELEASE}-data`);
      expect(asDoc(asDoc(claim.body.spec, 'spec').resources, 'resources')).toEqual({ requests: { storage: '2Gi' } });
      expect(asDoc(claim.body.metadata, 'meta').annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
      expect(kinds(embedded)).not.toContain('PodDisruptionBudget');
      // fsGroup makes the claim writable for UID 10001.
      expect(asDoc(podSpec(embedded).securityContext, 'psc').fsGroup).toBe(10001);
    });

    it('embedded with persistence.type=emptyDir: no claim, the data volume is an emptyDir', () => {
      const all = render(EMBEDDED, ['persistence.type=emptyDir']);
      expect(kinds(all)).not.toContain('PersistentVolumeClaim');
      const data = asList(podSpec(all).volumes)
        .map((v) => asDoc(v, 'volume'))
        .find((v) => v.name === 'data');
      expect(data).toEqual({ name: 'data', emptyDir: { sizeLimit: '1Gi' } });
    });

    it('scale-out: rolling updates without losing capacity, a PodDisruptionBudget, a ServiceMonitor when asked', () => {
      const spec = asDoc(findOne(scaleOut, 'Deployment', RELEASE).body.spec, 'spec');
      expect(spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
      expect(asDoc(findOne(scaleOut, 'PodDisruptionBudget', RELEASE).body.spec, 'spec').minAvailable).toBe(1);
      expect(kinds(scaleOut)).not.toContain('PersistentVolumeClaim');
      const monitor = asDoc(findOne(scaleOut, 'ServiceMonitor', RELEASE).body.spec, 'spec');
      expect(asList(monitor.endpoints)).toEqual([expect.objectContaining({ port: 'http', path: '/metrics', scheme: 'https' })]);
      // Only the credential not taken from an existing Secret is in the chart's Secret.
      expect(Object.keys(asDoc(findOne(scaleOut, 'Secret', RELEASE).body.data, 'data'))).toEqual(['redis-password']);
    });

    it('is off by default: no ServiceMonitor, no Namespace, no Slack', () => {
      const all = render(EMBEDDED, ['serviceMonitor.enabled=false', 'namespace.create=false', 'slack.enabled=false']);
      expect(kinds(all)).not.toEqual(expect.arrayContaining(['ServiceMonitor']));
      expect(kinds(all)).not.toContain('Namespace');
    });

    it('mounts rule files from rules.files and points rules.dirs at them; quiet.yaml loads over the pack', () => {
      const all = render(EMBEDDED, [], ['rules.files.quiet\\.yaml=rules/examples/quiet.yaml']);
      const files = asDoc(findOne(all, 'ConfigMap', `${RELEASE}-rules`).body.data, 'data');
      expect(Object.keys(files)).toEqual(['quiet.yaml']);
      const sources = [...readRuleSources([BUILTIN_RULES_DIR]), { file: 'quiet.yaml', text: String(files['quiet.yaml']) }];
      const { ruleSet, problems } = compileRuleSources(sources);
      expect(problems.map(formatProblem)).toEqual([]);
      expect(ruleSet?.byId('disallowed-k8s-user')?.def.enabled).toBe(false);
      const config = parse(String(asDoc(findOne(all, 'ConfigMap', `${RELEASE}-config`).body.data, 'data')['falconer.yaml']));
      expect(asDoc(asDoc(config, 'config').rules, 'rules').dirs).toEqual(['/etc/falconer/rules']);
      const mounts = asList(asDoc(asList(podSpec(all).containers)[0], 'container').volumeMounts).map((m) => asDoc(m, 'mount'));
      expect(mounts).toContainEqual({ name: 'rules', mountPath: '/etc/falconer/rules', readOnly: true });
    });

    it('generates an ingest token of 48 characters when none is given', () => {
      const all = render(EMBEDDED, ['ingest.token=']);
      const data = asDoc(findOne(all, 'Secret', RELEASE).body.data, 'data');
      expect(Buffer.from(String(data['ingest-token']), 'base64').toString()).toMatch(/^[A-Za-z0-9]{48}$/);
    });
  });

  describe('helm: values that cannot work are refused with the value to set', () => {
    it.each([
      ['scale-out without brokers', SCALE_OUT, ['kafka.brokers=null'], 'scale-out needs kafka.brokers'],
      ['scale-out without Redis', SCALE_OUT, ['redis.url='], 'scale-out needs redis.url'],
      // values.schema.json: helm checks every value before rendering.
      ['an unknown mode', EMBEDDED, ['mode=cluster'], "at '/mode': value must be one of 'embedded', 'scale-out'"],
      ['a misspelled key', EMBEDDED, ['persistance.size=2Gi'], "additional properties 'persistance' not allowed"],
      ['a broker without a port', SCALE_OUT, ['kafka.brokers[0]=kafka'], "at '/kafka/brokers/0'"],
      ['Slack without a token', EMBEDDED, ['slack.token='], 'slack.enabled needs slack.existingSecret or slack.token'],
      ['a short ingest token', EMBEDDED, ['ingest.token=short'], 'ingest.token must be at least 16 characters'],
    ])('%s', (_name, values, set, message) => {
      const args = ['template', RELEASE, CHART, '--namespace', NAMESPACE, '--kube-version', KUBE_VERSION, '-f', values];
      for (const s of set) args.push('--set', s);
      const { status, out } = run(args);
      expect(status).not.toBe(0);
      expect(out).toContain(message);
    });
  });
}
