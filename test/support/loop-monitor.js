'use strict';
/**
 * Preloaded into a child Falconer (`node --require`, see loop-turns.ts): measures the longest stretch
 * of work its event loop did without a turn, as main-thread CPU time between two runs of a 1 ms
 * interval (a timer runs once per turn, so nothing in between let the loop go round). CPU time, not
 * wall time: a process the OS schedules out on a busy machine burns none, so the figure is the code's,
 * not the machine's load. On SIGUSR2 it writes what it saw since the last report to stderr, then
 * starts afresh.
 */
const cpuMs = () => {
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1000;
};

let last = cpuMs();
let maxMs = 0;
let turns = 0;
/** The longest stretches, longest first (a few, for the failure message). */
let longest = [];

const tick = setInterval(() => {
  const now = cpuMs();
  const ms = now - last;
  last = now;
  turns++;
  if (ms > maxMs) maxMs = ms;
  if (longest.length < 5 || ms > longest[longest.length - 1]) {
    longest.push(ms);
    longest.sort((a, b) => b - a);
    longest.length = Math.min(longest.length, 5);
  }
}, 1);
tick.unref();

process.on('SIGUSR2', () => {
  const round = (ms) => Math.round(ms * 10) / 10;
  process.stderr.write(`loop-turns ${JSON.stringify({ maxMs: round(maxMs), turns, longest: longest.map(round) })}\n`);
  maxMs = 0;
  turns = 0;
  longest = [];
  last = cpuMs();
});
