'use strict';
/**
 * The full path after the HTTP edge, in process: embedded Falconer (memory-only) with the bench's
 * cluster state, Falco events normalised up front (bench/events.js) and published to the bus one per
 * turn of the event loop, as requests arrive. Server CPU µs per event, with no HTTP and no load
 * generator on the same cores: differences of a few per cent show, where bench/run.js needs ~10%.
 * Each round runs each build (and `BENCH_PIPELINE_MODES`: full, nocorr, neither = correlation and the
 * console history off; noinc = correlation without incidents; full-dd = full with a data dir, the
 * database worker's CPU included) in a
 * fresh child process, interleaved.
 * Also reports the GC while the events ran (scavenge count and time) and the heap they left alive.
 * node bench/pipeline.js [events=10000] [rounds=3]   (BENCH_COMPARE_DIST=<build before>: also that one)
 */
const { fork } = require('node:child_process');
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');

const OFF = { enabled: false };
/**
 * BENCH_BURST=n: n publishes per turn of the event loop, as a busy HTTP edge makes them (every
 * connection's request read in one poll), so the bus hands the pipeline batches of up to n events.
 */
const BURST = Number(process.env.BENCH_BURST || 1);
const MODES = {
  full: {},
  'full-dd': { dataDir: true },
  nocorr: { correlation: OFF },
  // Attribution and late updates, but no incidents: what the incident tracker costs on its own.
  noinc: { correlation: { incidents: OFF } },
  neither: { correlation: OFF, console: OFF },
};

async function child(dist, mode, events) {
  const [base, variant] = mode.split('+');
  const fresh = variant === 'fresh';
  const pino = require('pino');
  const { fillPods } = require('./state');
  const { falcoEvents } = require('./events');
  const { startFalconer } = require(join(dist, 'app'));
  const { validateConfig } = require(join(dist, 'config/load'));
  const { ClusterStates } = require(join(dist, 'enrich/cluster-state'));
  const { createEnricher } = require(join(dist, 'enrich/enricher'));
  const { systemClock } = require(join(dist, 'core/clock'));
  const { normaliseFalco } = require(join(dist, 'ingest/falco'));
  const { parseJsonWithFacts } = require(join(dist, 'ingest/json'));
  const config = validateConfig({
    cluster: 'bench',
    server: { host: '127.0.0.1', port: 0 },
    ingest: { token: 'bench-token-0123456789' },
    receivers: [{ type: 'console', name: 'null', minPriority: 'debug' }],
    log: { level: 'silent' },
    ...MODES[base],
    // With a data dir the bus is the journal bus: each publish waits for its group commit, as a 202 does.
    dataDir: MODES[base].dataDir ? mkdtempSync(join(tmpdir(), 'falconer-pipeline-')) : '',
  });
  const states = new ClusterStates();
  fillPods(states, 'bench', 500);
  const enricher = createEnricher({ states, clock: systemClock, waitForStateMs: config.enrichment.waitForStateMs });
  const f = await startFalconer(config, { logger: pino({ level: 'silent' }), enricher });
  const next = falcoEvents({ pods: 500 });
  const ctx = () => ({ cluster: 'bench', receivedAt: Date.now(), maxFieldLength: 4096 });
  const turn = () => new Promise((r) => setImmediate(r));
  const run = async (n) => {
    // `<mode>+fresh`: each event parsed as the HTTP edge parses it (the safe parser, `evt.time` kept
    // exact) and normalised just before it is published, inside the measured time, as a request's
    // event is: young when the pipeline keeps it. Otherwise all are made up front, and the full GC
    // below makes them old before the pipeline sees them (what it keeps of them is never copied).
    const parse = fresh
      ? (text) => {
          const { value, strings } = parseJsonWithFacts(text, { maxDepth: 128 });
          return normaliseFalco(value, { ...ctx(), strings });
        }
      : (text) => normaliseFalco(JSON.parse(text), ctx());
    const batch = Array.from({ length: n }, () => (fresh ? next().toString() : parse(next().toString())));
    global.gc?.();
    gcs.length = 0;
    const start = process.cpuUsage();
    // Up to 50 publishes waiting at once, as 50 connections would (a data dir's commit takes a while).
    const waiting = new Set();
    for (let i = 0; i < batch.length; i++) {
      const published = f.bus.publish([fresh ? parse(batch[i]) : batch[i]]).finally(() => waiting.delete(published));
      waiting.add(published);
      if (waiting.size >= 50) await Promise.race(waiting);
      if ((i + 1) % BURST === 0) await turn();
    }
    await Promise.all(waiting);
    while (f.bus.depth() > 0 || f.bus.progress().waitingSince !== undefined) await new Promise((r) => setTimeout(r, 2));
    // What the data dir still has to do is paid for too: the last commit (and, with the redo log, its apply).
    if (f.dataDir) await (f.dataDir.db.flush ? f.dataDir.db.flush() : f.dataDir.db.durable());
    const depth = f.dispatcher.depth();
    const used = process.cpuUsage(start);
    const scavenges = gcs.filter((g) => g.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR);
    return {
      dispatcherDepth: depth,
      cpu: (used.user + used.system) / n,
      scavenges: scavenges.length,
      scavengeMs: scavenges.reduce((t, g) => t + g.duration, 0),
      gcMs: gcs.reduce((t, g) => t + g.duration, 0),
    };
  };
  const heap = () => {
    global.gc?.();
    return process.memoryUsage().heapUsed;
  };
  // GC while the events ran: young-generation scavenges copy what survives them, so their time
  // grows with what each event leaves alive.
  const gcs = [];
  const { PerformanceObserver, constants } = require('node:perf_hooks');
  new PerformanceObserver((list) => gcs.push(...list.getEntries())).observe({ entryTypes: ['gc'] });
  // BENCH_PREFILL=n: n events first (unmeasured), so the measured ones meet the state a long-running
  // server holds (bench/run.js's servers run through every round: ~30k events in, incidents at their cap).
  const warmUp = Number(process.env.BENCH_PREFILL || Math.min(3000, events));
  const started = heap();
  await run(warmUp);
  const result = await run(events);
  // What the runs left alive, after a full GC (the events themselves are garbage by now): the
  // store's per-event marks, dedup counters, recent alerts, console history.
  const left = heap();
  return { ...result, heapMB: left / 2 ** 20, heapPerEvent: (left - started) / (warmUp + events) };
}

function inChild(dist, mode, events) {
  return new Promise((res, rej) => {
    const p = fork(__filename, [], {
      env: { ...process.env, BENCH_PIPELINE_CHILD: JSON.stringify({ dist, mode, events }) },
      // BENCH_CPU_PROF=<dir>: each child writes a .cpuprofile there (bench/profile.js diff compares two).
      execArgv: [
        '--expose-gc',
        ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
      ],
    });
    p.once('message', (m) => res(m));
    p.once('exit', (code) => code && rej(new Error(`child exited with ${code}`)));
  });
}

async function main() {
  const events = Number(process.argv[2] || 10000);
  const rounds = Number(process.argv[3] || 3);
  const modes = (process.env.BENCH_PIPELINE_MODES || 'full,full-dd,nocorr,neither').split(',');
  const builds = [['this build', resolve(process.env.FALCONER_DIST || join(__dirname, '..', 'dist'))]];
  if (process.env.BENCH_COMPARE_DIST) builds.push(['before', resolve(process.env.BENCH_COMPARE_DIST)]);
  const results = new Map();
  const gcResults = new Map();
  for (let r = 0; r < rounds; r++)
    for (const mode of modes)
      for (const [name, dist] of builds) {
        const m = await inChild(dist, mode, events);
        console.log(
          `  round ${r + 1} ${mode.padEnd(8)} ${name.padEnd(10)} ${m.cpu.toFixed(1)} µs CPU/ev, dispatcher queue ${m.dispatcherDepth}, ` +
            `${m.scavenges} scavenges ${m.scavengeMs.toFixed(0)} ms, all GC ${m.gcMs.toFixed(0)} ms, heap after GC ${m.heapMB.toFixed(1)} MB, ${m.heapPerEvent.toFixed(0)} B/ev`,
        );
        const key = `${mode}\t${name}`;
        results.set(key, [...(results.get(key) ?? []), m.cpu]);
        gcResults.set(key, [...(gcResults.get(key) ?? []), m]);
      }
  console.log(`\nmedian of ${rounds} rounds, ${events} Falco events each (µs CPU per event; ± half the spread)`);
  for (const [key, xs] of results) {
    const s = [...xs].sort((a, b) => a - b);
    const median = s[Math.floor(s.length / 2)];
    const [mode, name] = key.split('\t');
    // As bench/run.js: the ratio per round (the two builds ran next to each other), then its median.
    const before = name === 'this build' && builds.length > 1 ? results.get(`${mode}\tbefore`) : undefined;
    const ratios = before?.map((b, i) => xs[i] / b).sort((a, b) => a - b);
    const vs = ratios
      ? `  ×${ratios[Math.floor(ratios.length / 2)].toFixed(2)} of before (rounds ${ratios.map((r) => r.toFixed(2)).join(', ')})`
      : '';
    console.log(
      `${mode.padEnd(8)} ${name.padEnd(10)} ${median.toFixed(1).padStart(6)} ±${(((s.at(-1) - s[0]) / 2 / median) * 100).toFixed(0)}%${vs}`,
    );
  }
  console.log('\nmedian GC while the events ran, and the heap they left alive (after a full GC)');
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [key, ms] of gcResults) {
    const [mode, name] = key.split('\t');
    const scav = med(ms.map((m) => m.scavenges));
    const scavMs = med(ms.map((m) => m.scavengeMs));
    console.log(
      `${mode.padEnd(8)} ${name.padEnd(10)} ${String(scav).padStart(4)} scavenges ${scavMs.toFixed(0).padStart(5)} ms ` +
        `(${(scavMs / Math.max(scav, 1)).toFixed(1)} ms each), all GC ${med(ms.map((m) => m.gcMs))
          .toFixed(0)
          .padStart(5)} ms, ` +
        `heap ${med(ms.map((m) => m.heapMB)).toFixed(1)} MB (${med(ms.map((m) => m.heapPerEvent)).toFixed(0)} B per event)`,
    );
  }
}

if (process.env.BENCH_PIPELINE_CHILD) {
  const { dist, mode, events } = JSON.parse(process.env.BENCH_PIPELINE_CHILD);
  child(dist, mode, events).then(
    (cpu) => process.send(cpu, () => process.exit(0)),
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
