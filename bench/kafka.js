'use strict';
// `node bench/kafka.js` (after `npm run build`): one Falconer replica in Kafka+Redis mode against the
// embedded mode, and against a bare kafkajs producer/consumer pair moving the same messages (the
// ceiling of the bus itself), in one run. Events go in one per request/send, `CONCURRENCY` at a time,
// as Falco or sidekick would send them. Uses FALCONER_TEST_KAFKA_BROKERS / FALCONER_TEST_REDIS_URL
// when set, else starts native ones through test/support/services.ts. Loopback only.
const { createServer } = require('node:http');
const { readFileSync } = require('node:fs');
const { resolve } = require('node:path');
const { transformSync } = require('@swc/core');
const pino = require('pino');
const { Kafka, logLevel } = require('kafkajs');

const EVENTS = Number(process.env.BENCH_KAFKA_EVENTS || 3000);
const PODS = Number(process.env.BENCH_KAFKA_PODS || 100);
const CONCURRENCY = Number(process.env.BENCH_KAFKA_CONCURRENCY || 32);
const TOKEN = 'bench-token-0123456789';

// test/support/services.ts is TypeScript: compile it on load, as test/integration/run-falconer.js does.
require.extensions['.ts'] = function compileTypeScript(module, filename) {
  const { code } = transformSync(readFileSync(filename, 'utf8'), {
    filename,
    module: { type: 'commonjs' },
    jsc: { target: 'es2023', parser: { syntax: 'typescript' } },
  });
  module._compile(code, filename);
};

const sample = JSON.parse(readFileSync(resolve(__dirname, '..', '..', 'shared', 'samples', 'falco-terminal-shell.json'), 'utf8'));
/**
 * Event i belongs to pod floor(i·PODS/EVENTS): each pod's first event opens an alert and the rest
 * fold into it, so new alerts are spread evenly over the run instead of arriving in one burst. Every
 * event is distinct, as real ones are: its own uuid, nanosecond time and pid; the pod's rule and
 * priority come from a spread of Falco's rules.
 */
const RULES = [
  ['Terminal shell in container', 'Notice'],
  ['Read sensitive file untrusted', 'Warning'],
  ['Drop and execute new binary in container', 'Critical'],
  ['Contact K8S API Server From Container', 'Notice'],
  ['Search Private Keys or Passwords', 'Warning'],
];
const T0_NS = 1762779060000000000n;
function falcoEvent(run, i) {
  const k = Math.floor((i * PODS) / EVENTS);
  const pod = `bench-${run}-pod-${k}`;
  const [rule, priority] = RULES[k % RULES.length];
  const ns = T0_NS + BigInt(i) * 1_000_003n;
  const time = `${new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19)}.${String(ns % 1_000_000_000n).padStart(9, '0')}Z`;
  const { 'evt.time': _drop, ...fields } = sample.output_fields;
  return {
    pod,
    body: JSON.stringify({
      ...sample,
      uuid: `${run}-${i}`,
      time,
      rule,
      priority,
      output: `${time}: ${priority} ${rule} (pod ${pod}, pid ${1000 + i})`,
      output_fields: { ...fields, 'k8s.pod.name': pod, 'proc.pid': 1000 + i },
    }),
  };
}

function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Runs `send(i)` for i < n with `CONCURRENCY` in flight; `pace` (events/s) spaces the starts. */
async function drive(n, send, pace) {
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      if (pace) {
        const due = start + (i * 1000) / pace;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      await send(i);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

async function until(check, what, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A Slack-compatible endpoint that notes when each pod's announcement arrived. */
async function startSlack() {
  const arrivals = new Map();
  let seq = 0;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const pod = /bench-[a-z0-9-]+?-pod-\d+/.exec(decodeURIComponent(body))?.[0];
      if (req.url.includes('chat.postMessage') && pod && !arrivals.has(pod)) arrivals.set(pod, performance.now());
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, channel: 'C0BENCH', ts: `1700000000.${String(++seq).padStart(6, '0')}` }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/api/`, arrivals, stop: () => new Promise((r) => server.close(r)) };
}

/** One Falconer in this process; events/s until every event was detected, latency to the Slack post. */
async function falconerScenario(name, extraConfig, pace) {
  const { startFalconer } = require('../dist/app');
  const { validateConfig } = require('../dist/config/load');
  const slack = await startSlack();
  const config = validateConfig({
    cluster: 'bench',
    server: { host: '127.0.0.1', port: 0 },
    ingest: { token: TOKEN },
    receivers: [{ type: 'slack', name: 'sec', token: 'xoxb-bench', channel: '#bench', apiUrl: slack.url }],
    log: { level: 'silent' },
    dataDir: '', // embedded here means memory-only; bench/run.js measures the data dir
    ...extraConfig,
  });
  const f = await startFalconer(config, { logger: pino({ level: 'silent' }) });
  const run = `${name.replace(/\W+/g, '')}${Date.now().toString(36)}`;
  const sentAt = new Map();
  const detected = async () => {
    const count = async (m) => (await m.get()).values.reduce((n, v) => n + v.value, 0);
    return (await count(f.metrics.alerts)) + (await count(f.metrics.dedupSuppressed));
  };
  try {
    const started = performance.now();
    let refused = 0;
    await drive(
      EVENTS,
      async (i) => {
        const { pod, body } = falcoEvent(run, i);
        const at = performance.now();
        const res = await fetch(`${f.url}/v1/events/falco`, {
          method: 'POST',
          body,
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        });
        await res.arrayBuffer();
        if (res.status !== 202) refused++;
        else if (!sentAt.has(pod)) sentAt.set(pod, at);
      },
      pace,
    );
    await until(async () => (await detected()) >= EVENTS - refused, `${name}: all events detected`);
    const elapsed = (performance.now() - started) / 1000;
    await until(() => slack.arrivals.size >= sentAt.size, `${name}: every announcement`);
    const latencies = [...sentAt].map(([pod, at]) => slack.arrivals.get(pod) - at);
    return {
      name,
      eventsPerSec: (EVENTS - refused) / elapsed,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      refused,
    };
  } finally {
    await f.stop();
    await slack.stop();
  }
}

/** The same messages through a bare idempotent acks=all producer and a consumer group, nothing else. */
async function bareKafkaScenario(brokers, pace) {
  const kafka = new Kafka({ brokers, clientId: 'bench-bare', logLevel: logLevel.NOTHING });
  const topic = `bench-bare-${Date.now().toString(36)}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 12 }] });
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({ groupId: `${topic}-group`, maxWaitTimeInMs: 100 });
  await Promise.all([producer.connect(), consumer.connect()]);
  await consumer.subscribe({ topic, fromBeginning: true });
  const sentAt = new Map();
  const latencies = [];
  let consumed = 0;
  let joined;
  const ready = new Promise((r) => (joined = r));
  consumer.on(consumer.events.GROUP_JOIN, () => joined());
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const now = performance.now();
      for (const m of batch.messages) {
        const at = sentAt.get(m.headers.seq.toString());
        if (at !== undefined) latencies.push(now - at);
        consumed++;
      }
    },
  });
  await ready;
  try {
    const started = performance.now();
    await drive(
      EVENTS,
      async (i) => {
        const { pod, body } = falcoEvent('bare', i);
        sentAt.set(String(i), performance.now());
        await producer.send({ topic, acks: -1, messages: [{ key: pod, value: body, headers: { seq: String(i) } }] });
      },
      pace,
    );
    await until(() => consumed >= EVENTS, 'bare consumer');
    const elapsed = (performance.now() - started) / 1000;
    return {
      name: 'bare kafkajs producer → consumer',
      eventsPerSec: EVENTS / elapsed,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      refused: 0,
    };
  } finally {
    await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
  }
}

function row(r, base) {
  const ratio = base ? `${((r.eventsPerSec / base.eventsPerSec) * 100).toFixed(0).padStart(4)}% of bare` : ' '.repeat(12);
  console.log(
    `${r.name.padEnd(40)} ${r.eventsPerSec.toFixed(0).padStart(7)} ev/s ${ratio}  p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms${r.refused ? `  refused ${r.refused}` : ''}`,
  );
}

async function main() {
  const services = require('../test/support/services.ts');
  const started = [];
  let brokers = process.env[services.KAFKA_ENV];
  let redisUrl = process.env[services.REDIS_ENV];
  try {
    if (!brokers) brokers = (await startAndKeep(services.startNativeKafka, started)).address;
    if (!redisUrl) redisUrl = (await startAndKeep(services.startNativeRedis, started)).address;
  } catch (err) {
    throw new Error(`bench/kafka.js needs a broker: ${err.message}`, { cause: err });
  }
  const kafkaMode = (tag) => ({
    kafka: {
      brokers: brokers.split(','),
      topic: `bench-${tag}-${Date.now().toString(36)}`,
      groupId: `bench-${tag}-${Date.now().toString(36)}`,
      partitions: 12,
    },
    redis: { url: redisUrl, keyPrefix: `bench-${tag}-${Date.now().toString(36)}:` },
  });
  console.log(
    `Kafka bench: ${EVENTS} Falco events over ${PODS} pods (one alert per pod), ${CONCURRENCY} in flight, one event per request/send; Node ${process.version}`,
  );
  console.log(
    `kafka ${brokers}, redis ${redisUrl}; latency: Falconer ingest → Slack post of each pod's first event; bare: send → consume\n`,
  );
  console.log('at full rate:');
  const bare = await bareKafkaScenario(brokers.split(','));
  row(bare);
  const kafka = await falconerScenario('falconer kafka+redis', kafkaMode('max'));
  row(kafka, bare);
  const embedded = await falconerScenario('falconer embedded', {});
  row(embedded, bare);
  const half = kafka.eventsPerSec / 2;
  console.log(`\nat half of Kafka mode's maximum (${half.toFixed(0)} ev/s):`);
  row({ ...(await bareKafkaScenario(brokers.split(','), half)), name: 'bare kafkajs producer → consumer' });
  row({ ...(await falconerScenario('falconer kafka+redis', kafkaMode('half'), half)) });
  for (const s of started.reverse()) await s.stop();
}

async function startAndKeep(start, started) {
  const service = await start();
  started.push(service);
  return service;
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
