'use strict';
// Profiles one scenario of bench/run.js: the server runs with --cpu-prof, takes `seconds` of load, and
// the top functions by self time are printed from the .cpuprofile it writes.
// node bench/profile.js [subject=full] [workload=falco] [seconds=5] [top=30]
// (two subjects, e.g. full,full-nocorr with BENCH_ABLATE=1: each profiled, then self time per event compared)
// (subjects: bare, ingest, ingest-dd, full, full-dd; workloads: falco, audit100, audit400).
// node bench/profile.js read <file.cpuprofile> [top] [function] prints an existing profile (with a
// function name: where its self time is called from).
const { mkdtempSync, readdirSync, readFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, relative } = require('node:path');

/** Self time (µs) per function (name, file, line), from a V8 .cpuprofile's samples from `sinceUs` on. */
function selfTimes(profile, sinceUs = 0) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = profile.timeDeltas;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += dt[i] || 0;
    if (t < sinceUs) continue; // start-up (rule compilation, module loading) is not the hot path
    const f = byId.get(profile.samples[i]).callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url ? `${relative(process.cwd(), f.url.replace('file://', ''))}:${f.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) || 0) + (dt[i] || 0));
  }
  return self;
}

function topSelf(profile, top, sinceUs = 0) {
  const self = selfTimes(profile, sinceUs);
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  console.log(`total ${(total / 1000).toFixed(0)} ms sampled`);
  for (const [k, us] of rows)
    console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
}

/** Where `name`'s self time comes from: its callers, five frames up, heaviest first. */
function callers(profile, name, top) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children || []) parent.set(c, n.id);
  const chains = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const n = byId.get(profile.samples[i]);
    if (n.callFrame.functionName !== name) continue;
    const chain = [];
    for (let id = parent.get(n.id); id && chain.length < (Number(process.env.DEPTH) || 5); id = parent.get(id)) {
      const f = byId.get(id).callFrame;
      chain.push(`${f.functionName || '(anonymous)'}@${f.url.split('/').pop()}:${f.lineNumber + 1}`);
    }
    const key = chain.join(' < ');
    chains.set(key, (chains.get(key) || 0) + (profile.timeDeltas[i] || 0));
  }
  for (const [k, us] of [...chains.entries()].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
}

/**
 * Two profiles' self time per event, side by side, the largest differences first (`(idle)` left out:
 * the profiler samples wall time). Each `{ profile, sinceUs, events }`.
 */
function diff(a, b, top) {
  const per = (p) => {
    const m = selfTimes(p.profile, p.sinceUs);
    m.delete('(idle) ');
    for (const [k, us] of m) m.set(k, us / Math.max(1, p.events));
    return m;
  };
  const [x, y] = [per(a), per(b)];
  const sum = (m) => [...m.values()].reduce((s, v) => s + v, 0);
  console.log(
    `sampled µs per event (not idle): ${sum(x).toFixed(1)} vs ${sum(y).toFixed(1)}, difference ${(sum(x) - sum(y)).toFixed(1)}`,
  );
  const keys = new Set([...x.keys(), ...y.keys()]);
  const rows = [...keys]
    .map((k) => [k, x.get(k) ?? 0, y.get(k) ?? 0])
    .sort((p, q) => Math.abs(q[1] - q[2]) - Math.abs(p[1] - p[2]));
  for (const [k, u, v] of rows.slice(0, top))
    console.log(`${(u - v).toFixed(2).padStart(7)}  ${u.toFixed(2).padStart(7)} ${v.toFixed(2).padStart(7)}  ${k}`);
}

async function main() {
  if (process.argv[2] === 'diff') {
    // node bench/profile.js diff <a.cpuprofile> <events in a> <b.cpuprofile> <events in b> [top]: whole profiles.
    const [, , , a, na, b, nb, top = '40'] = process.argv;
    const read = (file, events) => ({ profile: JSON.parse(readFileSync(file, 'utf8')), sinceUs: 0, events: Number(events) });
    return diff(read(a, na), read(b, nb), Number(top));
  }
  if (process.argv[2] === 'read') {
    const profile = JSON.parse(readFileSync(process.argv[3], 'utf8'));
    return process.argv[5]
      ? callers(profile, process.argv[5], Number(process.argv[4] || 10))
      : topSelf(profile, Number(process.argv[4] || 30));
  }
  // Two subjects (`full,full-nocorr`): each profiled in turn, then their self time per event compared.
  const [subjects = 'full', workload = 'falco', seconds = '5', top = '30'] = process.argv.slice(2);
  const { startServer, stop, load, workloads, SUBJECTS } = require('./run');
  const w = workloads()[workload];
  const profiled = [];
  for (const subject of subjects.split(',')) {
    const dir = mkdtempSync(join(tmpdir(), 'falconer-prof-'));
    process.env.BENCH_PROFILE = dir;
    const opts = SUBJECTS.find((s) => s.key === subject)?.opts;
    if (subject !== 'bare' && !opts) throw new Error(`unknown subject ${subject} (ablations need BENCH_ABLATE=1)`);
    const server = subject === 'bare' ? await startServer('bare') : await startServer('falconer', opts);
    const path = subject === 'bare' ? '/' : w.path;
    await load(server, path, w, 1); // warm-up
    const loadStartUs = Number(process.hrtime.bigint() / 1000n);
    const r = await load(server, path, w, Number(seconds));
    await stop(server);
    console.log(
      `${subject} ${workload}: ${r.eventsPerSec.toFixed(0)} ev/s, ${r.cpuPerEvent.toFixed(1)} µs CPU/ev, drain ${r.drainMs} ms`,
    );
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    console.log(`profile: ${join(dir, file)}`);
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    // Profile times are the server's hrtime in µs, the same clock as ours.
    topSelf(profile, Number(top), loadStartUs);
    profiled.push({ profile, sinceUs: loadStartUs, events: r.events });
  }
  if (profiled.length === 2) {
    console.log(`\n${subjects}: self time per event, the largest differences first (µs: difference, first, second)`);
    diff(profiled[0], profiled[1], Number(top));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
