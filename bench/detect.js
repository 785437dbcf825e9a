'use strict';
/**
 * Detection throughput: audit events/s through the built-in pack, against JSON.parse of the same
 * events (the baseline, same run), then with the pack replicated 10× onto other resources.
 * Run after `npm run build`: node bench/detect.js [events=20000]
 * (FALCONER_DIST points at another build output, default ../dist.)
 */
const { join, resolve } = require('node:path');
const dist = resolve(process.env.FALCONER_DIST || join(__dirname, '..', 'dist'));
const { BUILTIN_RULES_DIR, RuleEngine } = require(join(dist, 'detect/engine'));
const { mergeRuleSources, readRuleSources } = require(join(dist, 'detect/rules/load'));
const { buildRuleSet } = require(join(dist, 'detect/rules/ruleset'));
const { normaliseAudit } = require(join(dist, 'ingest/audit'));

const N = Number(process.argv[2] || 20000);

/** A plausible mix: mostly reads and watches by controllers, some writes, a few sessions and pods. */
function syntheticEvent(i) {
  const t = '2025-11-10T12:00:00.000000Z';
  const base = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: `bench-${i}`,
    stage: 'ResponseComplete',
    user: {
      username: i % 3 ? 'system:serviceaccount:kube-system:replicaset-controller' : 'alice@example.com',
      groups: ['system:authenticated'],
    },
    sourceIPs: ['10.0.0.12'],
    userAgent: 'kube-controller-manager/v1.33.1',
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: t,
    stageTimestamp: t,
    annotations: {
      'authorization.k8s.io/decision': 'allow',
      'authorization.k8s.io/reason': 'RBAC: allowed by ClusterRoleBinding "system:controller:replicaset-controller"',
    },
  };
  const kinds = [
    'pods',
    'configmaps',
    'secrets',
    'deployments',
    'services',
    'endpoints',
    'leases',
    'events',
    'nodes',
    'replicasets',
  ];
  const resource = kinds[i % kinds.length];
  const verb = ['get', 'list', 'watch', 'update', 'patch', 'get', 'create', 'delete'][i % 8];
  const e = {
    ...base,
    verb,
    requestURI: `/api/v1/namespaces/shop/${resource}/obj-${i % 50}`,
    objectRef: { resource, namespace: 'shop', name: `obj-${i % 50}`, apiVersion: 'v1' },
  };
  if (i % 97 === 0) {
    Object.assign(e, {
      stage: 'ResponseStarted',
      verb: 'get',
      requestURI: '/api/v1/namespaces/shop/pods/web/exec?command=sh&container=app&tty=true',
      objectRef: { resource: 'pods', namespace: 'shop', name: 'web', subresource: 'exec' },
      responseStatus: { code: 101 },
    });
  } else if (resource === 'pods' && verb === 'create') {
    Object.assign(e, {
      level: 'RequestResponse',
      requestObject: {
        kind: 'Pod',
        metadata: { name: `p-${i}`, labels: { app: 'web' } },
        spec: {
          serviceAccountName: 'web',
          containers: [
            {
              name: 'app',
              image: 'registry.example.com/shop/web:1.2.3',
              ports: [{ containerPort: 8080 }],
              resources: { limits: { cpu: '500m', memory: '256Mi' } },
              securityContext: { privileged: i % 2 === 0, runAsNonRoot: true },
            },
          ],
          volumes: [{ name: 'cfg', configMap: { name: 'web' } }],
        },
      },
    });
  }
  return JSON.stringify(e);
}

function rate(fn, items) {
  const start = process.hrtime.bigint();
  for (let r = 0; r < 3; r++) for (const x of items) fn(x);
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  return (items.length * 3) / s;
}

/** The built-in definitions plus `copies - 1` renamed copies whose rules look at other resources. */
function replicated(copies) {
  const { definitions, problems } = mergeRuleSources(readRuleSources([BUILTIN_RULES_DIR]));
  if (problems.length) throw new Error(JSON.stringify(problems));
  for (const def of [...definitions.rules.values()]) {
    for (let k = 1; k < copies; k++) {
      const resources = def.match.resources.map((r) =>
        r === '*' ? `synthetic${k}` : `${r.split('/')[0]}${k}${r.includes('/') ? '/' + r.split('/')[1] : ''}`,
      );
      definitions.rules.set(`${def.id}-copy${k}`, { ...def, id: `${def.id}-copy${k}`, match: { ...def.match, resources } });
    }
  }
  const { ruleSet } = buildRuleSet(definitions);
  return ruleSet;
}

const texts = Array.from({ length: N }, (_, i) => syntheticEvent(i));
const ctx = { cluster: 'bench', receivedAt: 0, maxFieldLength: 16384 };
const events = texts.map((t) => normaliseAudit(JSON.parse(t), ctx));

const pack = replicated(1);
const pack10 = replicated(10);
const one = new RuleEngine(pack);
const ten = new RuleEngine(pack10);
for (const e of events.slice(0, 2000)) {
  one.detect(e);
  ten.detect(e);
} // warm-up
pack.evaluations = 0;

// Interleaved rounds, median of each: the machine is shared, so single runs are noisy.
const rounds = { parse: [], detect1: [], detect10: [] };
for (let r = 0; r < 5; r++) {
  rounds.parse.push(rate((t) => JSON.parse(t), texts));
  rounds.detect1.push(rate((e) => one.detect(e), events));
  rounds.detect10.push(rate((e) => ten.detect(e), events));
}
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const parse = median(rounds.parse);
const detect1 = median(rounds.detect1);
const detect10 = median(rounds.detect10);
const evalsPerEvent = pack.evaluations / (events.length * 3 * 5);
const bytes = texts.reduce((n, t) => n + t.length, 0) / texts.length;

const fmt = (n) => Math.round(n).toLocaleString('en-US');
console.log(`events: ${N} synthetic audit events, ${Math.round(bytes)} bytes on average`);
console.log(`JSON.parse baseline:             ${fmt(parse)} events/s`);
console.log(
  `detect, built-in pack (${pack.size} rules):  ${fmt(detect1)} events/s (${((detect1 / parse) * 100).toFixed(0)}% of baseline), ${evalsPerEvent.toFixed(2)} rule evaluations/event`,
);
console.log(
  `detect, pack ×10 (${pack10.size} rules):    ${fmt(detect10)} events/s (${((1 - detect10 / detect1) * 100).toFixed(1)}% drop)`,
);
