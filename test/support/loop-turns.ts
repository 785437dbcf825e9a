import { join } from 'node:path';
import type { ChildFalconer } from './child-falconer';

/** Node arguments for startChildFalconer that load the event-loop monitor of loop-monitor.js. */
export const LOOP_TURNS_ARGS = ['--require', join(__dirname, 'loop-monitor.js')];

export interface LoopTurns {
  /** Longest main-thread CPU time (ms) between two turns of the event loop. */
  maxMs: number;
  /** Turns seen (runs of the 1 ms interval). */
  turns: number;
  /** The few longest stretches, longest first. */
  longest: number[];
}

/**
 * What a child started with LOOP_TURNS_ARGS saw since the last call (the first call only starts the
 * count afresh, e.g. after a warm-up).
 */
export async function loopTurns(f: ChildFalconer): Promise<LoopTurns> {
  const reports = () => f.output().match(/^loop-turns .*\n/gm) ?? [];
  const before = reports().length;
  f.child.kill('SIGUSR2');
  const deadline = Date.now() + 10_000;
  while (reports().length === before) {
    if (Date.now() > deadline) throw new Error(`no loop-turns report from the child:\n${f.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return JSON.parse(reports()[before]!.slice('loop-turns '.length).trim()) as LoopTurns;
}
