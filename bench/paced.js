'use strict';
// An open-loop load at a fixed rate, for the latency part of bench/run.js. autocannon's fixed-rate
// mode is neither: each connection sends its share of a second's requests back to back as soon as
// the second starts (a token bucket refilled once a second, lib/httpClient.js), so "1000 req/s" is
// the server's maximum rate for part of each second and idle for the rest; and its coordinated-
// omission correction takes the expected interval as ceil(1 / rate-per-connection) ms, i.e. 1 ms,
// adding a synthetic sample for every millisecond of a slow answer (one 400 ms answer counts 400
// times). Here request i is due at start + i / rate, goes out on a free keep-alive connection, and
// its latency counts from when it was due: a server that holds the loop is charged for the requests
// it kept waiting, once each, with no synthetic samples.
const http = require('node:http');

/**
 * Sends `rate` requests per second for `seconds` over at most `connections` keep-alive connections.
 * Resolves with the request latencies (ms, from when each was due, sorted), 2xx count and errors.
 */
function pacedLoad({ port, path, headers, next, rate, seconds, connections }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const total = Math.round(rate * seconds);
  const latencies = [];
  /** [due, ms] of answers slower than 30 ms, times from the start (BENCH_STALLS puts them beside the server's pauses). */
  const slow = [];
  let ok = 0;
  let errors = 0;
  let sent = 0;
  let settled = 0;
  return new Promise((resolve) => {
    const start = performance.now();
    const send = (due) => {
      const body = next();
      let counted = false;
      const once = (count) => {
        if (counted) return;
        counted = true;
        count();
        done();
      };
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          agent,
          headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            once(() => {
              if (res.statusCode >= 200 && res.statusCode < 300) {
                ok++;
                const ms = performance.now() - due;
                latencies.push(ms);
                if (ms > 30) slow.push([Math.round(due - start), Math.round(ms)]);
              } else errors++;
            }),
          );
        },
      );
      // As autocannon's default: an answer that takes 10 s counts as an error, and the load ends.
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.on('error', () => once(() => errors++));
      req.end(body);
    };
    const done = () => {
      if (++settled === total) {
        agent.destroy();
        latencies.sort((a, b) => a - b);
        resolve({ latencies, slow, ok, errors, startedAt: Date.now() - (performance.now() - start) });
      }
    };
    // Sends whatever is due, then sleeps until the next one is: the agent queues a request while
    // every connection is busy, and its latency still counts from when it was due.
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + (sent * 1000) / rate <= now) send(start + (sent++ * 1000) / rate);
      if (sent < total) setTimeout(tick, Math.max(0, start + (sent * 1000) / rate - performance.now()));
    };
    tick();
  });
}

/** The p-th percentile (0–100) of sorted values. */
function percentile(sorted, p) {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

module.exports = { pacedLoad, percentile };
