'use strict';
// A server under test, run in a child process so the load generator does not share its event loop.
// Modes: bare (node:http + JSON.parse + 202, the baseline), falconer (the full ingest path, embedded).
const http = require('node:http');
const pino = require('pino');

async function main() {
  const mode = process.argv[2];
  let port;
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
    const { startFalconer } = require('../dist/app');
    const { validateConfig } = require('../dist/config/load');
    const config = validateConfig({
      server: { host: '127.0.0.1', port: 0 },
      ingest: { token: 'bench-token-0123456789' },
      receivers: [{ type: 'console', name: 'quiet', minPriority: 'emergency' }],
      log: { level: 'silent' },
    });
    const f = await startFalconer(config, { logger: pino({ level: 'silent' }) });
    port = f.port;
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  let cpuStart = process.cpuUsage();
  process.on('message', (msg) => {
    if (msg === 'cpu-reset') {
      cpuStart = process.cpuUsage();
      process.send({ reset: true });
    }
    if (msg === 'exit') process.exit(0);
    if (msg === 'cpu') {
      const u = process.cpuUsage(cpuStart);
      process.send({ cpuMicros: u.user + u.system, rss: process.memoryUsage().rss });
    }
  });
  process.send({ port });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
