import type { EventBus } from './port';
import type { SecurityEvent } from '../core/event';
import { FalconerError, InvalidEventError } from '../core/errors';
import { parseJson } from '../ingest/json';
import { normaliseFalco } from '../ingest/falco';
import type { Metrics } from '../observability/metrics';
import type { BusLogger } from './kafka';

export interface FalcoTopicOptions {
  cluster: string;
  maxJsonDepth: number;
  maxFieldLength: number;
  now: () => number;
}

/**
 * The handler for Falcosidekick's Kafka output: each message value is one Falco JSON event, parsed
 * and normalised exactly as `POST /v1/events/falco` does, then published to Falconer's own bus. It
 * resolves only once the bus holds the events, so the source commits its offsets after that; a
 * message that can never be an event is counted as rejected and skipped, a bus that cannot take the
 * events rejects, and the chunk is read again.
 */
export function falcoTopicHandler(
  bus: EventBus,
  metrics: Metrics,
  log: BusLogger,
  options: FalcoTopicOptions,
): (values: string[]) => Promise<void> {
  return async (values) => {
    const events: SecurityEvent[] = [];
    for (const value of values) {
      try {
        events.push(parseFalcoMessage(value, options));
      } catch (err) {
        if (!(err instanceof FalconerError)) throw err;
        metrics.eventsReceived.inc({ source: 'falco_topic', outcome: 'rejected' });
        log.warn({ err: err.message }, 'falco topic message skipped: not a Falco event');
      }
    }
    if (events.length === 0) return;
    await bus.publish(events);
    metrics.eventsReceived.inc({ source: 'falco_topic', outcome: 'accepted' }, events.length);
  };
}

function parseFalcoMessage(value: string, options: FalcoTopicOptions): SecurityEvent {
  const body = parseJson(value, { maxDepth: options.maxJsonDepth });
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidEventError('message must be one Falco event (a JSON object)');
  }
  return normaliseFalco(body, { cluster: options.cluster, receivedAt: options.now(), maxFieldLength: options.maxFieldLength });
}
