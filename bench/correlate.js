'use strict';
/**
 * The correlate stage's cost: CPU per event of the full in-process pipeline (detect → enrich →
 * correlate → alert) with correlation on, against the same pipeline with it off (the baseline, same
 * run, interleaved), and the memory its state takes at 50k pods with alerts and 1k open sessions.
 * Run after `npm run build`: node --expose-gc bench/correlate.js [events=20000]
 */
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

const N = Number(process.argv[2] || 20000);
/** CPU per event of the full ingest path (HTTP in, alert out), as measured beside Falcosidekick (FACTS-2 §7). */
const FULL_PATH_US = 160;
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

function execEvents(i, pod, start, users = 50, who = i % users) {
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
    { ...base, stage: 'ResponseComplete', stageTimestamp: iso(start + 600_000) },
  ].map((e) => normaliseAudit(e, ctx));
}

function shell(i, pod, at) {
  return normaliseFalco(
    {
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
    },
    ctx,
  );
}

/**
 * One in ten events is an audit exec (two stages) into one of 1000 pods; the runtime alerts after it
 * happen in that pod's session (so they are attributed), a few commands each.
 */
function workload(n, every = 10, users = 50) {
  const events = [];
  for (let i = 0; events.length < n; i++) {
    const pod = `web-${Math.floor(i / every) % 1000}`;
    if (i % every === 0) events.push(...execEvents(i, pod, T0 + i * 10, users, Math.floor(i / every) % users));
    else events.push(shell(i, pod, T0 + i * 10 + 1000));
  }
  return events.slice(0, n);
}

const engine = new RuleEngine(loadRuleSet({ builtin: true }));

function pipeline(correlate) {
  const store = new MemoryStateStore(systemClock);
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

async function cpuPerEvent(correlate, events) {
  const p = pipeline(correlate);
  const start = process.cpuUsage();
  for (let i = 0; i < events.length; i += 100) await p.handle(events.slice(i, i + 100));
  const used = process.cpuUsage(start);
  return (used.user + used.system) / events.length;
}

async function memory() {
  const gc = global.gc || (() => undefined);
  const store = new MemoryStateStore(systemClock);
  // Held in an object so it can be let go of below (to tell this replica's own memory from the store's).
  const held = {
    correlation: correlationFromConfig(validateConfig({ cluster: 'bench' }), { store, amend: async () => undefined }),
  };
  gc();
  const before = process.memoryUsage().heapUsed;
  // 1k open sessions (no end seen), one per pod, then a runtime alert on each of 50k pods.
  for (let i = 0; i < 1000; i++) await held.correlation.correlator.observe(execEvents(i, `web-${i}`, T0 + i)[0]);
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
  // What the store holds, by record kind (key prefix): characters of key and value (ASCII JSON: V8 keeps it a byte each).
  const kinds = new Map();
  for (const [key, entry] of store.entries) {
    const kind = key.startsWith('corr:') ? key.slice(0, key.indexOf(':', 5) + 1) : key.slice(0, key.indexOf(':') + 1);
    const k = kinds.get(kind) || { n: 0, chars: 0 };
    k.n++;
    k.chars += key.length + entry.value.length;
    kinds.set(kind, k);
  }
  // What goes with the correlator (the store stays): this replica's own bounded caches and indexes.
  const pods = held.correlation.correlator.stats().pods;
  held.correlation = undefined;
  gc();
  const storeOnly = process.memoryUsage().heapUsed;
  return {
    mb: (after - before) / 1048576,
    localMb: (after - storeOnly) / 1048576,
    pods,
    store: [...kinds].sort((a, b) => b[1].chars - a[1].chars),
  };
}

(async () => {
  const scenarios = [
    ['busy: 1 in 10 events an exec by one of 50 users (their incidents span many pods)', workload(N, 10, 50)],
    ['sparse: 1 in 100 events an exec, 1000 users', workload(N, 100, 1000)],
  ];
  await cpuPerEvent(true, scenarios[0][1].slice(0, 2000)); // warm-up
  await cpuPerEvent(false, scenarios[0][1].slice(0, 2000));
  console.log(
    `correlate: ${N} events per scenario (exec audit events and runtime alerts in their sessions, 1000 pods), best of 3`,
  );
  for (const [name, events] of scenarios.filter((_, i) => !process.env.BENCH_ONLY || String(i) === process.env.BENCH_ONLY)) {
    const runs = { off: [], on: [] };
    for (let r = 0; r < 3; r++) {
      runs.off.push(await cpuPerEvent(false, events));
      runs.on.push(await cpuPerEvent(true, events));
    }
    const off = Math.min(...runs.off);
    const on = Math.min(...runs.on);
    console.log(`  ${name}`);
    console.log(
      `    ${off.toFixed(1)} µs CPU/event without correlation, ${on.toFixed(1)} with (+${(on - off).toFixed(1)} µs: +${(((on - off) / off) * 100).toFixed(0)}% of the in-process pipeline, ~${(((on - off) / FULL_PATH_US) * 100).toFixed(0)}% of the ~${FULL_PATH_US} µs full path; goal < 10%)`,
    );
  }
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
    `    of which ${(m.mb - m.localMb).toFixed(0)} MB the store (Redis in scale-out mode) and ${m.localMb.toFixed(0)} MB this replica's own caches and indexes; in the store: ${m.store.map(([k, v]) => `${names[k] || k} ${v.n} (${(v.chars / 1048576).toFixed(1)} MB)`).join(', ')}`,
  );
})();
