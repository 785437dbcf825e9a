'use strict';
/**
 * What an alert's incident costs after correlation: the alert stage, the console history and the
 * dispatcher (the bench's `console` receiver returns a delivery ref and has `update`, so members take
 * the thread path a Slack receiver takes, without the HTTP call). A full run of bench/pipeline.js's
 * workload is recorded at the alert stage (detection, enrichment, correlation) and at the dispatcher's
 * `incidentChanged`; the recording is replayed into two fresh embedded Falconers, one given the
 * correlations as they were, one without their incident, in alternating batches in one process (so
 * a busy machine slows both alike). Reports µs CPU per alert of each and of the difference, per
 * batch: the median and the mean of the middle 60 % (GC pauses land in one batch or the other).
 * node bench/downstream.js [events=13000] [batch=250]   (BENCH_COMPARE_DIST=<build before>: also that one)
 */
const { fork } = require('node:child_process');
const { join, resolve } = require('node:path');

async function child(dist, events, batchSize) {
  const pino = require('pino');
  const { fillPods } = require('./state');
  const { falcoEvents } = require('./events');
  const { startFalconer } = require(join(dist, 'app'));
  const { validateConfig } = require(join(dist, 'config/load'));
  const { ClusterStates } = require(join(dist, 'enrich/cluster-state'));
  const { createEnricher } = require(join(dist, 'enrich/enricher'));
  const { systemClock } = require(join(dist, 'core/clock'));
  const { normaliseFalco } = require(join(dist, 'ingest/falco'));
  const stage = require(join(dist, 'alert/stage')).AlertStage.prototype;
  const dispatcher = require(join(dist, 'notify/dispatcher')).Dispatcher.prototype;
  const process_ = stage.process;
  const incidentChanged = dispatcher.incidentChanged;
  let recording;
  const stages = [];
  stage.process = function (d, e, c) {
    if (!stages.includes(this)) stages.push(this);
    recording?.push({ d, e, c });
    return process_.call(this, d, e, c);
  };
  dispatcher.incidentChanged = function (incident) {
    recording?.push({ grew: incident });
    return incidentChanged.call(this, incident);
  };
  const falconer = () => {
    const config = validateConfig({
      cluster: 'bench',
      server: { host: '127.0.0.1', port: 0 },
      ingest: { token: 'bench-token-0123456789' },
      receivers: [{ type: 'console', name: 'null', minPriority: 'debug' }],
      log: { level: 'silent' },
      dataDir: '',
    });
    const states = new ClusterStates();
    fillPods(states, 'bench', 500);
    const enricher = createEnricher({ states, clock: systemClock, waitForStateMs: config.enrichment.waitForStateMs });
    return startFalconer(config, { logger: pino({ level: 'silent' }), enricher });
  };
  const turn = () => new Promise((r) => setImmediate(r));
  const feed = async (f, n) => {
    const next = falcoEvents({ pods: 500 });
    const ctx = () => ({ cluster: 'bench', receivedAt: Date.now(), maxFieldLength: 4096 });
    const waiting = new Set();
    for (let i = 0; i < n; i++) {
      const published = f.bus
        .publish([normaliseFalco(JSON.parse(next().toString()), ctx())])
        .finally(() => waiting.delete(published));
      waiting.add(published);
      if (waiting.size >= 50) await Promise.race(waiting);
      await turn();
    }
    await Promise.all(waiting);
    while (f.bus.depth() > 0 || f.bus.progress().waitingSince !== undefined) await new Promise((r) => setTimeout(r, 2));
  };

  const recorder = await falconer();
  recording = [];
  await feed(recorder, events);
  const seq = recording;
  recording = undefined;
  await recorder.stop();

  const targets = [];
  for (const withIncident of [true, false]) {
    const f = await falconer();
    await feed(f, 1); // its stage, caught by the wrapper
    targets.push({ withIncident, f, stage: stages.at(-1), cpu: 0, alerts: 0, perBatch: [] });
  }
  const strip = ({ incident: _i, ...rest }) => rest;
  const batches = [];
  for (let i = 0; i < seq.length;) {
    let j = i;
    let alerts = 0;
    for (; j < seq.length && alerts < batchSize; j++) if (!seq[j].grew) alerts++;
    batches.push([i, j, alerts]);
    i = j;
  }
  global.gc?.();
  for (const [b, [from, to, alerts]] of batches.entries())
    for (const t of b % 2 ? [...targets].reverse() : targets) {
      const start = process.cpuUsage();
      for (let x = from; x < to; x++) {
        const item = seq[x];
        if (item.grew) {
          if (t.withIncident) incidentChanged.call(t.f.dispatcher, item.grew);
          continue;
        }
        await t.stage.process(item.d, item.e, t.withIncident || !item.c.incident ? item.c : strip(item.c));
      }
      await t.f.dispatcher.settled();
      await turn();
      await turn(); // the console's flush
      const used = process.cpuUsage(start);
      t.cpu += used.user + used.system;
      t.alerts += alerts;
      t.perBatch.push((used.user + used.system) / alerts);
    }
  const [inc, none] = targets;
  const diff = inc.perBatch.map((x, i) => x - none.perBatch[i]).sort((a, b) => a - b);
  const middle = diff.slice(Math.floor(diff.length * 0.2), Math.ceil(diff.length * 0.8));
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  return {
    alerts: inc.alerts,
    withIncident: median(inc.perBatch),
    without: median(none.perBatch),
    diffMedian: diff[diff.length >> 1],
    diffMiddle: middle.reduce((a, b) => a + b, 0) / middle.length,
  };
}

function inChild(dist, events, batch) {
  return new Promise((res, rej) => {
    const p = fork(__filename, [], {
      env: { ...process.env, BENCH_DOWNSTREAM_CHILD: JSON.stringify({ dist, events, batch }) },
      execArgv: ['--expose-gc'],
    });
    p.once('message', (m) => res(m));
    p.once('exit', (code) => code && rej(new Error(`child exited with ${code}`)));
  });
}

async function main() {
  const events = Number(process.argv[2] || 13000);
  const batch = Number(process.argv[3] || 250);
  const builds = [['this build', resolve(process.env.FALCONER_DIST || join(__dirname, '..', 'dist'))]];
  if (process.env.BENCH_COMPARE_DIST) builds.push(['before', resolve(process.env.BENCH_COMPARE_DIST)]);
  console.log(`${events} Falco events recorded, replayed in batches of ${batch} alerts; µs CPU per alert (batch medians)`);
  for (const [name, dist] of builds) {
    const r = await inChild(dist, events, batch);
    console.log(
      `${name.padEnd(10)} with incident ${r.withIncident.toFixed(1)}, without ${r.without.toFixed(1)}; ` +
        `the incident: median ${r.diffMedian.toFixed(2)}, middle 60 % ${r.diffMiddle.toFixed(2)} (${r.alerts} alerts)`,
    );
  }
}

if (process.env.BENCH_DOWNSTREAM_CHILD) {
  const { dist, events, batch } = JSON.parse(process.env.BENCH_DOWNSTREAM_CHILD);
  child(dist, events, batch).then(
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
