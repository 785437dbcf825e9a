'use strict';
// Data-dir writes per event on the full path, by statement and key prefix: what each event costs the
// group commit. Embedded Falconer with a data dir in this process; N requests over loopback HTTP
// (20 at a time), then the queue drained and the last commit synced; CPU per event on the main thread
// (load generator included), the database worker (and its COMMITs) and all other threads.
// node bench/writes.js [requests=2000] [falco|audit100]   (FALCONER_DIST: another build)
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const pino = require('pino');
const { fillPods } = require('./state');
const { falcoEvents, auditLists } = require('./events');

const DIST = process.env.FALCONER_DIST || join(__dirname, '..', 'dist');
const { EmbeddedDatabase } = require(join(DIST, 'store/embedded-db'));
const TOKEN = 'bench-token-0123456789';

/** Tallies every write sent to the worker by statement, with the key's prefix (`ingested`, `notify`, ...). */
const tally = new Map();
const request = EmbeddedDatabase.prototype.request;
EmbeddedDatabase.prototype.request = function (...args) {
  const message = args.at(-1); // (message), or (worker, message) since the redo log
  for (const w of message.writes ?? []) {
    const prefix = typeof w[1] === 'string' && /^[a-z-]+:/.test(w[1]) ? ` ${w[1].split(':')[0]}` : '';
    tally.set(w[0] + prefix, (tally.get(w[0] + prefix) || 0) + 1);
  }
  return request.apply(this, args);
};

async function main() {
  const requests = Number(process.argv[2] || 2000);
  const audit = process.argv[3] === 'audit100';
  const { startFalconer } = require(join(DIST, 'app'));
  const { validateConfig } = require(join(DIST, 'config/load'));
  const { ClusterStates } = require(join(DIST, 'enrich/cluster-state'));
  const { createEnricher } = require(join(DIST, 'enrich/enricher'));
  const { systemClock } = require(join(DIST, 'core/clock'));
  const config = validateConfig({
    cluster: 'bench',
    server: { host: '127.0.0.1', port: 0 },
    ingest: { token: TOKEN },
    receivers: [{ type: 'console', name: 'null', minPriority: 'debug' }],
    log: { level: 'silent' },
    dataDir: mkdtempSync(join(tmpdir(), 'falconer-writes-')),
  });
  const states = new ClusterStates();
  fillPods(states, 'bench', 500);
  const enricher = createEnricher({ states, clock: systemClock, waitForStateMs: config.enrichment.waitForStateMs });
  const f = await startFalconer(config, { logger: pino({ level: 'silent' }), enricher });
  const next = audit ? auditLists({ size: 100 }) : falcoEvents({ pods: 500 });
  const url = `${f.url}/v1/events/${audit ? 'audit' : 'falco'}`;
  let sent = 0;
  let accepted = 0;
  const cpu0 = process.cpuUsage();
  const main0 = process.threadCpuUsage();
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (sent < requests) {
        sent++;
        const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
        const res = await fetch(url, { method: 'POST', headers, body: next() });
        const body = await res.json();
        if (res.status === 202) accepted += body.accepted;
      }
    }),
  );
  while (f.bus.progress().waitingSince !== undefined) await new Promise((r) => setTimeout(r, 10));
  await f.dataDir.db.durable();
  // With the redo log, the last second's writes are applied to SQLite too: all the work is paid for.
  if (f.dataDir.db.flush) await f.dataDir.db.flush();
  const cpu = process.cpuUsage(cpu0);
  const main = process.threadCpuUsage(main0);
  const s = f.dataDir.db.stats();
  console.log(`${accepted} events, ${s.commits} commits, ${(s.writes / accepted).toFixed(2)} writes per event`);
  // The process includes the load generator (fetch); the rest of it is the database worker's commits.
  const us = (c) => ((c.user + c.system) / accepted).toFixed(0);
  const worker = { user: cpu.user - main.user, system: cpu.system - main.system };
  console.log(
    `CPU µs per event: main thread ${us(main)} (with the load generator); database worker ${(s.workerCpuUs / accepted).toFixed(0)}, ` +
      `of which syncing (COMMIT, or the log's append + fdatasync and the applies' COMMIT) ${(s.commitCpuUs / accepted).toFixed(0)}; all other threads ${us(worker)} (the worker, GC, I/O)`,
  );
  if (s.logCpuUs !== undefined)
    console.log(
      `  of which the log worker (append + fdatasync) ${(s.logCpuUs / accepted).toFixed(0)}, the apply worker ${((s.workerCpuUs - s.logCpuUs) / accepted).toFixed(0)}; ` +
        `${s.applies} applies, ${(s.appliedWrites / accepted).toFixed(2)} writes read and ${(s.appliedRows / accepted).toFixed(2)} rows written per event`,
    );
  for (const [k, n] of [...tally].sort((a, b) => b[1] - a[1])) console.log(`${(n / accepted).toFixed(3).padStart(8)}  ${k}`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
