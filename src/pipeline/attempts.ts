import { UnavailableError } from '../core/errors';

/** The steps of one event's processing, as a failure names them (a label of `falconer_events_parked_total`). */
export type Stage = 'observe' | 'detect' | 'enrich' | 'correlate' | 'alert';

export interface EventFailure {
  stage: Stage;
  error: unknown;
  attempts: number;
}

/**
 * Runs one event's processing up to `maxAttempts` times in a row and says how the last attempt
 * failed, or undefined when one succeeded. `work` reports the stage it enters, so the failure names it.
 *
 * An `UnavailableError` (the state store or bus is down) is not the event's fault: it is thrown on
 * at once, so the bus delivers the batch again later instead of parking a good event. Anything else
 * is taken as caused by the event (a bug its content triggers), retried right away, and after the
 * last attempt handed back for parking, so the rest of the batch flows on.
 */
export async function attempt(
  maxAttempts: number,
  work: (enter: (stage: Stage) => void) => Promise<void> | undefined,
): Promise<EventFailure | undefined> {
  let failure: EventFailure | undefined;
  for (let attempts = 1; attempts <= maxAttempts; attempts++) {
    let stage: Stage = 'observe';
    try {
      // Work that finished synchronously is not awaited: no microtask turn per event that makes nothing.
      const pending = work((s) => (stage = s));
      if (pending) await pending;
      return undefined;
    } catch (error) {
      if (error instanceof UnavailableError) throw error;
      failure = { stage, error, attempts };
    }
  }
  return failure;
}
