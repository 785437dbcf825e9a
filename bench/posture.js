'use strict';
/**
 * A posture run (RBAC audit, Pod Security coverage, network coverage, summary) over a synthetic cluster
 * of 50k pods, 20k bindings and 5k NetworkPolicies (the generator of bench/enrich.js), in a fresh process:
 * the time to build the report, the peak RSS, and one `netpol peers` answer. Bars: under 10 s and 1 GB.
 * Run after `npm run build`: node bench/posture.js [pods=50000] [policies=5000]
 * (FALCONER_DIST points at another build output, default ../dist.)
 */
const { spawnSync } = require('node:child_process');
const { join, resolve } = require('node:path');
const gen = require('./enrich');

const dist = resolve(process.env.FALCONER_DIST || join(__dirname, '..', 'dist'));
const BUDGET_MS = 10_000;
const BUDGET_MB = 1024;

function runOne(podCount, policyCount) {
  const { ClusterState } = require(join(dist, 'enrich/cluster-state/state'));
  const { buildPosture, allFindings } = require(join(dist, 'posture/report'));
  const { Connectivity } = require(join(dist, 'posture/network'));
  const namespaceCount = Math.max(20, Math.round(podCount / 100));
  const ns = (i) => `ns-${i % namespaceCount}`;
  const rng = gen.mulberry32(42);
  const state = new ClusterState('bench');
  const started = process.hrtime.bigint();
  for (let i = 0; i < namespaceCount; i++) state.upsert(gen.namespace(i));
  for (let i = 0; i < namespaceCount * 10; i++) state.upsert(gen.serviceAccount(ns(i), `sa-${Math.floor(i / namespaceCount)}`));
  for (let i = 0; i < gen.CLUSTER_ROLES; i++) state.upsert(gen.clusterRole(i));
  for (let i = 0; i < namespaceCount * 3; i++) state.upsert(gen.role(ns(i), `role-${Math.floor(i / namespaceCount)}`));
  for (let i = 0; i < gen.BINDINGS; i++) state.upsert(gen.binding(i, namespaceCount, rng));
  for (let i = 0; i < policyCount; i++) state.upsert(gen.networkPolicy(i, ns(i)));
  for (let i = 0; i < podCount; i++) state.upsert(gen.pod(i, ns(i)));
  const loadMs = Number(process.hrtime.bigint() - started) / 1e6;

  const t0 = process.hrtime.bigint();
  const report = buildPosture(state, { now: Date.now() });
  const postureMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const findings = allFindings(report).length;

  const t1 = process.hrtime.bigint();
  const peers = new Connectivity(state).podPeers('ns-7', 'pod-7');
  const peersMs = Number(process.hrtime.bigint() - t1) / 1e6;

  const rssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(
    JSON.stringify({
      pods: podCount,
      namespaces: namespaceCount,
      policies: policyCount,
      loadMs,
      postureMs,
      findings,
      peersMs,
      peerLines: peers.ingress.peers.length + peers.egress.peers.length,
      rssMb,
      scores: report.summary.scores,
    }),
  );
}

if (process.argv[2] === '--one') {
  runOne(Number(process.argv[3]), Number(process.argv[4]));
} else {
  const pods = Number(process.argv[2] || 50_000);
  const policies = Number(process.argv[3] || 5_000);
  const child = spawnSync(process.execPath, [__filename, '--one', String(pods), String(policies)], {
    encoding: 'utf8',
    env: process.env,
  });
  if (child.status !== 0) {
    console.error(child.stderr);
    process.exit(1);
  }
  const r = JSON.parse(child.stdout);
  const ok = r.postureMs < BUDGET_MS && r.rssMb < BUDGET_MB;
  console.log(
    `posture benchmark, Node ${process.version}: ${r.pods} pods, ${gen.BINDINGS} bindings, ${r.policies} NetworkPolicies, ${r.namespaces} namespaces`,
  );
  console.log(
    `  state load ${r.loadMs.toFixed(0)} ms; posture report ${r.postureMs.toFixed(0)} ms (${r.findings} findings); peak RSS ${r.rssMb.toFixed(0)} MB`,
  );
  console.log(`  netpol peers of one pod ${r.peersMs.toFixed(0)} ms (${r.peerLines} lines)`);
  console.log(
    `  scores ${Object.entries(r.scores)
      .map(([a, s]) => `${a} ${s.score}`)
      .join(', ')}`,
  );
  console.log(`  ${ok ? 'within' : 'OVER'} the bar of ${BUDGET_MS / 1000} s and ${BUDGET_MB} MB`);
  if (!ok) process.exitCode = 1;
}
