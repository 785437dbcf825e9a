'use strict';
/**
 * Event-loop delay under hostile cluster state. Per scenario, in a fresh process: Falconer (embedded,
 * in-process) receives over HTTP N ClusterRoles that aggregate each other, a binding of one of them to
 * the user who created them, and an exec by that user; meanwhile /healthz is asked every 5 ms. Reported:
 * the event-loop delay p99 and max (perf_hooks.monitorEventLoopDelay), the slowest /healthz round trip,
 * and the time until the exec alert was listed. A process still frozen after the time limit is killed
 * and reported as such.
 * Run after `npm run build`: node bench/hostile.js [limitSeconds=30]
 * (FALCONER_DIST points at another build output, default ../dist.)
 */
const { fork } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');
const { monitorEventLoopDelay } = require('node:perf_hooks');

const dist = resolve(process.env.FALCONER_DIST || join(__dirname, '..', 'dist'));
const TOKEN = 'bench-token-0123456789';
const SCENARIOS = [
  { name: '10 roles, one shared selector', roles: 10, selectors: 'shared' },
  { name: '11 roles, one shared selector', roles: 11, selectors: 'shared' },
  { name: '1000 roles, one shared selector', roles: 1000, selectors: 'shared' },
  { name: '1000 roles, 1000 distinct selectors', roles: 1000, selectors: 'distinct' },
];

async function child(scenario) {
  const pino = require(require.resolve('pino', { paths: [dist, __dirname] }));
  const { startFalconer } = require(join(dist, 'app'));
  const { validateConfig } = require(join(dist, 'config/load'));
  const config = validateConfig({
    server: { host: '127.0.0.1', port: 0 },
    ingest: { token: TOKEN },
    receivers: [{ type: 'console', name: 'quiet', minPriority: 'emergency' }],
    enrichment: { waitForStateMs: 0 },
    dataDir: scenario.dataDir,
    log: { level: 'silent' },
  });
  const f = await startFalconer(config, { logger: pino({ level: 'silent' }) });
  const url = `http://127.0.0.1:${f.port}`;
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  const audit = (items) =>
    fetch(`${url}/v1/events/audit`, { method: 'POST', headers, body: JSON.stringify({ kind: 'EventList', items }) }).then(
      (r) => r.status,
    );

  const newest = async (match) => {
    for (;;) {
      const list = await fetch(`${url}/v1/alerts?limit=5`, { headers }).then((r) => r.json());
      const found = list.alerts.find(match);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  // Warm up (first requests compile routes and rules), then measure.
  await fetch(`${url}/healthz`).then((r) => r.text());
  await audit([execEvent('warm-up')]);
  const delay = monitorEventLoopDelay({ resolution: 5 });
  let slowestHealthz = 0;
  let probing = true;
  const probe = (async () => {
    while (probing) {
      const t = performance.now();
      await fetch(`${url}/healthz`).then((r) => r.text());
      slowestHealthz = Math.max(slowestHealthz, performance.now() - t);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  delay.enable();
  const started = performance.now();

  await audit([roleBinding()]);
  for (let i = 0; i < scenario.roles; i += 100) {
    const items = [];
    for (let k = i; k < Math.min(scenario.roles, i + 100); k++) items.push(clusterRole(k, scenario.selectors));
    await audit(items);
  }
  // Events of different pods run side by side: let the last role land before the exec is sent.
  await newest((a) => a.rule === 'K8s ClusterRole Created' && a.event.audit.objectRef.name === `mesh-${scenario.roles - 1}`);
  await audit([execEvent('hostile-exec')]);
  const exec = await newest((a) => a.rule === 'Attach/Exec Pod' && a.event.audit.auditID === 'hostile-exec');
  if (!exec.enrichment.subject?.known) throw new Error('exec alert without subject enrichment');
  const totalMs = performance.now() - started;
  delay.disable();
  probing = false;
  await probe;
  process.send({
    p99: delay.percentile(99) / 1e6,
    max: delay.max / 1e6,
    slowestHealthz,
    totalMs,
  });
  await f.stop();
}

function clusterRole(i, selectors) {
  const object = {
    kind: 'ClusterRole',
    apiVersion: 'rbac.authorization.k8s.io/v1',
    metadata: { name: `mesh-${i}`, labels: { mesh: 'true', [`own-${i}`]: 'x' } },
    aggregationRule: {
      clusterRoleSelectors: [
        selectors === 'shared'
          ? { matchLabels: { mesh: 'true' } }
          : { matchLabels: { mesh: 'true' }, matchExpressions: [{ key: `never-${i}`, operator: 'DoesNotExist' }] },
      ],
    },
    rules: [{ verbs: ['get'], apiGroups: [''], resources: [`thing-${i}`] }],
  };
  return auditWrite(`role-${i}`, 'clusterroles', `mesh-${i}`, object);
}

function roleBinding() {
  return auditWrite('binding', 'clusterrolebindings', 'mesh-binding', {
    kind: 'ClusterRoleBinding',
    apiVersion: 'rbac.authorization.k8s.io/v1',
    metadata: { name: 'mesh-binding' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'mesh-0' },
    subjects: [{ kind: 'User', name: 'mallory' }],
  });
}

function auditWrite(id, resource, name, object) {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: `hostile-${id}`,
    stage: 'ResponseComplete',
    requestURI: `/apis/rbac.authorization.k8s.io/v1/${resource}`,
    verb: 'create',
    user: { username: 'mallory', groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.9'],
    objectRef: { resource, name, apiGroup: 'rbac.authorization.k8s.io', apiVersion: 'v1' },
    responseStatus: { code: 201 },
    requestObject: object,
    responseObject: object,
    requestReceivedTimestamp: '2025-11-10T12:50:59.402118Z',
    stageTimestamp: '2025-11-10T12:50:59.431907Z',
  };
}

function execEvent(auditID) {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID,
    stage: 'ResponseStarted',
    requestURI: '/api/v1/namespaces/shop/pods/web-1/exec?command=sh&container=web&stdin=true&tty=true',
    verb: 'get',
    user: { username: 'mallory', groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.9'],
    objectRef: { resource: 'pods', subresource: 'exec', namespace: 'shop', name: 'web-1', apiVersion: 'v1' },
    responseStatus: { code: 101 },
    requestReceivedTimestamp: '2025-11-10T12:51:00.402118Z',
    stageTimestamp: '2025-11-10T12:51:00.431907Z',
  };
}

async function runScenario(scenario, limitSeconds) {
  // Embedded mode as deployed (durable), in a fresh data directory per scenario.
  const dataDir = mkdtempSync(join(tmpdir(), 'falconer-hostile-'));
  try {
    return await runIn({ ...scenario, dataDir }, limitSeconds);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function runIn(scenario, limitSeconds) {
  return new Promise((resolveResult) => {
    const proc = fork(__filename, ['child', JSON.stringify(scenario)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      resolveResult({ frozen: true });
    }, limitSeconds * 1000);
    proc.once('message', (m) => {
      clearTimeout(timer);
      proc.kill('SIGKILL');
      resolveResult(m);
    });
    proc.once('exit', () => {
      clearTimeout(timer);
      resolveResult({ failed: true });
    });
  });
}

async function main() {
  const limitSeconds = Number(process.argv[2] || 30);
  console.log(`hostile ClusterRole aggregation (${dist})`);
  console.log('scenario                             | loop delay p99 | loop delay max | slowest /healthz | exec alerted after');
  for (const scenario of SCENARIOS) {
    const r = await runScenario(scenario, limitSeconds);
    const cells = r.frozen
      ? [`frozen: killed after ${limitSeconds} s`]
      : r.failed
        ? ['failed']
        : [
            `${r.p99.toFixed(1)} ms`.padStart(14),
            `${r.max.toFixed(1)} ms`.padStart(14),
            `${r.slowestHealthz.toFixed(1)} ms`.padStart(16),
            `${r.totalMs.toFixed(0)} ms`.padStart(18),
          ];
    console.log([scenario.name.padEnd(36), ...cells].join(' | '));
  }
}

if (process.argv[2] === 'child') {
  child(JSON.parse(process.argv[3])).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
