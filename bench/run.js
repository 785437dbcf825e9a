'use strict';
// `npm run bench`: Falconer's ingest path against a bare node:http parse-and-answer baseline, in the
// same invocation, so the ratios compare across noisy machines. Bounded in time; loopback only.
const { fork } = require('node:child_process');
const { readFileSync } = require('node:fs');
const { resolve } = require('node:path');
const autocannon = require('autocannon');

const DURATION = Number(process.env.BENCH_SECONDS || 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 50);
/** The fixed request rate at which the durability scenarios compare CPU per event. */
const RATE = Number(process.env.BENCH_RATE || 1000);
const SAMPLES = resolve(__dirname, 'fixtures');

function startServer(mode) {
  return new Promise((resolvePort, reject) => {
    const child = fork(resolve(__dirname, 'server.js'), [mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (m) => resolvePort({ child, port: m.port }));
    child.once('error', reject);
    child.once('exit', (code) => code && reject(new Error(`${mode} server exited with ${code}`)));
  });
}

function ask(child, msg) {
  return new Promise((r) => {
    child.once('message', r);
    child.send(msg);
  });
}

/** `body` is a string, or a function of the request number for distinct events. */
async function load(port, path, body, eventsPerRequest, extra = {}) {
  let n = 0;
  const result = await autocannon({
    ...extra,
    url: `http://127.0.0.1:${port}${path}`,
    method: 'POST',
    connections: CONNECTIONS,
    pipelining: 1,
    duration: DURATION,
    headers: { 'content-type': 'application/json', authorization: 'Bearer bench-token-0123456789' },
    ...(typeof body === 'function' ? { requests: [{ setupRequest: (req) => ({ ...req, body: body(n++) }) }] } : { body }),
  });
  const ok = result['2xx'];
  return {
    requestsPerSec: ok / DURATION,
    eventsPerSec: (ok * eventsPerRequest) / DURATION,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx + result.errors,
    ok,
  };
}

/** `extra`: more autocannon options (`overallRate` for a fixed request rate). */
async function scenario(mode, path, body, eventsPerRequest, extra = {}) {
  const { child, port } = await startServer(mode);
  try {
    await load(port, path, body, eventsPerRequest, extra).catch(() => undefined); // warm-up, discarded
    await ask(child, 'cpu-reset');
    const r = await load(port, path, body, eventsPerRequest, extra);
    const { cpuMicros, rss, commits } = await ask(child, 'cpu');
    return { ...r, cpuMicrosPerEvent: cpuMicros / Math.max(1, r.ok * eventsPerRequest), rssMB: rss / 2 ** 20, commits };
  } finally {
    child.kill('SIGKILL'); // not a graceful stop: that would first drain whatever the run left queued
  }
}

function row(name, r, base) {
  const ratio = base ? ` ${((r.eventsPerSec / base.eventsPerSec) * 100).toFixed(0).padStart(4)}%` : '     ';
  console.log(
    `${name.padEnd(38)} ${r.requestsPerSec.toFixed(0).padStart(7)} req/s ${r.eventsPerSec.toFixed(0).padStart(8)} ev/s${ratio}  p50 ${String(r.p50).padStart(3)} ms  p99 ${String(r.p99).padStart(3)} ms  ${r.cpuMicrosPerEvent.toFixed(1).padStart(6)} µs CPU/ev  rss ${r.rssMB.toFixed(0)} MB  errors ${r.non2xx}`,
  );
}

async function main() {
  const falco = readFileSync(resolve(SAMPLES, '..', '..', '..', 'shared', 'samples', 'falco-terminal-shell.json'), 'utf8');
  const list = JSON.parse(readFileSync(resolve(SAMPLES, '..', '..', '..', 'shared', 'samples', 'audit-eventlist.json'), 'utf8'));
  const items = [];
  for (let i = 0; items.length < 100; i++)
    for (const item of list.items)
      items.push({ ...item, auditID: `@@-${item.auditID.slice(0, 30)}${String(i).padStart(6, '0')}` });
  const audit = JSON.stringify({ ...list, items: items.slice(0, 100) });
  // What an apiserver mostly sends: controllers reading and updating things no rule cares about, with a
  // few events that alert (one in ten here).
  const benign = (i) => ({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: `@@-00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/kube-system/configmaps/cm-${i % 50}`,
    verb: i % 3 ? 'get' : 'update',
    user: {
      username: 'system:serviceaccount:kube-system:controller',
      groups: ['system:serviceaccounts', 'system:authenticated'],
    },
    sourceIPs: ['10.0.0.2'],
    userAgent: 'kube-controller-manager/v1.33.1',
    objectRef: { resource: 'configmaps', namespace: 'kube-system', name: `cm-${i % 50}`, apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: '2025-11-10T12:50:59.402118Z',
    stageTimestamp: '2025-11-10T12:50:59.431907Z',
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
  });
  const mixed = JSON.stringify({
    ...list,
    items: Array.from({ length: 100 }, (_, i) => (i % 10 === 0 ? items[i / 10] : benign(i))),
  });

  // Falconer answers a repeated id as a duplicate without processing it: every request gets ids of
  // its own (`@@` in the audit batches), or the bench would measure the wrong path.
  const distinct = (text) => {
    const parts = text.split('@@');
    return (i) => parts.join(`${process.pid}-${i}`);
  };
  const falcoDoc = JSON.parse(falco);
  // Distinct Falco events (a new uuid each, over 100 pods): every one is processed, none is a retry.
  const distinctFalco = (i) =>
    JSON.stringify({
      ...falcoDoc,
      uuid: `bench-${process.pid}-${i}`,
      output_fields: { ...falcoDoc.output_fields, 'k8s.pod.name': `web-${i % 100}` },
    });
  if (process.env.BENCH_ONLY === 'durable') return durability(distinctFalco);
  console.log(`ingest benchmark: ${CONNECTIONS} keep-alive connections, ${DURATION} s per scenario, Node ${process.version}`);
  console.log(
    `Falco event ${falco.length} bytes; audit EventList of 100 events ${audit.length} bytes (every event alerts), mixed ${mixed.length} bytes\n`,
  );
  const bareFalco = await scenario('bare', '/', falco, 1);
  row('baseline node:http, Falco event', bareFalco);
  row('falconer POST /v1/events/falco', await scenario('falconer', '/v1/events/falco', distinctFalco, 1), bareFalco);
  const bareAudit = await scenario('bare', '/', audit, 100);
  row('baseline node:http, EventList(100)', bareAudit);
  row('falconer POST /v1/events/audit', await scenario('falconer', '/v1/events/audit', distinct(audit), 100), bareAudit);
  const bareMixed = await scenario('bare', '/', mixed, 100);
  row('baseline node:http, mixed EventList', bareMixed);
  row('falconer audit, 1 in 10 alerting', await scenario('falconer', '/v1/events/audit', distinct(mixed), 100), bareMixed);
  console.log('');
  await durability(distinctFalco);
}

/** Embedded mode memory-only against the same with a data dir, on distinct Falco events. */
async function durability(distinctFalco) {
  console.log(`embedded durability: distinct Falco events, ${CONNECTIONS} connections, ${DURATION} s per scenario`);
  const bare = await scenario('bare', '/', distinctFalco, 1);
  row('baseline node:http, distinct Falco', bare);
  row('falconer memory-only, distinct Falco', await scenario('falconer', '/v1/events/falco', distinctFalco, 1), bare);
  const durable = await scenario('falconer-durable', '/v1/events/falco', distinctFalco, 1);
  row('falconer data dir, distinct Falco', durable, bare);
  commits(durable.commits);
  // CPU per event depends on the rate (fixed costs spread over fewer events): compare at one rate.
  const fixed = { overallRate: RATE };
  row(`falconer memory-only, ${RATE} req/s`, await scenario('falconer', '/v1/events/falco', distinctFalco, 1, fixed), bare);
  const durableFixed = await scenario('falconer-durable', '/v1/events/falco', distinctFalco, 1, fixed);
  row(`falconer data dir, ${RATE} req/s`, durableFixed, bare);
  commits(durableFixed.commits);
}

function commits(c) {
  if (!c) return;
  console.log(
    `  group commits: ${(c.commits / DURATION).toFixed(0)}/s, on average ${c.eventsPerCommit.toFixed(1)} events and ${c.writesPerCommit.toFixed(1)} writes (journal + state) per commit; largest ${c.largestCommit} writes`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
