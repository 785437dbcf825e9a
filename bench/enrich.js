'use strict';
/**
 * Enrichment cost and state memory on synthetic clusters: 1k, 10k and 50k pods, each with 20k bindings,
 * 2k NetworkPolicies and the usual roles. Per size (in a fresh process, so RSS is its own): the time to
 * build the state, its heap, the peak RSS, and µs per enrichment (median and p99) for runtime alerts
 * (subject = the pod's service account) and audit exec alerts (a user in groups), cold (first alert
 * on a pod: its Pod Security evaluation runs) and warm.
 * Run after `npm run build`: node bench/enrich.js [sizes=1000,10000,50000] [alerts=20000]
 * (FALCONER_DIST points at another build output, default ../dist.)
 */
const { spawnSync } = require('node:child_process');
const { join, resolve } = require('node:path');

const dist = resolve(process.env.FALCONER_DIST || join(__dirname, '..', 'dist'));
const BINDINGS = 20_000;
const POLICIES = 2_000;
const CLUSTER_ROLES = 300;
const USERS = 2_000;
const GROUPS = 200;

async function runOne(podCount, alertCount) {
  const { ClusterStates } = require(join(dist, 'enrich/cluster-state'));
  const { createEnricher } = require(join(dist, 'enrich/enricher'));
  const { normaliseFalco } = require(join(dist, 'ingest/falco'));
  const { normaliseAudit } = require(join(dist, 'ingest/audit'));
  const { systemClock } = require(join(dist, 'core/clock'));

  const namespaceCount = Math.max(20, Math.round(podCount / 100));
  const ns = (i) => `ns-${i % namespaceCount}`;
  const rng = mulberry32(42);

  global.gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const states = new ClusterStates();
  const state = states.get('bench');
  const started = process.hrtime.bigint();
  // Objects are generated one at a time and dropped after upsert, as a snapshot or watch stream would be.
  for (let i = 0; i < namespaceCount; i++) state.upsert(namespace(i));
  for (let i = 0; i < namespaceCount * 10; i++) state.upsert(serviceAccount(ns(i), `sa-${Math.floor(i / namespaceCount)}`));
  for (let i = 0; i < CLUSTER_ROLES; i++) state.upsert(clusterRole(i));
  for (let i = 0; i < namespaceCount * 3; i++) state.upsert(role(ns(i), `role-${Math.floor(i / namespaceCount)}`));
  for (let i = 0; i < BINDINGS; i++) state.upsert(binding(i, namespaceCount, rng));
  for (let i = 0; i < POLICIES; i++) state.upsert(networkPolicy(i, ns(i)));
  for (let i = 0; i < podCount; i++) state.upsert(pod(i, ns(i), namespaceCount));
  const buildMs = Number(process.hrtime.bigint() - started) / 1e6;
  global.gc();
  const stateHeapMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;

  const enricher = createEnricher({ states, clock: systemClock, waitForStateMs: 0 });
  const ctx = { cluster: 'bench', receivedAt: 0, maxFieldLength: 4096 };
  const podIndexes = Array.from({ length: alertCount }, () => Math.floor(rng() * podCount));
  const runtime = podIndexes.map((i) =>
    detection(
      normaliseFalco(
        {
          uuid: `u-${i}`,
          rule: 'Terminal shell in container',
          priority: 'Notice',
          output: 'shell',
          time: '2025-11-10T12:51:00.891344775Z',
          source: 'syscall',
          output_fields: { 'k8s.ns.name': ns(i), 'k8s.pod.name': `pod-${i}`, 'proc.cmdline': 'bash', 'user.name': 'root' },
        },
        ctx,
      ),
    ),
  );
  const audit = podIndexes.map((i, k) =>
    detection(
      normaliseAudit(
        {
          kind: 'Event',
          apiVersion: 'audit.k8s.io/v1',
          level: 'Metadata',
          auditID: `a-${k}`,
          stage: 'ResponseStarted',
          requestURI: `/api/v1/namespaces/${ns(i)}/pods/pod-${i}/exec?command=sh`,
          verb: 'get',
          user: {
            username: `user-${k % USERS}@example.com`,
            groups: [`team-${k % GROUPS}`, `team-${(k * 7) % GROUPS}`, 'system:authenticated'],
          },
          sourceIPs: ['10.0.0.1'],
          objectRef: { resource: 'pods', subresource: 'exec', namespace: ns(i), name: `pod-${i}`, apiVersion: 'v1' },
          responseStatus: { code: 101 },
          requestReceivedTimestamp: '2025-11-10T12:50:59.402118Z',
          stageTimestamp: '2025-11-10T12:50:59.431907Z',
        },
        ctx,
      ),
    ),
  );

  const cold = await timings(enricher, runtime);
  const warm = await timings(enricher, runtime);
  const execWarm = await timings(enricher, audit);
  const sample = await enricher.enrich(audit[0]);
  if (!sample.subject.known || !sample.pod.known || !sample.network.known)
    throw new Error(`enrichment unknown: ${JSON.stringify(sample)}`);
  const peakRssMb = process.resourceUsage().maxRSS / 1024;

  const cells = [
    String(podCount).padEnd(7),
    String(namespaceCount).padStart(10),
    buildMs.toFixed(0).padStart(8),
    stateHeapMb.toFixed(1).padStart(13),
    peakRssMb.toFixed(0).padStart(11),
    `${fmt(cold)} · ${fmt(warm)}`.padStart(35),
    fmt(execWarm).padStart(31),
  ];
  console.log(cells.join(' | '));
}

async function timings(enricher, detections) {
  const us = new Float64Array(detections.length);
  for (let i = 0; i < detections.length; i++) {
    const t = process.hrtime.bigint();
    await enricher.enrich(detections[i]);
    us[i] = Number(process.hrtime.bigint() - t) / 1e3;
  }
  us.sort();
  return { median: us[Math.floor(us.length / 2)], p99: us[Math.floor(us.length * 0.99)] };
}

function fmt(t) {
  return `${t.median.toFixed(1)}/${t.p99.toFixed(0)}`;
}

function detection(event) {
  return { rule: 'r', ruleId: 'r', priority: 'notice', source: event.source, tags: [], summary: 's', event };
}

const LEVELS = ['privileged', 'baseline', 'restricted'];

function namespace(i) {
  return {
    kind: 'Namespace',
    metadata: {
      name: `ns-${i}`,
      labels: { 'kubernetes.io/metadata.name': `ns-${i}`, 'pod-security.kubernetes.io/enforce': LEVELS[i % 3] },
    },
  };
}

function serviceAccount(namespace, name) {
  return { kind: 'ServiceAccount', metadata: { name, namespace, uid: `${namespace}-${name}` } };
}

const VERBS = [['get', 'list', 'watch'], ['create', 'update', 'patch', 'delete'], ['*']];
const RESOURCES = [
  ['pods', 'pods/log'],
  ['secrets'],
  ['deployments', 'replicasets'],
  ['configmaps'],
  ['pods/exec', 'pods/attach'],
  ['services', 'endpoints'],
];

function rules(i) {
  return [
    { apiGroups: ['', 'apps'], resources: RESOURCES[i % RESOURCES.length], verbs: VERBS[i % VERBS.length] },
    { apiGroups: [''], resources: RESOURCES[(i + 1) % RESOURCES.length], verbs: VERBS[(i + 1) % VERBS.length] },
  ];
}

function clusterRole(i) {
  const base = {
    kind: 'ClusterRole',
    metadata: { name: `cr-${i}`, labels: { [`aggregate-to-${i % 10}`]: 'true' } },
    rules: rules(i),
  };
  // A few aggregated roles, like admin/edit/view.
  return i < 10
    ? { ...base, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [`aggregate-to-${i}`]: 'true' } }] } }
    : base;
}

function role(namespace, name) {
  return { kind: 'Role', metadata: { name, namespace }, rules: rules(name.length) };
}

/**
 * 5% ClusterRoleBindings. Subjects: half service accounts (a random one of any namespace), 30% users
 * (2,000 of them: ~3 bindings each), 20% groups (200: ~20 bindings each).
 */
function binding(i, namespaceCount, rng) {
  const namespace = `ns-${Math.floor(rng() * namespaceCount)}`;
  const pick = rng();
  const subject =
    pick < 0.5
      ? { kind: 'ServiceAccount', name: `sa-${Math.floor(rng() * 10)}`, namespace }
      : pick < 0.8
        ? { kind: 'User', name: `user-${Math.floor(rng() * USERS)}@example.com` }
        : { kind: 'Group', name: `team-${Math.floor(rng() * GROUPS)}` };
  if (i % 20 === 0) {
    return {
      kind: 'ClusterRoleBinding',
      metadata: { name: `crb-${i}` },
      roleRef: { kind: 'ClusterRole', name: `cr-${i % CLUSTER_ROLES}` },
      subjects: [subject],
    };
  }
  const roleRef =
    i % 3 === 0 ? { kind: 'Role', name: `role-${i % 3}` } : { kind: 'ClusterRole', name: `cr-${i % CLUSTER_ROLES}` };
  return { kind: 'RoleBinding', metadata: { name: `rb-${i}`, namespace }, roleRef, subjects: [subject] };
}

function networkPolicy(i, namespace) {
  if (i % 4 === 0)
    return {
      kind: 'NetworkPolicy',
      metadata: { name: `deny-${i}`, namespace },
      spec: { podSelector: {}, policyTypes: ['Ingress'] },
    };
  return {
    kind: 'NetworkPolicy',
    metadata: { name: `np-${i}`, namespace },
    spec: {
      podSelector: { matchLabels: { app: `app-${i % 40}` } },
      ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 8080 }] }],
    },
  };
}

/** A realistic pod as the apiserver returns it (env, mounts, resources, status), trimmed on the way in. */
function pod(i, namespace) {
  const privileged = i % 10 === 0;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `pod-${i}`,
      namespace,
      uid: `uid-${i}`,
      resourceVersion: String(1000 + i),
      labels: { app: `app-${i % 40}`, 'pod-template-hash': 'abc123', tier: i % 2 ? 'web' : 'worker' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2025-11-10T12:00:00Z' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `app-${i % 40}-abc123`, uid: 'rs', controller: true }],
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', fieldsV1: { 'f:metadata': {} } }],
    },
    spec: {
      serviceAccountName: `sa-${i % 10}`,
      nodeName: `node-${i % 200}`,
      hostNetwork: i % 50 === 0,
      securityContext: i % 3 === 0 ? { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } } : {},
      containers: [
        {
          name: 'app',
          image: `registry.example.com/app-${i % 40}:1.2.3`,
          env: [
            { name: 'MODE', value: 'production' },
            { name: 'DB_URL', value: 'postgres://db:5432/app' },
          ],
          ports: [{ containerPort: 8080 }],
          resources: { limits: { cpu: '500m', memory: '256Mi' } },
          volumeMounts: [{ name: 'cfg', mountPath: '/etc/app' }],
          securityContext: privileged
            ? { privileged: true, capabilities: { add: ['SYS_ADMIN'] } }
            : { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        },
      ],
      volumes: [
        { name: 'cfg', configMap: { name: 'app' } },
        ...(i % 25 === 0 ? [{ name: 'host', hostPath: { path: '/var/run' } }] : []),
      ],
    },
    status: { phase: 'Running', podIP: '10.244.0.1', conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

function mulberry32(seed) {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The synthetic cluster is shared with bench/posture.js.
module.exports = {
  namespace,
  serviceAccount,
  clusterRole,
  role,
  binding,
  networkPolicy,
  pod,
  mulberry32,
  BINDINGS,
  CLUSTER_ROLES,
};

if (require.main === module) {
  if (process.argv[2] === '--one') {
    runOne(Number(process.argv[3]), Number(process.argv[4])).catch((err) => {
      console.error(err);
      process.exit(1);
    });
  } else {
    const sizes = (process.argv[2] || '1000,10000,50000').split(',').map(Number);
    const alerts = process.argv[3] || '20000';
    console.log(
      `enrichment benchmark, Node ${process.version}: ${BINDINGS} bindings, ${POLICIES} NetworkPolicies, ${CLUSTER_ROLES} ClusterRoles per cluster`,
    );
    console.log(
      'pods    | namespaces | build ms | state heap MB | peak RSS MB | runtime µs median/p99 (cold · warm) | audit exec µs median/p99 (warm)',
    );
    for (const pods of sizes) {
      const child = spawnSync(process.execPath, ['--expose-gc', __filename, '--one', String(pods), alerts], {
        encoding: 'utf8',
        env: process.env,
      });
      if (child.status !== 0) {
        process.stderr.write(child.stderr);
        process.exit(child.status ?? 1);
      }
      process.stdout.write(child.stdout);
    }
  }
}
