'use strict';
// `npm run bench`: Falconer's HTTP ingest against a bare node:http baseline (read, JSON.parse, 202) in
// the same invocation. Every server runs in its own child process for the whole run; rounds interleave
// baseline and subjects, and ratios are taken per round (subject / the baseline's load just before it),
// so a machine that gets busier or quieter mid-run moves both sides. Loopback only, bounded in time:
// BENCH_ROUNDS × BENCH_SECONDS per load (defaults 3 × 4 s; about four minutes in all).
// BENCH_ONLY=throughput,latency,scale picks parts. docs/development.md explains every column.
const { fork } = require('node:child_process');
const { resolve } = require('node:path');
const autocannon = require('autocannon');
const { falcoEvents, auditLists, REPEAT_SHARE } = require('./events');
const { pacedLoad, percentile } = require('./paced');

const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const SECONDS = Number(process.env.BENCH_SECONDS || 4);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 50);
/** The fixed request rate of the scale series (CPU per event depends on the rate: compare at one). */
const SCALE_RATE = Number(process.env.BENCH_SCALE_RATE || 500);
/** BENCH_SERVER_FLAGS="--flag …": node flags for every Falconer server (e.g. --trace-gc). */
const SERVER_FLAGS = (process.env.BENCH_SERVER_FLAGS || '').split(' ').filter(Boolean);
/**
 * BENCH_GC_BETWEEN_LOADS=1: a full GC after every load, as before (the heap column then is the max
 * after each). By default the servers are left alone between loads, so the old generation's GC falls
 * in the loads as it would on a server under steady load, and the heap after a full GC is taken
 * once, after the last round.
 */
const GC_BETWEEN_LOADS = process.env.BENCH_GC_BETWEEN_LOADS === '1';
const ONLY = new Set((process.env.BENCH_ONLY || 'throughput,latency,scale').split(','));

/**
 * BENCH_PREFILL=n: every memory-only full-path server takes n Falco events through its bus before the
 * first load (bench/server.js), so each load meets the state a server under steady load holds
 * rather than one that grows through the rounds (`full` has taken ~30k events by the third round).
 */
const PREFILL = Number(process.env.BENCH_PREFILL || 0);

function startServer(mode, opts = {}) {
  if (PREFILL && mode === 'falconer' && opts.path === 'full' && !opts.durable && !opts.fingerprints && !opts.pods)
    opts = { prefill: PREFILL, ...opts };
  return new Promise((resolvePort, reject) => {
    const child = fork(resolve(__dirname, 'server.js'), [mode, JSON.stringify(opts)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [
        '--expose-gc',
        '--max-old-space-size=2048',
        ...(mode === 'bare' ? [] : SERVER_FLAGS),
        ...(opts.nodeFlags ?? []),
        ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []),
      ],
    });
    child.once('message', (m) => resolvePort({ child, port: m.port, ask: (msg) => ask(child, msg) }));
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

async function stop(server) {
  // Not a graceful stop, which would first drain whatever the run left queued; a profiled server
  // exits on its own so --cpu-prof writes its profile.
  await new Promise((r) => {
    server.child.once('exit', r);
    if (process.env.BENCH_PROFILE) server.child.send('exit');
    else server.child.kill('SIGKILL');
  });
}

/**
 * One load: `workload.next(i)` gives a distinct body per request. `rate` fixes the request rate;
 * `paced` sends it open-loop, evenly spaced (bench/paced.js: the latency part), not autocannon's way.
 */
async function load(server, path, workload, seconds, rate, paced = false) {
  await server.ask('reset');
  let started = Date.now();
  const slow = [];
  const answered = [];
  const instance = paced
    ? pacedLoad({ port: server.port, path, headers: HEADERS, next: workload.next, rate, seconds, connections: CONNECTIONS })
    : autocannon({
        url: `http://127.0.0.1:${server.port}${path}`,
        method: 'POST',
        connections: CONNECTIONS,
        pipelining: 1,
        duration: seconds,
        ...(rate ? { overallRate: rate } : {}),
        headers: HEADERS,
        requests: [{ setupRequest: (req) => ({ ...req, body: workload.next() }) }],
      });
  if (process.env.BENCH_STALLS && !paced)
    instance.on('response', (_client, _status, _bytes, ms) => {
      answered.push(ms);
      if (ms > 30) slow.push([Date.now() - started - Math.round(ms), Math.round(ms)]);
    });
  const result = paced ? pacedResult(await instance) : await instance;
  const loadMs = Date.now() - started;
  if (paced) {
    started = result.startedAt;
    slow.push(...result.slow);
  }
  // The full path may still be working through its queue: CPU and time count until it is done.
  const s = await server.ask(GC_BETWEEN_LOADS ? 'drain' : 'drain-live');
  if (process.env.BENCH_STALLS) {
    const rel = (xs) => xs.map(([t, ...rest]) => [t - started, ...rest]);
    console.log(
      `    loop max ${s.loopDelayMaxMs?.toFixed(0)} ms; stalls >15 ms [start, ms]: ${JSON.stringify(rel(s.stalls ?? []))}`,
    );
    console.log(`    GC >5 ms [start, ms, kind]: ${JSON.stringify(rel(s.gcs ?? []))}`);
    if (answered.length) {
      answered.sort((a, b) => a - b);
      console.log(
        `    autocannon p99 ${result.latency.p99} ms; p99 of the answers themselves ${percentile(answered, 99).toFixed(0)} ms (${answered.length} answers)`,
      );
    }
    console.log(`    requests >30 ms [sent, ms] (${slow.length}): ${JSON.stringify(slow.slice(0, 60))}`);
  }
  const ok = result['2xx'];
  const events = ok * workload.eventsPerRequest;
  const wallSeconds = (loadMs + s.drainMs) / 1000;
  return {
    reqPerSec: ok / wallSeconds,
    eventsPerSec: events / wallSeconds,
    cpuPerEvent: s.cpuMicros / Math.max(1, events),
    userPerEvent: s.userMicros / Math.max(1, events),
    mainThreadPerEvent: s.mainThreadMicros / Math.max(1, events),
    p50: result.latency.p50,
    p99: result.latency.p99,
    loopP99: s.loopDelayP99Ms,
    heapMB: s.heapMB,
    // GC while the load ran and drained, µs per event: scavenges and mark-compacts (main thread pauses).
    scavengePerEvent: s.gc ? (s.gc.minor.ms * 1000) / Math.max(1, events) : 0,
    markCompactPerEvent: s.gc ? (s.gc.major.ms * 1000) / Math.max(1, events) : 0,
    markCompacts: s.gc?.major.count ?? 0,
    incrementalPerEvent: s.gc ? (s.gc.other.ms * 1000) / Math.max(1, events) : 0,
    events,
    drainMs: s.drainMs,
    errors: result.non2xx + result.errors + result.timeouts,
    commits: s.commits,
  };
}

const HEADERS = { 'content-type': 'application/json', authorization: 'Bearer bench-token-0123456789' };

/** bench/paced.js's answer in autocannon's shape (whole ms, as autocannon reports). */
function pacedResult(r) {
  const at = (p) => Math.round(percentile(r.latencies, p));
  return { ...r, '2xx': r.ok, non2xx: r.errors, errors: 0, timeouts: 0, latency: { p50: at(50), p99: at(99) } };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** Median and spread (max−min as a share of the median) of one measure over the rounds. */
const stat = (runs, key) => {
  const xs = runs.map((r) => r[key]);
  const m = median(xs);
  return { median: m, spread: m ? (Math.max(...xs) - Math.min(...xs)) / m : 0 };
};

function workloads() {
  const falco = falcoEvents({ pods: 500 });
  const audit100 = auditLists({ size: 100 });
  const audit400 = auditLists({ size: 400, seed: 3 });
  return {
    falco: { name: 'Falco event', path: '/v1/events/falco', next: falco, eventsPerRequest: 1 },
    audit100: { name: 'EventList(100)', path: '/v1/events/audit', next: audit100, eventsPerRequest: 100 },
    audit400: { name: 'EventList(400)', path: '/v1/events/audit', next: audit400, eventsPerRequest: 400 },
  };
}

const SUBJECTS = [
  { key: 'ingest', label: 'ingest', opts: { path: 'ingest' } },
  { key: 'ingest-dd', label: 'ingest, data dir', opts: { path: 'ingest', durable: true } },
  { key: 'full', label: 'full', opts: { path: 'full' } },
  { key: 'full-dd', label: 'full, data dir', opts: { path: 'full', durable: true } },
];
const PLAN = {
  falco: ['ingest', 'ingest-dd', 'full', 'full-dd'],
  audit100: ['ingest', 'full', 'full-dd'],
  audit400: ['full', 'full-dd'],
};
// BENCH_ABLATE=1: the Falco full path also with the console history off, with correlation off, and with
// both off, in the same rounds: what each stage costs per event; the audit lists' with correlation off
// too (an audit event pays for `observe` and, when it alerts, for its incident).
if (process.env.BENCH_ABLATE) {
  const off = { enabled: false };
  SUBJECTS.push(
    { key: 'full-noconsole', label: 'full, console off', opts: { path: 'full', config: { console: off } } },
    { key: 'full-nocorr', label: 'full, correlation off', opts: { path: 'full', config: { correlation: off } } },
    {
      key: 'full-neither',
      label: 'full, both off',
      opts: { path: 'full', config: { console: off, correlation: off } },
    },
  );
  PLAN.falco.push('full-noconsole', 'full-nocorr', 'full-neither');
  PLAN.audit100.push('full-nocorr');
  PLAN.audit400.push('full-nocorr');
}
// BENCH_COMPARE_DIST=<a build before a change>: its full path (memory-only and data dir) runs in the
// same rounds, so a change's before/after ratio is measured under the same machine load.
const COMPARE = process.env.BENCH_COMPARE_DIST;
// BENCH_WORKLOADS=falco,audit100 runs only those.
for (const wk of Object.keys(PLAN))
  if (process.env.BENCH_WORKLOADS && !process.env.BENCH_WORKLOADS.split(',').includes(wk)) delete PLAN[wk];
// BENCH_COMPARE_FLAGS="--flag ..." runs the compared build's servers with those node flags (with
// BENCH_COMPARE_DIST=dist: the same build, with and without them).
const COMPARE_FLAGS = (process.env.BENCH_COMPARE_FLAGS || '').split(' ').filter(Boolean);
if (COMPARE) {
  const dist = resolve(COMPARE);
  SUBJECTS.push(
    { key: 'full-before', label: 'full, before', opts: { path: 'full', dist, nodeFlags: COMPARE_FLAGS } },
    {
      key: 'full-dd-before',
      label: 'full, data dir, before',
      opts: { path: 'full', durable: true, dist, nodeFlags: COMPARE_FLAGS },
    },
    { key: 'ingest-before', label: 'ingest, before', opts: { path: 'ingest', dist, nodeFlags: COMPARE_FLAGS } },
    {
      key: 'ingest-dd-before',
      label: 'ingest, data dir, before',
      opts: { path: 'ingest', durable: true, dist, nodeFlags: COMPARE_FLAGS },
    },
  );
  for (const subjects of Object.values(PLAN)) {
    if (subjects.includes('ingest')) subjects.push('ingest-before');
    if (subjects.includes('ingest-dd')) subjects.push('ingest-dd-before');
    subjects.push('full-before', 'full-dd-before');
  }
  // With BENCH_ABLATE, the compared build's ablations too (pick them with BENCH_SUBJECTS).
  if (process.env.BENCH_ABLATE) {
    const off = { enabled: false };
    SUBJECTS.push(
      {
        key: 'full-nocorr-before',
        label: 'full, correlation off, before',
        opts: { path: 'full', config: { correlation: off }, dist, nodeFlags: COMPARE_FLAGS },
      },
      {
        key: 'full-neither-before',
        label: 'full, both off, before',
        opts: { path: 'full', config: { console: off, correlation: off }, dist, nodeFlags: COMPARE_FLAGS },
      },
    );
    PLAN.falco?.push('full-nocorr-before', 'full-neither-before');
  }
}
// BENCH_SUBJECTS=full,full-before runs only those subjects (beside bare), in that order, to keep a comparison short.
if (process.env.BENCH_SUBJECTS) {
  const only = process.env.BENCH_SUBJECTS.split(',');
  for (const wk of Object.keys(PLAN)) PLAN[wk] = only.filter((s) => PLAN[wk].includes(s));
}

const rows = [];
/** What a stage adds, per round: a subject's CPU per event over its ablation's in the same round. */
const shares = [];
const ABLATION_PAIRS = [
  ['full', 'full-nocorr', 'correlation'],
  ['full', 'full-noconsole', 'console history'],
  ['full-before', 'full-nocorr-before', 'correlation, before'],
];

/** A pair's share when both ran: per round, `a`'s CPU per event over `b`'s, and the difference. */
function addShare(what, a, b, x, y) {
  if (!x || !y) return;
  const ratios = x.map((r, i) => r.cpuPerEvent / y[i].cpuPerEvent);
  const diffs = x.map((r, i) => r.cpuPerEvent - y[i].cpuPerEvent);
  shares.push({ what, a, b, ratio: median(ratios), ratios, diff: median(diffs) });
}

async function throughput(w) {
  console.log(`throughput: ${ROUNDS} rounds, ${SECONDS} s per load, ${CONNECTIONS} keep-alive connections`);
  const bare = await startServer('bare');
  const servers = {};
  for (const s of SUBJECTS)
    if (Object.values(PLAN).some((subjects) => subjects.includes(s.key))) servers[s.key] = await startServer('falconer', s.opts);
  try {
    const results = {};
    for (const [wk, subjects] of Object.entries(PLAN)) {
      // Warm-up (JIT, pools, first fingerprints), discarded.
      await load(bare, '/', w[wk], 1);
      for (const sk of subjects) await load(servers[sk], w[wk].path, w[wk], 1);
    }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [wk, subjects] of Object.entries(PLAN)) {
        const base = await load(bare, '/', w[wk], SECONDS);
        (results[`${wk}/bare`] ??= []).push({ ...base, ratio: 1, cpuRatio: 1 });
        line(`round ${round} ${w[wk].name} bare`, base);
        // Even rounds take the subjects in the reverse order: a place in the round (just after bare's
        // heavy load, or last) favours no subject over the rounds.
        for (const sk of round % 2 ? subjects : [...subjects].reverse()) {
          const r = await load(servers[sk], w[wk].path, w[wk], SECONDS);
          r.ratio = r.eventsPerSec / base.eventsPerSec;
          r.cpuRatio = r.cpuPerEvent / base.cpuPerEvent;
          (results[`${wk}/${sk}`] ??= []).push(r);
          line(`round ${round} ${w[wk].name} ${sk}`, r);
        }
      }
    }
    const heaps = await heapsAfter({ bare, ...servers });
    for (const [wk, subjects] of Object.entries(PLAN)) {
      rows.push(summarise(`${w[wk].name}, bare node:http`, results[`${wk}/bare`], heaps.bare));
      for (const sk of subjects)
        rows.push(summarise(`${w[wk].name}, ${SUBJECTS.find((s) => s.key === sk).label}`, results[`${wk}/${sk}`], heaps[sk]));
    }
    for (const wk of Object.keys(PLAN))
      for (const [a, b, what] of ABLATION_PAIRS) {
        addShare(`${w[wk].name}: ${what}`, a, b, results[`${wk}/${a}`], results[`${wk}/${b}`]);
      }
    return results;
  } finally {
    await stop(bare);
    for (const s of Object.values(servers)) await stop(s);
  }
}

/**
 * p99 at half the maximum rate Falconer's full path reached (single Falco events), open-loop and
 * evenly paced (bench/paced.js), memory-only and data dir, and with BENCH_COMPARE_DIST the compared
 * build's too (BENCH_SUBJECTS picks among full, full-dd, full-before, full-dd-before).
 */
async function latency(w, maxRate) {
  const rate = Math.max(100, Math.round(maxRate / 2));
  // With BENCH_ABLATE, correlation off too: its share at an equal offered rate, beside the share at
  // saturation (where the faster subject also batches more and spreads its timers over more events).
  let keys = [
    'full',
    ...(process.env.BENCH_ABLATE ? ['full-nocorr'] : []),
    'full-dd',
    ...(COMPARE ? ['full-before', 'full-dd-before'] : []),
  ];
  if (process.env.BENCH_SUBJECTS) keys = keys.filter((k) => process.env.BENCH_SUBJECTS.split(',').includes(k));
  const subjects = keys.map((k) => SUBJECTS.find((s) => s.key === k));
  // BENCH_LATENCY_GENERATOR=autocannon: autocannon's fixed-rate mode, as before; `both`: each load
  // both ways in the same rounds, to compare the two.
  const mode = process.env.BENCH_LATENCY_GENERATOR || 'paced';
  const generators = mode === 'both' ? [true, false] : [mode !== 'autocannon'];
  const named = (paced) => (generators.length > 1 && !paced ? ' (autocannon)' : '');
  console.log(
    `\nlatency at half the full path's maximum: ${rate} req/s, ${generators.map((p) => (p ? 'open-loop, evenly paced' : "autocannon's fixed-rate mode")).join(' and ')}, ${ROUNDS} rounds`,
  );
  const bare = await startServer('bare');
  const servers = [];
  for (const s of subjects) servers.push({ subject: s, server: await startServer('falconer', s.opts) });
  const runs = {};
  try {
    // Warm-up (JIT, connections' first requests, first fingerprints), discarded.
    await load(bare, '/', w.falco, 1, rate, true);
    for (const s of servers) await load(s.server, w.falco.path, w.falco, 1, rate, true);
    for (let round = 1; round <= ROUNDS; round++)
      for (const paced of generators) {
        const base = await load(bare, '/', w.falco, SECONDS, rate, paced);
        (runs[`bare${named(paced)}`] ??= []).push({ ...base, ratio: 1, cpuRatio: 1 });
        line(`round ${round} ${rate} req/s bare${named(paced)}`, base);
        for (const s of servers) {
          const r = await load(s.server, w.falco.path, w.falco, SECONDS, rate, paced);
          r.ratio = r.eventsPerSec / base.eventsPerSec;
          r.cpuRatio = r.cpuPerEvent / base.cpuPerEvent;
          (runs[`${s.subject.label}${named(paced)}`] ??= []).push(r);
          line(`round ${round} ${rate} req/s ${s.subject.key}${named(paced)}`, r);
        }
      }
    const heaps = await heapsAfter({ bare, ...Object.fromEntries(servers.map((s) => [s.subject.key, s.server])) });
    for (const paced of generators)
      for (const [a, b, what] of ABLATION_PAIRS) {
        const label = (k) => `${SUBJECTS.find((s) => s.key === k)?.label}${named(paced)}`;
        addShare(`Falco at ${rate} req/s${named(paced)}: ${what}`, a, b, runs[label(a)], runs[label(b)]);
      }
    for (const paced of generators) {
      rows.push(summarise(`Falco at ${rate} req/s, bare node:http${named(paced)}`, runs[`bare${named(paced)}`], heaps.bare));
      for (const s of servers)
        rows.push(
          summarise(
            `Falco at ${rate} req/s, ${s.subject.label}${named(paced)}`,
            runs[`${s.subject.label}${named(paced)}`],
            heaps[s.subject.key],
          ),
        );
    }
  } finally {
    await stop(bare);
    for (const s of servers) await stop(s.server);
  }
}

/**
 * CPU per event and heap as the live state grows: fingerprints in the dedup window and pods in the
 * cluster state, pre-filled through the store and state APIs. One server per size, the same fixed rate.
 */
async function scale(w) {
  console.log(`\nscale series: full path, memory-only, ${SCALE_RATE} req/s, ${ROUNDS} rounds of ${SECONDS} s, sizes interleaved`);
  const sizes = [
    ...[1_000, 100_000, 1_000_000].map((n) => ({ label: `${n} fingerprints`, opts: { fingerprints: n } })),
    ...[1_000, 10_000, 50_000].map((n) => ({ label: `${n} pods`, opts: { pods: n } })),
  ];
  const servers = [];
  try {
    for (const [i, size] of sizes.entries()) {
      // The events name the same 500 pods at every size: what grows is the state around them.
      const events = { ...w.falco, next: falcoEvents({ pods: 500, seed: 10 + i }) };
      const server = await startServer('falconer', { path: 'full', ...size.opts });
      servers.push({ size, events, server, runs: [] });
      await load(server, events.path, events, 1, SCALE_RATE);
    }
    for (let round = 1; round <= ROUNDS; round++)
      for (const s of servers) {
        const r = await load(s.server, s.events.path, s.events, SECONDS, SCALE_RATE);
        line(`round ${round} ${s.size.label}`, r);
        s.runs.push(r);
      }
    for (const s of servers) s.heapAfterMB = (await s.server.ask('heap')).heapMB;
  } finally {
    for (const s of servers) await stop(s.server);
  }
  return servers.map((s) => ({
    label: s.size.label,
    cpuPerEvent: median(s.runs.map((r) => r.cpuPerEvent)),
    cpuSpread: stat(s.runs, 'cpuPerEvent').spread,
    reqPerSec: median(s.runs.map((r) => r.reqPerSec)),
    p99: median(s.runs.map((r) => r.p99)),
    heapMB: GC_BETWEEN_LOADS ? Math.max(...s.runs.map((r) => r.heapMB)) : s.heapAfterMB,
    errors: s.runs.reduce((n, r) => n + r.errors, 0),
  }));
}

/** Each server's heap after a full GC, once its loads are over (see GC_BETWEEN_LOADS). */
async function heapsAfter(servers) {
  const heaps = {};
  for (const [key, server] of Object.entries(servers)) heaps[key] = (await server.ask('heap')).heapMB;
  return heaps;
}

function line(name, r) {
  const ratio = r.ratio === undefined ? '' : ` ${(r.ratio * 100).toFixed(0)}% of bare ev/s, CPU ${r.cpuRatio.toFixed(2)}×`;
  console.log(
    `  ${name.padEnd(34)} ${r.reqPerSec.toFixed(0).padStart(6)} req/s ${r.eventsPerSec.toFixed(0).padStart(7)} ev/s ${r.cpuPerEvent.toFixed(1).padStart(6)} µs/ev (user ${r.userPerEvent.toFixed(0)}, main thread ${r.mainThreadPerEvent?.toFixed(0)}) p50 ${r.p50} p99 ${r.p99} ms loop p99 ${r.loopP99.toFixed(1)} ms heap ${r.heapMB.toFixed(0)} MB${GC_BETWEEN_LOADS ? '' : ' (live and garbage)'} gc ${r.scavengePerEvent.toFixed(1)}+${r.markCompactPerEvent.toFixed(1)}+${r.incrementalPerEvent.toFixed(1)} µs/ev (${r.markCompacts} mc) drain ${r.drainMs} ms errors ${r.errors}${ratio}`,
  );
}

function summarise(name, runs, heapAfterMB) {
  return {
    name,
    req: stat(runs, 'reqPerSec'),
    ev: stat(runs, 'eventsPerSec'),
    ratio: median(runs.map((r) => r.ratio)),
    cpu: stat(runs, 'cpuPerEvent'),
    cpuRatio: median(runs.map((r) => r.cpuRatio)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    loopP99: median(runs.map((r) => r.loopP99)),
    heapMB: GC_BETWEEN_LOADS || heapAfterMB === undefined ? Math.max(...runs.map((r) => r.heapMB)) : heapAfterMB,
    errors: runs.reduce((n, r) => n + r.errors, 0),
    commits: runs.at(-1).commits,
  };
}

const pct = (x) => `±${(x * 50).toFixed(0)}%`;

function table(scaleRows) {
  console.log(
    `\nsummary (median of ${ROUNDS} rounds; ± is half the max−min spread; ratios per round to the bare load just before)`,
  );
  console.log(
    `${'scenario'.padEnd(40)} ${'req/s'.padStart(12)} ${'events/s'.padStart(14)} ${'%bare'.padStart(6)} ${'µs CPU/ev'.padStart(13)} ${'×bare'.padStart(6)} ${'p50'.padStart(4)} ${'p99'.padStart(4)} ${'loop99'.padStart(6)} ${'heap'.padStart(5)} ${'err'.padStart(4)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(40)} ${`${r.req.median.toFixed(0)} ${pct(r.req.spread)}`.padStart(12)} ${`${r.ev.median.toFixed(0)} ${pct(r.ev.spread)}`.padStart(14)} ${`${(r.ratio * 100).toFixed(0)}%`.padStart(6)} ${`${r.cpu.median.toFixed(1)} ${pct(r.cpu.spread)}`.padStart(13)} ${r.cpuRatio.toFixed(2).padStart(6)} ${String(r.p50).padStart(4)} ${String(r.p99).padStart(4)} ${r.loopP99.toFixed(1).padStart(6)} ${r.heapMB.toFixed(0).padStart(5)} ${String(r.errors).padStart(4)}`,
    );
    if (r.commits)
      console.log(
        `${''.padEnd(40)} group commit: ${r.commits.eventsPerCommit.toFixed(1)} events, ${r.commits.writesPerCommit.toFixed(1)} writes per commit`,
      );
  }
  for (const s of shares)
    console.log(
      `${s.what}: ${s.a} ÷ ${s.b}, CPU per event, median of the rounds ×${s.ratio.toFixed(2)} (rounds ${s.ratios.map((r) => r.toFixed(2)).join(', ')}); difference ${s.diff.toFixed(1)} µs`,
    );
  if (scaleRows.length) {
    const first = scaleRows[0].cpuPerEvent;
    const firstPods = scaleRows.find((r) => r.label.endsWith('pods'))?.cpuPerEvent;
    console.log(`\nscale series (full path, ${SCALE_RATE} req/s; ×first is CPU per event relative to the smallest size)`);
    for (const r of scaleRows) {
      const ref = r.label.endsWith('pods') ? firstPods : first;
      console.log(
        `${r.label.padEnd(40)} ${r.reqPerSec.toFixed(0).padStart(5)} req/s ${r.cpuPerEvent.toFixed(1).padStart(7)} µs CPU/ev ${pct(r.cpuSpread)} ${(r.cpuPerEvent / ref).toFixed(2).padStart(5)}×first  p99 ${String(r.p99).padStart(3)} ms  heap ${r.heapMB.toFixed(0).padStart(5)} MB  errors ${r.errors}`,
      );
    }
  }
}

async function main() {
  console.log(
    `ingest benchmark, Node ${process.version}: distinct events (unique ids and ns times, 500 pods, 12 rules, ${(REPEAT_SHARE * 100).toFixed(0)}% repeats of a recent activity); audit lists 1 in 10 alerting, 3 in 10 of the rest RequestResponse`,
  );
  const w = workloads();
  const sizes = Object.fromEntries(Object.entries(w).map(([k, v]) => [k, v.next().length]));
  console.log(
    `bodies: Falco event ~${sizes.falco} B, EventList(100) ~${sizes.audit100} B, EventList(400) ~${sizes.audit400} B\n`,
  );
  let maxRate = 2000;
  if (ONLY.has('throughput')) {
    const results = await throughput(w);
    if (results['falco/full']) maxRate = median(results['falco/full'].map((r) => r.reqPerSec));
  }
  if (ONLY.has('latency')) await latency(w, Number(process.env.BENCH_LATENCY_MAX_RATE || maxRate));
  const scaleRows = ONLY.has('scale') ? await scale(w) : [];
  table(scaleRows);
}

module.exports = { startServer, stop, load, workloads, SUBJECTS };

if (require.main === module)
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
