'use strict';
// A server under test, run in a child process so the load generator does not share its event loop.
// argv[2]: bare (node:http, read, JSON.parse, 202: the baseline) or falconer; argv[3] (falconer): JSON
// { path: 'ingest' | 'full', durable, fingerprints, pods, dist }:
// - ingest: the HTTP edge up to the bus, the pipeline stubbed at the bus port (events are dropped there);
// - full: detect, enrich, alert (dedup), dispatch to a console receiver whose logger is silent (a null
//   receiver: the alert is formatted and handed to it, nothing is written);
// - durable: a data dir, so a 202 waits for the group-committed journal; memory-only otherwise;
// - fingerprints / pods: the scale series' pre-filled dedup window and cluster state;
// - prefill: that many Falco events published onto the bus before the first load (BENCH_PREFILL);
// - dist: another build to run (BENCH_COMPARE_DIST: the same rounds measure a build before a change).
// The parent asks over IPC for this process's own CPU time, heap and event-loop delay.
const http = require('node:http');
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const pino = require('pino');
const { fillFingerprints, fillPods } = require('./state');

const TOKEN = 'bench-token-0123456789';
const CLUSTER = 'bench';

async function main() {
  const mode = process.argv[2];
  const opts = JSON.parse(process.argv[3] || '{}');
  const DIST = opts.dist || process.env.FALCONER_DIST || join(__dirname, '..', 'dist');
  let port;
  let falconer;
  if (mode === 'bare') {
    const server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          const n = Array.isArray(body.items) ? body.items.length : 1;
          res.writeHead(202, { 'content-type': 'application/json' });
          res.end(`{"accepted":${n}}`);
        } catch {
          res.writeHead(400);
          res.end();
        }
      });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    port = server.address().port;
  } else if (mode === 'falconer') {
    const { startFalconer } = require(DIST + '/app');
    const { validateConfig } = require(DIST + '/config/load');
    const { ClusterStates } = require(DIST + '/enrich/cluster-state');
    const { createEnricher } = require(DIST + '/enrich/enricher');
    const { systemClock } = require(DIST + '/core/clock');
    const config = validateConfig({
      cluster: CLUSTER,
      server: { host: '127.0.0.1', port: 0 },
      ingest: { token: TOKEN },
      receivers: [{ type: 'console', name: 'null', minPriority: 'debug' }],
      log: { level: 'silent' },
      dataDir: opts.durable ? mkdtempSync(join(tmpdir(), 'falconer-bench-')) : '',
      // Ablations (BENCH_ABLATE in run.js): whole sections switched off, e.g. { console: { enabled: false } }.
      ...opts.config,
    });
    // The full path enriches against a cluster state holding the pods the events name (500 unless
    // the scale series says otherwise): with none, each pod's first alert would wait
    // enrichment.waitForStateMs for a pod that never arrives, and the bench would time that wait.
    const pods = opts.pods ?? (opts.path === 'full' ? 500 : 0);
    let enricher;
    if (pods) {
      const states = new ClusterStates();
      fillPods(states, CLUSTER, pods);
      enricher = createEnricher({ states, clock: systemClock, waitForStateMs: config.enrichment.waitForStateMs });
    }
    falconer = await startFalconer(config, {
      logger: pino({ level: 'silent' }),
      ...(enricher ? { enricher } : {}),
      ...(opts.path === 'ingest' ? { consumer: async () => undefined } : {}),
    });
    if (opts.fingerprints) await fillFingerprints(falconer.store, opts.fingerprints, config.alerting.dedupWindowSeconds * 1000);
    // prefill: Falco events published straight onto the bus (normalised as the HTTP edge does) until
    // drained, before the first load: the state a server under steady load holds (dedup window,
    // recent alerts, console history, pending alerts and incidents at their caps), not a young one.
    if (opts.prefill) await prefill(falconer, opts.prefill, DIST);
    port = falconer.port;
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  // BENCH_STALLS=1: every pause of the event loop over 15 ms and every GC over 5 ms, with times
  // relative to the load's start, so a slow request's wait can be put next to what held the loop.
  const stalls = [];
  const gcs = [];
  let loadStart = performance.now();
  let loadEpoch = Date.now();
  if (process.env.BENCH_STALLS) {
    let last = performance.now();
    setInterval(() => {
      const now = performance.now();
      if (now - last > 15) stalls.push([Math.round(last - loadStart + loadEpoch), Math.round(now - last)]);
      last = now;
    }, 1).unref();
    const { PerformanceObserver, constants } = require('node:perf_hooks');
    const kinds = {
      [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
      [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
      [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incr',
      [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak',
    };
    new PerformanceObserver((list) => {
      for (const e of list.getEntries())
        if (e.duration > 5)
          gcs.push([
            Math.round(e.startTime - loadStart + loadEpoch),
            Math.round(e.duration),
            kinds[e.detail?.kind] ?? e.detail?.kind,
          ]);
    }).observe({ entryTypes: ['gc'] });
  }
  // GC during each load, always (a few counters): scavenges and mark-compacts, count and time, so a
  // subject's CPU per event can be split into what it did and what its heap cost it.
  const gcTotals = newGcTotals();
  {
    const { PerformanceObserver, constants } = require('node:perf_hooks');
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const kind = e.detail?.kind;
        const k =
          kind === constants.NODE_PERFORMANCE_GC_MINOR
            ? 'minor'
            : kind === constants.NODE_PERFORMANCE_GC_MAJOR
              ? 'major'
              : 'other';
        gcTotals[k].count++;
        gcTotals[k].ms += e.duration;
      }
    }).observe({ entryTypes: ['gc'] });
  }
  let cpuStart = process.cpuUsage();
  let threadStart = process.threadCpuUsage?.();
  let commitsStart;
  process.on('message', (msg) => {
    if (msg === 'reset') {
      cpuStart = process.cpuUsage();
      threadStart = process.threadCpuUsage?.();
      delay.reset();
      stalls.length = 0;
      gcs.length = 0;
      Object.assign(gcTotals, newGcTotals());
      loadStart = performance.now();
      loadEpoch = Date.now();
      commitsStart = falconer?.dataDir?.db.stats();
      process.send({ reset: true });
    }
    if (msg === 'drain' || msg === 'drain-live') sample(Date.now(), msg === 'drain');
    if (msg === 'heap') {
      global.gc?.();
      process.send({ heapMB: process.memoryUsage().heapUsed / 2 ** 20 });
    }
    if (msg === 'exit') process.exit(0);
  });
  /** Waits until the bus holds nothing unhandled (the full path may lag the load), then reports. */
  /**
   * `collect`: a full GC after the sample, for the heap that stays. It also does the old generation's
   * work a server under load would do during its next load ('drain-live' leaves it there).
   */
  async function sample(started, collect) {
    while (falconer && falconer.bus.progress().waitingSince !== undefined && Date.now() - started < 60_000)
      await new Promise((r) => setTimeout(r, 5));
    // The data dir's outstanding work is paid for too: the last commit (and, with the redo log, its apply).
    const db = falconer?.dataDir?.db;
    if (db) await (db.flush ? db.flush() : db.durable()).catch(() => undefined);
    const drainMs = Date.now() - started;
    const u = process.cpuUsage(cpuStart);
    const main = threadStart && process.threadCpuUsage(threadStart);
    const gc = JSON.parse(JSON.stringify(gcTotals));
    const heapBeforeGcMB = process.memoryUsage().heapUsed / 2 ** 20;
    if (collect && global.gc) global.gc(); // the heap that stays: live state, not garbage awaiting collection
    const mem = process.memoryUsage();
    process.send({
      cpuMicros: u.user + u.system,
      userMicros: u.user,
      mainThreadMicros: main ? main.user + main.system : undefined,
      heapMB: mem.heapUsed / 2 ** 20,
      heapBeforeGcMB,
      gc,
      rssMB: mem.rss / 2 ** 20,
      loopDelayP99Ms: delay.percentile(99) / 1e6,
      loopDelayMaxMs: delay.max / 1e6,
      ...(process.env.BENCH_STALLS ? { stalls: [...stalls], gcs: [...gcs] } : {}),
      commits: commitsSince(commitsStart, falconer?.dataDir?.db.stats()),
      drainMs,
    });
  }
  process.on('disconnect', () => process.exit(0)); // the bench ended (or died): do not linger
  process.send({ port });
}

async function prefill(falconer, count, dist) {
  const { falcoEvents } = require('./events');
  const { parseJsonWithFacts } = require(dist + '/ingest/json');
  const { normaliseFalco } = require(dist + '/ingest/falco');
  // Its own seed and tag: none of these events' ids or activities come back in the loads.
  const next = falcoEvents({ pods: 500, seed: 99, tag: `prefill-${process.pid}` });
  const waiting = new Set();
  for (let i = 0; i < count; i++) {
    const { value, strings } = parseJsonWithFacts(next(), { maxDepth: 128 });
    const event = normaliseFalco(value, { cluster: CLUSTER, receivedAt: Date.now(), maxFieldLength: 4096, strings });
    const published = falconer.bus.publish([event]).finally(() => waiting.delete(published));
    waiting.add(published);
    if (waiting.size >= 50) await Promise.race(waiting);
    if (i % 50 === 49) await new Promise((r) => setImmediate(r));
  }
  await Promise.all(waiting);
  while (falconer.bus.progress().waitingSince !== undefined) await new Promise((r) => setTimeout(r, 5));
}

function newGcTotals() {
  return { minor: { count: 0, ms: 0 }, major: { count: 0, ms: 0 }, other: { count: 0, ms: 0 } };
}

/** Group commits during the measured load: how many, and how many writes each carried. */
function commitsSince(start, now) {
  if (!start || !now) return undefined;
  const commits = now.commits - start.commits;
  const per = (n) => n / Math.max(1, commits);
  return { commits, eventsPerCommit: per(now.appends - start.appends), writesPerCommit: per(now.writes - start.writes) };
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
