import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock';
import type { SecurityEvent } from '../core/event';
import type { EventBus } from '../bus/port';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { EventDeadLetterStore } from '../store/event-dead-letters/port';
import type { StateStore } from '../store/port';
import type { EventFailure, Stage } from './attempts';
import { seenKey } from './seen';
import { summarise, text, type EventSummary } from './summary';

export interface EventDeadLettersOptions {
  /** Largest letter kept with its event; a larger event is kept as its summary only (not replayable). */
  maxLetterBytes: number;
  /** Most letters one replay takes. */
  replayBatch: number;
}

/** A parked event as the API lists it: what failed, where, how often, and what the event was. */
export interface ParkedEvent {
  id: string;
  stage: Stage;
  error: string;
  /** The top of the stack, for the developer who fixes the bug. */
  stack?: string;
  attempts: number;
  parkedAt: number;
  /** False when the event was too large to keep whole: it is listed but cannot be replayed. */
  replayable: boolean;
  event: EventSummary;
}

interface Letter extends ParkedEvent {
  payload?: SecurityEvent;
}

export interface ReplayResult {
  /** Published to the bus again. */
  replayed: number;
  /** Left in the store: not replayable, or the bus refused them. */
  kept: number;
}

const MAX_ERROR = 1_000;
const STACK_LINES = 6;

/**
 * Parking and replay of events that kept failing in the pipeline (docs/reliability.md). A parked
 * event is marked seen, so a redelivery skips it; a replay clears that mark and publishes the event
 * through the bus again, to be processed like a new one.
 */
export class EventDeadLetters {
  constructor(
    private readonly letters: EventDeadLetterStore,
    private readonly state: StateStore,
    private readonly bus: EventBus,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly options: EventDeadLettersOptions,
  ) {}

  async park(event: SecurityEvent, failure: EventFailure): Promise<void> {
    const err = failure.error instanceof Error ? failure.error : new Error(String(failure.error));
    const view: ParkedEvent = {
      id: letterId(event),
      stage: failure.stage,
      error: text(`${err.name}: ${err.message}`, MAX_ERROR)!,
      ...(err.stack ? { stack: text(err.stack.split('\n').slice(1, STACK_LINES).join('\n'), MAX_ERROR)! } : {}),
      attempts: failure.attempts,
      parkedAt: this.clock.now(),
      replayable: true,
      event: summarise(event),
    };
    let letter = JSON.stringify({ ...view, payload: event } satisfies Letter);
    if (Buffer.byteLength(letter) > this.options.maxLetterBytes) letter = JSON.stringify({ ...view, replayable: false });
    const evicted = await this.letters.put(view.id, letter);
    this.metrics.eventsParked.inc({ stage: view.stage });
    if (evicted) this.metrics.eventDeadLettersEvicted.inc(evicted);
    this.log.error(
      {
        letter: view.id,
        stage: view.stage,
        attempts: view.attempts,
        err: view.error,
        event: { id: view.event.id, source: view.event.source, rule: view.event.rule },
        replayable: view.replayable,
        evicted,
      },
      'event parked in the dead-letter store after repeated failures',
    );
  }

  async list(limit: number): Promise<ParkedEvent[]> {
    return (await this.letters.list(limit)).map(({ letter }) => {
      const { payload: _payload, ...view } = JSON.parse(letter) as Letter;
      return view;
    });
  }

  /** Publishes parked events again (all, up to `replayBatch`, or those with the given ids). */
  async replay(ids?: readonly string[]): Promise<ReplayResult> {
    const taken = await this.letters.take(ids, this.options.replayBatch);
    const results = await Promise.allSettled(
      taken.map(async ({ letter }) => {
        const event = (JSON.parse(letter) as Letter).payload;
        if (!event) throw new Error('not replayable');
        await this.state.delete(seenKey(event));
        await this.bus.publish([event]);
      }),
    );
    const keep = taken.filter((_, i) => results[i]!.status === 'rejected');
    // Put back what could not go; a store that fails now answers the request (503).
    for (const { id, letter } of keep) await this.letters.put(id, letter);
    const replayed = taken.length - keep.length;
    if (replayed) this.log.info({ replayed, kept: keep.length }, 'parked events replayed');
    return { replayed, kept: keep.length };
  }

  async count(): Promise<number> {
    return (await this.letters.size()).count;
  }
}

/** A short id for the URL and the store: the event's identity hashed (ids themselves may be long). */
export function letterId(event: Pick<SecurityEvent, 'source' | 'id' | 'k8s'>): string {
  // The identity as the `seen:` key once spelled it, so letter ids stay what earlier versions gave.
  const k8s = event.k8s as SecurityEvent['k8s'] | undefined;
  return createHash('sha256').update(`seen:${event.source}:${k8s?.cluster}:${event.id}`).digest('hex').slice(0, 32);
}
