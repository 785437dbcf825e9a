'use strict';
/**
 * The console's history in memory (embedded mode): 100k alerts stored the way the app stores them
 * (row, the alert's API JSON with a typical enrichment, one raw event as evidence; the alerts of one
 * pod share its enrichment parts, as the enricher hands them out), then the memory
 * it takes (RSS and heap, after a GC) and the latency of the console's queries over it: the first
 * page (which counts every match), a later page by cursor, filters, free text, stats, a silence
 * preview. Bars: under 1 GB RSS growth, the first page under 250 ms, a cursor page under 20 ms.
 * Run after `npm run build`: node --expose-gc bench/console.js [alerts=100000]
 */
const { join, resolve } = require('node:path');
const dist = resolve(process.env.FALCONER_DIST || join(__dirname, '..', 'dist'));
const { normaliseFalco } = require(join(dist, 'ingest/falco'));
const { alertLabels } = require(join(dist, 'alert/labels'));
const { evidenceOf } = require(join(dist, 'alert/evidence'));
const { MemoryConsoleHistory } = require(join(dist, 'console/history/memory'));
const { ConsoleService } = require(join(dist, 'console/service'));
const { createMetrics } = require(join(dist, 'observability/metrics'));
const { systemClock } = require(join(dist, 'core/clock'));
const { listAlerts, alertStats, previewSilence, parseFilter } = require(join(dist, 'console/query'));
const { fromApiMatcher } = require(join(dist, 'alert/matcher'));
const { SessionStore } = require(join(dist, 'console/session'));
const { MemorySessions } = require(join(dist, 'console/session-backends'));
const BOUNDS = { max: 10, idleMs: 60_000, absoluteMs: 3_600_000 };

const N = Number(process.argv[2] || 100_000);
/** Distinct pods the alerts are spread over (20 alerts per pod at 100k). */
const PODS = 5000;
const T0 = Date.now() - 3_600_000;
const PRIORITIES = ['critical', 'error', 'warning', 'notice', 'informational'];
const ctx = { cluster: 'bench', maxJsonDepth: 64, maxFieldLength: 16 * 1024, now: () => T0 };
const mb = (bytes) => Math.round(bytes / 1024 / 1024);
const gc = () => global.gc?.();

function alertOf(i) {
  const ns = `ns-${i % 200}`;
  const pod = `web-${i % PODS}-7c9f8d-${((i % PODS) * 7919).toString(36).slice(-5)}`;
  const priority = PRIORITIES[i % PRIORITIES.length];
  const event = normaliseFalco(
    {
      uuid: `bench-${i}`,
      output: `A shell was spawned in a container with an attached terminal (user=root ${ns}/${pod} command=bash -c step-${i % 7})`,
      priority,
      rule: `Rule number ${i % 150}`,
      time: new Date(T0 + i * 30).toISOString(),
      output_fields: {
        'container.id': '734cfc07ae4d',
        'container.name': 'app',
        'container.image.repository': 'docker.io/library/nginx',
        'k8s.ns.name': ns,
        'k8s.pod.name': pod,
        'proc.name': 'bash',
        'proc.cmdline': `bash -c step-${i % 7}`,
        'proc.pname': 'runc',
        'proc.tty': 34816,
        'user.name': `user-${i % 300}`,
      },
      source: 'syscall',
      tags: ['T1059', 'container', 'shell', 'mitre_execution'],
      hostname: `node-${i % 20}`,
    },
    ctx,
  );
  const detection = {
    rule: event.falco.rule,
    ruleId: event.falco.rule,
    priority,
    source: 'falco',
    tags: event.falco.tags,
    summary: event.falco.output,
    event,
  };
  const enrichment = sharedParts(i, ns, pod);
  const at = T0 + i * 30;
  return {
    fingerprint: `fp${i.toString(16).padStart(14, '0')}`,
    rule: detection.rule,
    ruleId: detection.ruleId,
    priority,
    source: 'falco',
    tags: detection.tags,
    summary: detection.summary,
    runbookUrl: `https://runbooks.example.com/rule-number-${i % 150}`,
    labels: alertLabels(detection, enrichment),
    evidence: [event.id],
    event: evidenceOf(event),
    enrichment,
    count: 1 + (i % 4),
    firstSeen: at,
    lastSeen: at,
  };
}

/**
 * The enrichment of alert `i`: a new object per alert whose parts are shared by the alerts of one pod
 * (and one user), as the enricher hands them out for an unchanged pod state.
 */
const podParts = new Map();
const subjectParts = new Map();
function sharedParts(i, ns, pod) {
  let subject = subjectParts.get(i % 300);
  if (!subject) {
    subject = { known: false, reason: 'the event names no Kubernetes user', user: `user-${i % 300}` };
    subjectParts.set(i % 300, subject);
  }
  let parts = podParts.get(i % PODS);
  if (!parts) podParts.set(i % PODS, (parts = podEnrichment(i, ns, pod)));
  return { subject, ...parts };
}

function podEnrichment(i, ns, pod) {
  return {
    pod: {
      known: true,
      namespace: ns,
      name: pod,
      origin: 'state',
      serviceAccount: 'web',
      node: `node-${i % 20}`,
      privileged: false,
      privilegedContainers: [],
      hostNetwork: false,
      hostPID: false,
      hostIPC: false,
      capabilitiesAdded: [],
      runAsRoot: 'possible',
      hostPathVolumes: [],
      pss: {
        level: 'baseline',
        version: 'latest',
        violations: [
          {
            check: 'runAsNonRoot',
            reason: 'runAsNonRoot != true',
            detail: 'pod or containers "app" must set securityContext.runAsNonRoot=true',
          },
        ],
      },
      namespacePolicy: {
        known: true,
        enforce: 'baseline:latest',
        audit: 'restricted:latest',
        warn: 'restricted:latest',
        meetsEnforce: true,
        errors: [],
      },
    },
    network: {
      known: true,
      namespace: ns,
      ingress: { isolated: true, policies: ['web-ingress'], defaultDeny: true, anyPeerAllowed: false },
      egress: { isolated: false, policies: [], defaultDeny: false, anyPeerAllowed: false },
    },
  };
}

async function timedAsync(fn, runs) {
  const times = [];
  let result;
  for (let r = 0; r < runs; r++) {
    const t = process.hrtime.bigint();
    result = await fn();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(runs / 2)], max: times[runs - 1], result };
}

async function main() {
  gc();
  const before = process.memoryUsage();
  const history = new MemoryConsoleHistory(
    { maxAlerts: N, maxBytes: 4 * 1024 ** 3, maxAgeMs: 72 * 3_600_000, evidencePerAlert: 5, evidenceMaxBytes: 8192 },
    () => T0 + N * 30,
  );
  const sessions = new SessionStore(new MemorySessions(BOUNDS), systemClock, BOUNDS, () => {
    throw new Error('no sign-in in the bench');
  });
  const service = new ConsoleService(
    history,
    sessions,
    systemClock,
    {
      evidencePerAlert: 5,
      stream: { maxSubscribers: 10, maxBufferedBytes: 1 << 20 },
      resolveAfterMs: 300_000,
      secureCookies: false,
      uiDir: '',
    },
    createMetrics(),
    { warn: () => undefined },
  );
  // Alerts are made outside the timing: what is timed is the console's part (mark, JSON, write).
  let storeNs = 0n;
  let storeCpuUs = 0;
  const BATCH = 1000;
  for (let i = 0; i < N; i += BATCH) {
    const alerts = [];
    for (let j = i; j < Math.min(N, i + BATCH); j++) alerts.push(alertOf(j));
    const t = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    for (const alert of alerts) service.record(alert);
    await service.idle();
    storeNs += process.hrtime.bigint() - t;
    const used = process.cpuUsage(cpu);
    storeCpuUs += used.user + used.system;
  }
  const storeMs = Number(storeNs) / 1e6;
  gc();
  const after = process.memoryUsage();
  const size = await history.size();

  const first = await timedAsync(() => listAlerts(history, {}, 100, undefined), 20);
  const cursor = first.result.nextCursor;
  const later = await timedAsync(() => listAlerts(history, {}, 100, cursor), 50);
  const byNamespace = await timedAsync(() => listAlerts(history, parseFilter({ namespace: 'ns-17' }), 100, undefined), 20);
  const rare = await timedAsync(
    () => listAlerts(history, parseFilter({ priority: 'critical', user: 'user-7' }), 100, undefined),
    20,
  );
  const text = await timedAsync(() => listAlerts(history, parseFilter({ q: 'STEP-3' }), 100, undefined), 20);
  const stats = await timedAsync(() => alertStats(history, T0, T0 + N * 30, 48), 10);
  const matchers = [fromApiMatcher({ name: 'namespace', value: 'ns-1[0-9]', isRegex: true, isEqual: true })];
  const preview = await timedAsync(() => previewSilence(history, matchers), 10);
  const fp = `fp${(N >> 1).toString(16).padStart(14, '0')}`;
  const detail = await timedAsync(() => history.get(fp), 50);

  const row = (name, t, extra = '') =>
    console.log(`  ${name.padEnd(34)} p50 ${t.p50.toFixed(2).padStart(7)} ms   max ${t.max.toFixed(2).padStart(7)} ms ${extra}`);
  console.log(
    `console history (memory): ${N} alerts stored in ${Math.round(storeMs)} ms (${((storeMs * 1000) / N).toFixed(1)} µs each, ${(storeCpuUs / N).toFixed(1)} µs CPU)`,
  );
  console.log(
    `  RSS +${mb(after.rss - before.rss)} MB (total ${mb(after.rss)} MB), heap used +${mb(after.heapUsed - before.heapUsed)} MB; ` +
      `${Math.round((after.heapUsed - before.heapUsed) / N)} heap bytes per alert; estimated ${mb(size.bytes)} MB (${Math.round(size.bytes / N)} per alert)`,
  );
  row('first page, no filter (counts all)', first, `total ${first.result.total}`);
  row('next page by cursor', later);
  row('namespace=ns-17', byNamespace, `total ${byNamespace.result.total}`);
  row('priority=critical&user=user-7', rare, `total ${rare.result.total}`);
  row('q=STEP-3', text, `total ${text.result.total}`);
  row('stats, 48 buckets over all', stats);
  row('silence preview namespace=~ns-1[0-9]', preview, `total ${preview.result.total}`);
  row('one alert with evidence', detail);
  const rssMb = mb(after.rss - before.rss);
  const ok = rssMb < 1024 && first.p50 < 250 && later.p50 < 20;
  console.log(ok ? '  within the bars' : '  OVER A BAR');
  if (!ok) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
