'use strict';
/**
 * The correlate stage's cost: CPU per event of the full in-process pipeline (detect → enrich →
 * correlate → alert) with correlation on, against the same pipeline with it off (the baseline, same
 * run, interleaved), and the memory its state takes at 50k pods with alerts and 1k open sessions.
 * The overhead is also put against the full path measured in the same run: the HTTP edge (a child
 * process running bench/server.js's `ingest` subject, fed the same events as Falco POSTs and audit
 * EventLists) plus the in-process pipeline without correlation.
 * Run after `npm run build`: node --expose-gc bench/correlate.js [events=20000]
 * BENCH_ONLY=<scenario index>, BENCH_SKIP_MEMORY=1, BENCH_SKIP_HTTP=1 (then only the constant below),
 * BENCH_PREFILL=<events> before the http-shaped scenario's measured ones (default 32000: incidents at their cap),
 * BENCH_COUNT_OPS=1 prints the store's reads and writes per measured event (counting costs CPU: separate runs).
 */
const http = require('node:http');
const { fork } = require('node:child_process');
const { join, resolve } = require('node:path');
const dist = resolve(process.env.FALCONER_DIST || join(__dirname, '..', 'dist'));
const { RuleEngine, loadRuleSet } = require(join(dist, 'detect/engine'));
const { normaliseAudit } = require(join(dist, 'ingest/audit'));
const { normaliseFalco } = require(join(dist, 'ingest/falco'));
const { RecentAlerts } = require(join(dist, 'alert/recent'));
const { AlertStage } = require(join(dist, 'alert/stage'));
const { Dispatcher } = require(join(dist, 'notify/dispatcher'));
const { createMetrics } = require(join(dist, 'observability/metrics'));
const { Pipeline } = require(join(dist, 'pipeline'));
const { MemoryStateStore } = require(join(dist, 'store/memory'));
const { validateConfig } = require(join(dist, 'config/load'));
const { correlationFromConfig } = require(join(dist, 'correlate'));
const { createEnricher } = require(join(dist, 'enrich/enricher'));
const { ClusterStates } = require(join(dist, 'enrich/cluster-state'));
const { systemClock } = require(join(dist, 'core/clock'));
const { MemoryBus } = require(join(dist, 'bus/memory'));
const { EventDeadLetters } = require(join(dist, 'pipeline/dead-letters'));
const { MemoryEventDeadLetterStore } = require(join(dist, 'store/event-dead-letters/memory'));
const { falcoEvents } = require('./events');

const N = Number(process.argv[2] || 20000);
/** CPU per event of the full ingest path (HTTP in, alert out), as measured beside Falcosidekick (FACTS-2 §7). */
const FULL_PATH_US = 160;
/**
 * How long an exec session lasts in the event-time-ordered scenarios. The stream is 10 ms an event, so
 * 20k events span ~200 s: a 10-minute session would never end within it, and the session end (its
 * ResponseComplete, on which "Disallowed K8s User" alerts) would never be measured. 20 s sessions end
 * well within the stream and before the next exec into the same pod (100 s later in the busy case),
 * and their ResponseComplete is delivered at its stageTimestamp, after the session's runtime alerts,
 * as a real apiserver's audit webhook delivers it (in batches, seconds late at most).
 */
const SESSION_MS = 20_000;
/** The adversarial scenario's sessions: 10 minutes, their ResponseComplete delivered right after the start. */
const LONG_SESSION_MS = 600_000;
const T0 = Date.parse('2026-03-01T10:00:00Z');
const iso = (ms, digits) => new Date(ms).toISOString().replace('Z', digits === 9 ? '000000Z' : '000Z');
const ctx = { cluster: 'bench', receivedAt: 0, maxFieldLength: 16384 };
const silent = {
  info() {},
  warn() {},
  error() {},
  debug() {},
  child() {
    return silent;
  },
};

function rawExec(i, pod, start, users = 50, who = i % users, durationMs = LONG_SESSION_MS) {
  const base = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: `exec-${i}`,
    requestURI: `/api/v1/namespaces/shop/pods/${pod}/exec?command=%2Fbin%2Fbash&container=app&stdin=true&stdout=true&tty=true`,
    verb: 'get',
    user: { username: `user-${who}@example.com`, groups: ['system:authenticated'] },
    sourceIPs: ['203.0.113.7'],
    userAgent: 'kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0',
    objectRef: { resource: 'pods', namespace: 'shop', name: pod, subresource: 'exec', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 101 },
    requestReceivedTimestamp: iso(start),
    annotations: { 'authorization.k8s.io/decision': 'allow' },
  };
  return [
    { ...base, stage: 'ResponseStarted', stageTimestamp: iso(start + 5) },
    { ...base, stage: 'ResponseComplete', stageTimestamp: iso(start + durationMs) },
  ];
}

function execEvents(i, pod, start, users, who, durationMs) {
  return rawExec(i, pod, start, users, who, durationMs).map((e) => normaliseAudit(e, ctx));
}

function rawShell(i, pod, at) {
  return {
    uuid: `shell-${i}`,
    output: 'A shell was spawned in a container with an attached terminal',
    priority: 'Notice',
    rule: 'Terminal shell in container',
    time: iso(at, 9),
    output_fields: {
      'container.id': '734cfc07ae4d',
      'container.name': 'app',
      'k8s.ns.name': 'shop',
      'k8s.pod.name': pod,
      'proc.name': 'bash',
      'proc.cmdline': `bash -c step-${i % 3}`,
      'proc.pname': 'runc',
      'proc.tty': 34816,
    },
    source: 'syscall',
    tags: ['T1059', 'container', 'shell'],
    hostname: 'node-a',
  };
}

function shell(i, pod, at) {
  return normaliseFalco(rawShell(i, pod, at), ctx);
}

/**
 * One in `every` events is an audit exec (two stages) into one of 1000 pods; the runtime alerts after
 * it happen in that pod's session (so they are attributed), a few commands each. `inOrder`: delivered
 * in event-time order (each ResponseComplete at its stageTimestamp, SESSION_MS after the start);
 * otherwise the adversarial order: 10-minute sessions whose ResponseComplete comes right after their
 * ResponseStarted, so the stream's alerts after it are all "late" for the incidents they join.
 * Returns the normalised events and the raw ones (for the HTTP edge), `n` of each.
 */
function workload(n, every = 10, users = 50, inOrder = true) {
  const raw = [];
  for (let i = 0; raw.length < n * 1.2; i++) {
    const pod = `web-${Math.floor(i / every) % 1000}`;
    const at = T0 + i * 10;
    if (i % every === 0) {
      const [started, complete] = rawExec(
        i,
        pod,
        at,
        users,
        Math.floor(i / every) % users,
        inOrder ? SESSION_MS : LONG_SESSION_MS,
      );
      raw.push({ kind: 'audit', at: at + 5, raw: started });
      raw.push({ kind: 'audit', at: inOrder ? at + SESSION_MS : at + 5, raw: complete });
    } else raw.push({ kind: 'falco', at: at + 1000, raw: rawShell(i, pod, at + 1000) });
  }
  if (inOrder) raw.sort((a, b) => a.at - b.at); // stable: a session's start stays before its alerts
  const kept = raw.slice(0, n);
  return {
    events: kept.map((e) => (e.kind === 'audit' ? normaliseAudit(e.raw, ctx) : normaliseFalco(e.raw, ctx))),
    raw: kept,
  };
}

/**
 * Shaped like bench/run.js's Falco full path: bench/events.js's Falco events over 500 pods, a fifth of
 * them repeats of a recent activity (dedup folds them), the rest new alerts, no exec sessions. The
 * first `prefill` events (unmeasured) bring every pod's incident to its `maxAlerts` cap, as a few
 * seconds of HTTP load do: the measured events are new members of full incidents, or repeats.
 */
function httpShaped(n, prefill) {
  const next = falcoEvents({ pods: 500, tag: 'corr' });
  const raw = [];
  for (let i = 0; i < prefill + n; i++) raw.push({ kind: 'falco', raw: JSON.parse(next()) });
  return {
    events: raw.map((e) => normaliseFalco(e.raw, ctx)),
    raw: raw.slice(prefill),
    prefill,
  };
}

const engine = new RuleEngine(loadRuleSet({ builtin: true }));

function pipeline(correlate) {
  const store = countOps(new MemoryStateStore(systemClock));
  const metrics = createMetrics();
  const recent = new RecentAlerts(1000);
  const dispatcher = new Dispatcher([], store, systemClock, metrics, silent, {
    maxAttempts: 3,
    baseDelayMs: 1000,
    maxDelayMs: 10000,
    updateDebounceMs: 5000,
    windowMs: 3600000,
    queueCapacity: 1000,
    deadLetterCapacity: 10,
  });
  const alerts = new AlertStage(store, recent, dispatcher, metrics, systemClock, {
    dedupWindowMs: 3600000,
    runbookUrlTemplate: 'x/{rule}',
    runbooks: {},
  });
  const enricher = createEnricher({ states: new ClusterStates(), clock: systemClock, waitForStateMs: 0 });
  const correlation = correlate
    ? correlationFromConfig(
        validateConfig({
          cluster: 'bench',
          correlation: { waitForAuditMs: 0, incidents: { enabled: process.env.BENCH_NO_INCIDENTS ? false : true } },
        }),
        {
          store,
          subject: enricher.subject.bind(enricher),
          amend: (a) => alerts.amend(a),
          incidentGrew: (i) => dispatcher.incidentChanged(i),
          // Embedded mode, as the app runs it without Redis.
          exclusiveStore: true,
        },
      )
    : undefined;
  const bus = new MemoryBus(systemClock, { capacity: 100, batchSize: 10, retryDelayMs: 1000, onHandlerError: () => undefined });
  const letters = new MemoryEventDeadLetterStore({ maxCount: 100, maxBytes: 1 << 20 });
  const parked = new EventDeadLetters(letters, store, bus, metrics, silent, systemClock, {
    maxLetterBytes: 1 << 16,
    replayBatch: 10,
  });
  return new Pipeline(
    engine,
    enricher,
    alerts,
    store,
    parked,
    metrics,
    silent,
    { seenTtlMs: 600000, maxEventAttempts: 2 },
    correlation && correlation.correlator,
  );
}

/** Store operations of the measured events, by kind (BENCH_COUNT_OPS=1: the counting costs CPU, so not by default). */
const ops = { reads: 0, writes: 0 };
const READS = ['get', 'peek', 'ttlLeft'];
const WRITES = [
  'set',
  'setIfAbsent',
  'replace',
  'setIfAbsentMany',
  'replaceMany',
  'delete',
  'hit',
  'handOff',
  'schedule',
  'unschedule',
];

function countOps(store) {
  if (!process.env.BENCH_COUNT_OPS) return store;
  for (const [names, kind] of [
    [READS, 'reads'],
    [WRITES, 'writes'],
  ])
    for (const name of names) {
      const f = store[name];
      if (typeof f !== 'function') continue;
      store[name] = function (...args) {
        ops[kind]++;
        return f.apply(this, args);
      };
    }
  return store;
}

/** CPU per event of the events after the first `prefill` (handled first, unmeasured). */
async function cpuPerEvent(correlate, events, prefill = 0) {
  const p = pipeline(correlate);
  for (let i = 0; i < prefill; i += 100) await p.handle(events.slice(i, Math.min(i + 100, prefill)));
  ops.reads = ops.writes = 0;
  const start = process.cpuUsage();
  for (let i = prefill; i < events.length; i += 100) await p.handle(events.slice(i, i + 100));
  const used = process.cpuUsage(start);
  const n = events.length - prefill;
  if (process.env.BENCH_COUNT_OPS)
    console.log(
      `    correlation ${correlate ? 'on' : 'off'}: ${(ops.reads / n).toFixed(2)} store reads, ${(ops.writes / n).toFixed(2)} writes per event`,
    );
  return (used.user + used.system) / n;
}

async function memory() {
  const gc = global.gc || (() => undefined);
  const store = new MemoryStateStore(systemClock);
  // Held in an object so it can be let go of below (to tell this replica's own memory from the store's).
  const held = {
    correlation: correlationFromConfig(validateConfig({ cluster: 'bench' }), {
      store,
      amend: async () => undefined,
      exclusiveStore: true,
    }),
  };
  gc();
  const before = process.memoryUsage().heapUsed;
  // 1k open sessions (no end seen), one per pod, then a runtime alert on each of 50k pods.
  for (let i = 0; i < 1000; i++) await held.correlation.correlator.observe(execEvents(i, `web-${i}`, T0 + i, 50, i % 50)[0]);
  for (let i = 0; i < 50000; i++) {
    const event = shell(i, `web-${i}`, T0 + 5000 + i);
    const detection = engine.detect(event)[0];
    const c = await held.correlation.correlator.correlate(detection, {});
    const alert = {
      fingerprint: `fp-${i}`,
      rule: detection.rule,
      ruleId: detection.ruleId,
      priority: detection.priority,
      source: 'falco',
      tags: detection.tags,
      summary: detection.summary,
      runbookUrl: '',
      labels: {},
      evidence: [event.id],
      event,
      enrichment: {},
      count: 1,
      firstSeen: 0,
      lastSeen: 0,
      ...(c.attribution ? { attribution: c.attribution } : {}),
    };
    await held.correlation.correlator.track(alert);
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  // What goes with the correlator (the store stays): this replica's own bounded caches and indexes.
  const pods = held.correlation.correlator.stats().pods;
  held.correlation = undefined;
  gc();
  const storeOnly = process.memoryUsage().heapUsed;
  // What the store holds, by record kind (key prefix): characters of key and value (ASCII JSON: V8
  // keeps it a byte each), lazy values counted as the text they would make (Redis holds that text).
  const kinds = new Map();
  for (const [key, entry] of store.entries) {
    const kind = key.startsWith('corr:') ? key.slice(0, key.indexOf(':', 5) + 1) : key.slice(0, key.indexOf(':') + 1);
    const k = kinds.get(kind) || { n: 0, chars: 0, lazy: 0 };
    k.n++;
    if (typeof entry.value === 'function') k.lazy++;
    k.chars += key.length + (typeof entry.value === 'function' ? entry.value() : entry.value).length;
    kinds.set(kind, k);
  }
  return {
    mb: (after - before) / 1048576,
    localMb: (after - storeOnly) / 1048576,
    pods,
    store: [...kinds].sort((a, b) => b[1].chars - a[1].chars),
  };
}

/** The HTTP edge (bench/server.js `ingest`: auth, limits, safe parse, normalise, claims, publish) in a child process. */
function startEdge() {
  return new Promise((done, reject) => {
    const child = fork(join(__dirname, 'server.js'), ['falconer', JSON.stringify({ path: 'ingest', dist })], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: ['--expose-gc'],
    });
    const ask = (msg) =>
      new Promise((r) => {
        child.once('message', r);
        child.send(msg);
      });
    child.once('message', (m) => done({ port: m.port, ask, stop: () => child.kill('SIGKILL') }));
    child.once('error', reject);
  });
}

function post(agent, port, path, body) {
  return new Promise((done, reject) => {
    const req = http.request(
      {
        agent,
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer bench-token-0123456789' },
      },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 202 ? done() : reject(new Error(`edge answered ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

let pass = 0;
/**
 * The edge's CPU per event (server process only) for these events as a sensor and an apiserver send
 * them: each Falco event its own POST, consecutive audit events one EventList (up to 100). Ids get a
 * per-pass suffix, so no request is a retry the edge skips.
 */
async function edgeCpuPerEvent(edge, raw) {
  const tag = `-p${pass++}`;
  const bodies = [];
  for (let i = 0; i < raw.length;) {
    if (raw[i].kind === 'falco') {
      bodies.push(['/v1/events/falco', JSON.stringify({ ...raw[i].raw, uuid: raw[i].raw.uuid + tag })]);
      i++;
      continue;
    }
    const items = [];
    for (; i < raw.length && raw[i].kind === 'audit' && items.length < 100; i++)
      items.push({ ...raw[i].raw, auditID: raw[i].raw.auditID + tag });
    bodies.push(['/v1/events/audit', JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items })]);
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  await edge.ask('reset');
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const [path, body] = bodies[next++];
      await post(agent, edge.port, path, body);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const s = await edge.ask('drain');
  agent.destroy();
  return s.cpuMicros / raw.length;
}

(async () => {
  const scenarios = [
    ['busy: 1 in 10 events an exec by one of 50 users (their incidents span many pods)', workload(N, 10, 50)],
    ['sparse: 1 in 100 events an exec, 1000 users', workload(N, 100, 1000)],
    [
      "adversarial (busy, each 10-minute session's ResponseComplete delivered at its start: later members all late)",
      workload(N, 10, 50, false),
    ],
    [
      'http-shaped (bench/run.js Falco full path: 500 pods, ~80% new alerts, no sessions, every incident at its 50-member cap)',
      httpShaped(N, Number(process.env.BENCH_PREFILL ?? 32_000)),
    ],
  ];
  await cpuPerEvent(true, scenarios[0][1].events.slice(0, 2000)); // warm-up
  await cpuPerEvent(false, scenarios[0][1].events.slice(0, 2000));
  const edge = process.env.BENCH_SKIP_HTTP ? undefined : await startEdge();
  if (edge) await edgeCpuPerEvent(edge, scenarios[0][1].raw.slice(0, 500)); // warm-up
  console.log(
    `correlate: ${N} events per scenario (exec audit events and runtime alerts in their sessions, 1000 pods), best of 3`,
  );
  for (const [name, { events, raw, prefill = 0 }] of scenarios.filter(
    (_, i) => !process.env.BENCH_ONLY || String(i) === process.env.BENCH_ONLY,
  )) {
    const runs = { off: [], on: [], edge: [] };
    for (let r = 0; r < 3; r++) {
      runs.off.push(await cpuPerEvent(false, events, prefill));
      runs.on.push(await cpuPerEvent(true, events, prefill));
      if (edge) runs.edge.push(await edgeCpuPerEvent(edge, raw.slice(0, 3000)));
    }
    const off = Math.min(...runs.off);
    const on = Math.min(...runs.on);
    const d = on - off;
    console.log(`  ${name}`);
    console.log(
      `    ${off.toFixed(1)} µs CPU/event without correlation, ${on.toFixed(1)} with (+${d.toFixed(1)} µs: +${((d / off) * 100).toFixed(0)}% of the in-process pipeline)`,
    );
    const constant = `~${((d / FULL_PATH_US) * 100).toFixed(1)}% of the ~${FULL_PATH_US} µs full path of FACTS-2 §7`;
    if (edge) {
      const e = Math.min(...runs.edge);
      const full = e + off;
      console.log(
        `    full path measured in this run: HTTP edge ${e.toFixed(1)} + pipeline ${off.toFixed(1)} = ${full.toFixed(1)} µs/event; correlation +${((d / full) * 100).toFixed(1)}% of it (${constant}); goal < 10%`,
      );
    } else console.log(`    correlation ${constant}; goal < 10%`);
  }
  if (edge) edge.stop();
  if (process.env.BENCH_SKIP_MEMORY) return;
  const m = await memory();
  console.log(
    `  state at 50k pods with a runtime alert each and 1k open sessions: ${m.mb.toFixed(0)} MB heap (memory store; ${m.pods} pods tracked, bounded by correlation.maxPods)`,
  );
  const names = {
    'corr:ra:': 'alerts a late audit event may still update',
    'corr:r:': 'their per-pod lists',
    'corr:s:': 'sessions',
    'corr:i:': 'incident heads',
    'corr:ie:': 'incident timeline entries',
    'corr:ik:': 'pod/subject → incident',
    'corr:il:': 'incident listing',
  };
  console.log(
    `    of which ${(m.mb - m.localMb).toFixed(0)} MB the store (Redis in scale-out mode) and ${m.localMb.toFixed(0)} MB this replica's own caches and indexes; in the store: ${m.store.map(([k, v]) => `${names[k] || k} ${v.n}${v.lazy ? `, ${v.lazy} of them lazy` : ''} (${(v.chars / 1048576).toFixed(1)} MB as text)`).join(', ')}`,
  );
})();
