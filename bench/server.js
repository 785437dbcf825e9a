'use strict';
// A server under test, run in a child process so the load generator does not share its event loop.
// Modes: bare (node:http + JSON.parse + 202, the baseline), falconer (the full ingest path, embedded and
// memory-only), falconer-durable (the same with a data dir: a 202 waits for the group-committed journal).
const http = require('node:http');
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const pino = require('pino');

async function main() {
  const mode = process.argv[2];
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
  } else if (mode === 'falconer' || mode === 'falconer-durable') {
    const { startFalconer } = require('../dist/app');
    const { validateConfig } = require('../dist/config/load');
    const config = validateConfig({
      server: { host: '127.0.0.1', port: 0 },
      ingest: { token: 'bench-token-0123456789' },
      receivers: [{ type: 'console', name: 'quiet', minPriority: 'emergency' }],
      log: { level: 'silent' },
      // Memory-only, or embedded durability: a journal and state in a fresh data dir.
      dataDir: mode === 'falconer-durable' ? mkdtempSync(join(tmpdir(), 'falconer-bench-')) : '',
    });
    falconer = await startFalconer(config, { logger: pino({ level: 'silent' }) });
    port = falconer.port;
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  let cpuStart = process.cpuUsage();
  let commitsStart;
  process.on('message', (msg) => {
    if (msg === 'cpu-reset') {
      cpuStart = process.cpuUsage();
      commitsStart = falconer?.dataDir?.db.stats();
      process.send({ reset: true });
    }
    if (msg === 'exit') process.exit(0);
    if (msg === 'cpu') {
      const u = process.cpuUsage(cpuStart);
      process.send({
        cpuMicros: u.user + u.system,
        rss: process.memoryUsage().rss,
        commits: commitsSince(commitsStart, falconer?.dataDir?.db.stats()),
      });
    }
  });
  process.send({ port });
}

/** Group commits during the measured run: how many, and how many writes each carried. */
function commitsSince(start, now) {
  if (!start || !now) return undefined;
  const commits = now.commits - start.commits;
  const per = (n) => n / Math.max(1, commits);
  return {
    commits,
    eventsPerCommit: per(now.appends - start.appends),
    writesPerCommit: per(now.writes - start.writes),
    largestCommit: now.largestCommit,
  };
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
