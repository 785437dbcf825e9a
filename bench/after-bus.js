'use strict';
/**
 * What an audit event costs after the bus: a Falconer built as bench/server.js's `full` subject (500
 * pods in the cluster state, a console receiver with a silent logger), fed bench/events.js's
 * EventLists already normalised and claimed as ingest would (outside the measured time), straight
 * onto its bus; CPU per event until the bus is drained. BENCH_EVENTS picks the events: `all` (the
 * EventLists as sent), `quiet` (only the configmap reads and updates that match no rule), `alerting`
 * (only the other tenth). With BENCH_COMPARE_DIST another build runs in the same process, rounds
 * interleaved, so a change's before/after share the machine's load.
 * Run after `npm run build`: node --expose-gc bench/after-bus.js [lists=200] [rounds=5]
 */
const { join, resolve } = require('node:path');
const pino = require('pino');
const { fillPods } = require('./state');
const { auditLists } = require('./events');

const LISTS = Number(process.argv[2] || 200);
const ROUNDS = Number(process.argv[3] || 5);
const PICK = process.env.BENCH_EVENTS || 'all';
const builds = [resolve(process.env.FALCONER_DIST || join(__dirname, '..', 'dist'))];
if (process.env.BENCH_COMPARE_DIST) builds.push(resolve(process.env.BENCH_COMPARE_DIST));

const picked = (e) => PICK === 'all' || (PICK === 'quiet') === (e.audit.objectRef?.resource === 'configmaps');

async function subject(dist) {
  const { startFalconer } = require(join(dist, 'app'));
  const { validateConfig } = require(join(dist, 'config/load'));
  const { ClusterStates } = require(join(dist, 'enrich/cluster-state'));
  const { createEnricher } = require(join(dist, 'enrich/enricher'));
  const { systemClock } = require(join(dist, 'core/clock'));
  const { normaliseAudit, splitAuditPayload } = require(join(dist, 'ingest/audit'));
  const { storeClaims } = require(join(dist, 'ingest/claims'));
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
  const falconer = await startFalconer(config, { logger: pino({ level: 'silent' }), enricher });
  const claims = storeClaims(falconer.store, { ttlMs: config.ingest.retryDedupSeconds * 1000, onError: () => undefined });
  const next = auditLists({ size: 100, tag: `${process.pid}-${builds.indexOf(dist)}` });
  const ctx = { cluster: 'bench', receivedAt: Date.now(), maxFieldLength: config.ingest.maxFieldLength };
  /** One round's lists, normalised and claimed as ingest does before it publishes. */
  const prepare = async () => {
    const lists = [];
    for (let i = 0; i < LISTS; i++) {
      const events = splitAuditPayload(JSON.parse(next()))
        .map((item) => normaliseAudit(item, ctx))
        .filter(picked);
      await (await claims.claimAll(events)).confirm();
      lists.push(events);
    }
    return lists;
  };
  const run = async () => {
    const lists = await prepare();
    const count = lists.reduce((n, l) => n + l.length, 0);
    if (global.gc) global.gc();
    const start = process.cpuUsage();
    for (const events of lists) {
      await falconer.bus.publish(events);
      if (falconer.bus.depth() > config.pipeline.queueCapacity / 2) await falconer.bus.drain();
    }
    await falconer.bus.drain();
    const used = process.cpuUsage(start);
    return (used.user + used.system) / count;
  };
  return { dist, run, samples: [], stop: () => falconer.stop() };
}

async function main() {
  const subjects = [];
  for (const dist of builds) subjects.push(await subject(dist));
  for (const s of subjects) await s.run(); // warm-up
  for (let r = 0; r < ROUNDS; r++) for (const s of subjects) s.samples.push(await s.run());
  for (const s of subjects) {
    const sorted = [...s.samples].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    console.log(
      `${s.dist}: ${PICK} audit events after the bus: ${median.toFixed(1)} µs CPU/event (median of ${ROUNDS}; rounds ${s.samples.map((x) => x.toFixed(1)).join(' ')})`,
    );
  }
  for (const s of subjects) await s.stop();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
