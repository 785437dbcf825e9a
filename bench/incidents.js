'use strict';
/**
 * The incident tracker alone, in embedded mode (a memory store, exclusive): `IncidentTracker.add` and
 * `incidentRef` per alert, as the correlate stage calls them, on alerts shaped like bench/pipeline.js's
 * (500 pods, or BENCH_INCIDENT_PODS; bench/events.js's twelve Falco rules, a fifth repeats of one of
 * the last 200 activities, no sessions, so every incident is one pod's and reaches its 50-member
 * cap), the built-in chains.
 * 30k alerts first (incidents at their cap), then the measured ones. Each round runs each build in a
 * fresh child process, interleaved; µs CPU per alert and the heap left per alert (after a full GC).
 * Run after `npm run build`: node bench/incidents.js [alerts=20000] [rounds=5]
 * (BENCH_COMPARE_DIST=<build before>: also that one; its rules/ beside it. BENCH_INCIDENTS_DATADIR=1:
 * the store of a data dir instead, a turn of the event loop every 16 alerts so its group commits
 * write out what changed, the database worker's CPU included.)
 */
const { fork } = require('node:child_process');
const { createHash } = require('node:crypto');
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');

/** How many pods the alerts spread over: what the tracker touches per alert grows with it, the work does not. */
const PODS = Number(process.env.BENCH_INCIDENT_PODS || 500);

const RULES = [
  ['Terminal shell in container', 'notice'],
  ['Read sensitive file untrusted', 'warning'],
  ['Drop and execute new binary in container', 'critical'],
  ['Contact K8S API Server From Container', 'notice'],
  ['Packet socket created in container', 'notice'],
  ['Netcat Remote Code Execution in Container', 'warning'],
  ['Search Private Keys or Passwords', 'warning'],
  ['Clear Log Activities', 'warning'],
  ['Directory traversal monitored file read', 'warning'],
  ['Run shell untrusted', 'notice'],
  ['Debugfs Launched in Privileged Container', 'warning'],
  ['Fileless execution via memfd_create', 'critical'],
];
const TAGS = ['T1059', 'container', 'maturity_stable', 'mitre_execution', 'shell'];

/** Alerts as the correlate stage hands them to the tracker (`FactSource`), deterministic. */
function alerts() {
  let seed = 1;
  const rng = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const recent = [];
  let activities = 0;
  let i = 0;
  const t0 = Date.now() - 3_600_000;
  return () => {
    i++;
    let a;
    if (recent.length && rng() < 0.2) a = recent[Math.floor(rng() * recent.length)];
    else {
      const [rule, priority] = RULES[Math.floor(rng() * RULES.length)];
      const k = Math.floor(rng() * PODS);
      const fp = createHash('sha256').update(`${rule}\0${k}\0${activities++}`).digest('hex').slice(0, 24);
      const ns = `ns-${k % 20}`;
      const pod = `pod-${k}`;
      const container = `app-${k % 3}`;
      const summary = `${priority} ${rule} | process=bash command=bash --run ${fp} k8s_pod_name=${pod} k8s_ns_name=${ns}`;
      a = { rule, ruleId: rule.toLowerCase().replace(/[^a-z0-9]+/g, '-'), priority, ns, pod, container, fp, summary };
      recent.push(a);
      if (recent.length > 200) recent.shift();
    }
    const ms = t0 + i;
    return {
      fingerprint: a.fp,
      rule: a.rule,
      ruleId: a.ruleId,
      priority: a.priority,
      tags: TAGS,
      summary: a.summary.slice(0, 160),
      event: {
        id: `e${i}`,
        source: 'falco',
        time: new Date(ms).toISOString(),
        timeNs: `${ms}000000`,
        k8s: { cluster: 'bench', namespace: a.ns, pod: a.pod, container: a.container },
        raw: {},
      },
      enrichment: {},
    };
  };
}

async function child(dist, n, dataDir) {
  const { IncidentTracker, loadChains } = require(join(dist, 'correlate'));
  const { incidentRef } = require(join(dist, 'correlate/incidents'));
  const { MemoryStateStore } = require(join(dist, 'store/memory'));
  const { systemClock } = require(join(dist, 'core/clock'));
  const chains = loadChains([join(dist, '..', 'rules', 'chains')]);
  let dir;
  if (dataDir) {
    const { DataDir } = require(join(dist, 'store/data-dir'));
    dir = await DataDir.open(mkdtempSync(join(tmpdir(), 'falconer-incidents-')), Date.now());
  }
  const { DurableStateStore } = require(join(dist, 'store/durable'));
  const store = dir ? new DurableStateStore(systemClock, dir) : new MemoryStateStore(systemClock);
  const turn = () => new Promise((r) => setImmediate(r));
  const tracker = new IncidentTracker(store, {
    windowMs: 1_800_000,
    maxAlerts: 50,
    recent: 1000,
    chains,
    exclusiveStore: true,
  });
  const next = alerts();
  const run = async (count) => {
    const batch = Array.from({ length: count }, next);
    global.gc();
    const start = process.cpuUsage();
    for (const [i, alert] of batch.entries()) {
      if (dir && i % 16 === 0) await turn();
      const added = tracker.add(alert);
      // A key written again goes through the store's `set` (once per slack of its TTL): awaited, as the pipeline does.
      incidentRef((added instanceof Promise ? await added : added).incident);
    }
    const used = process.cpuUsage(start);
    return (used.user + used.system) / count;
  };
  global.gc();
  const started = process.memoryUsage().heapUsed;
  await run(30_000);
  const cpu = await run(n);
  global.gc();
  if (dir) await dir.close();
  return { cpu, heapPerAlert: (process.memoryUsage().heapUsed - started) / (30_000 + n) };
}

async function main() {
  const n = Number(process.argv[2] || 20000);
  const rounds = Number(process.argv[3] || 5);
  const builds = [['this build', resolve(process.env.FALCONER_DIST || join(__dirname, '..', 'dist'))]];
  if (process.env.BENCH_COMPARE_DIST) builds.push(['before', resolve(process.env.BENCH_COMPARE_DIST)]);
  const results = new Map(builds.map(([name]) => [name, []]));
  for (let r = 0; r < rounds; r++)
    for (const [name, dist] of builds) {
      const m = await new Promise((res, rej) => {
        const p = fork(__filename, [], {
          env: { ...process.env, BENCH_INCIDENTS_CHILD: JSON.stringify({ dist, n }) },
          execArgv: ['--expose-gc'],
        });
        p.once('message', res);
        p.once('exit', (code) => code && rej(new Error(`child exited with ${code}`)));
      });
      results.get(name).push(m);
      console.log(
        `  round ${r + 1} ${name.padEnd(10)} ${m.cpu.toFixed(2)} µs CPU/alert, heap ${m.heapPerAlert.toFixed(0)} B/alert`,
      );
    }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const before = results.get('before');
  console.log(`\nmedian of ${rounds} rounds, ${n} alerts each`);
  for (const [name, ms] of results) {
    const ratios = before && name === 'this build' ? ms.map((m, i) => m.cpu / before[i].cpu).sort((a, b) => a - b) : undefined;
    console.log(
      `${name.padEnd(10)} ${median(ms.map((m) => m.cpu)).toFixed(2)} µs CPU/alert, heap ${median(ms.map((m) => m.heapPerAlert)).toFixed(0)} B/alert` +
        (ratios ? `  ×${median(ratios).toFixed(2)} of before (rounds ${ratios.map((x) => x.toFixed(2)).join(', ')})` : ''),
    );
  }
}

if (process.env.BENCH_INCIDENTS_CHILD) {
  const { dist, n } = JSON.parse(process.env.BENCH_INCIDENTS_CHILD);
  child(dist, n, process.env.BENCH_INCIDENTS_DATADIR === '1').then(
    (r) => process.send(r, () => process.exit(0)),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
