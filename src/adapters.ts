import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { Clock } from './core/clock';
import type { Config } from './config/schema';
import type { EventBus } from './bus/port';
import { MemoryBus } from './bus/memory';
import { JournalBus } from './bus/journal';
import { KafkaBus, KafkaRawSource, type BusLogger, type KafkaConnection } from './bus/kafka';
import type { StateStore } from './store/port';
import { MemoryStateStore } from './store/memory';
import { RedisStateStore } from './store/redis';
import { DurableStateStore } from './store/durable';
import { isUnprocessedClaim } from './ingest/claims';
import { DataDir } from './store/data-dir';
import type { Logger } from './observability/logger';
import type { EventDeadLetterStore } from './store/event-dead-letters/port';
import { MemoryEventDeadLetterStore } from './store/event-dead-letters/memory';
import { RedisEventDeadLetterStore } from './store/event-dead-letters/redis';
import { DurableEventDeadLetterStore } from './store/event-dead-letters/durable';
import { falcoTopicHandler } from './bus/falco-topic';
import type { DependencyStats, Metrics } from './observability/metrics';

type KafkaConfig = NonNullable<Config['kafka']>;
type RedisConfig = NonNullable<Config['redis']>;

/**
 * Opens the data dir when embedded mode has a part to keep there (no Kafka, or no Redis). Undefined
 * when there is none, or when it is not usable: then embedded mode runs memory-only, and says so.
 */
export async function openDataDir(
  config: Config,
  clock: Clock,
  log: Pick<Logger, 'info' | 'warn'>,
): Promise<DataDir | undefined> {
  if (config.kafka && config.redis) return undefined;
  const opened = await DataDir.open(config.dataDir, clock.now(), undefined, { clock });
  if (typeof opened === 'string') {
    log.warn(`embedded mode is memory-only: ${opened}; a crash or restart loses queued events and alert state`);
    return undefined;
  }
  const { replayed } = opened.db;
  if (replayed.records > 0 || replayed.torn > 0)
    log.info(
      { records: replayed.records, writes: replayed.writes, tornBytes: replayed.torn },
      'data dir: applied the redo log the last run left',
    );
  log.info({ dataDir: opened.path }, 'embedded mode keeps its queue and state in the data dir');
  return opened;
}

/**
 * Picks the bus from config: Kafka when brokers are configured, else the in-process queue, with its
 * journal in the data dir when there is one.
 */
const MAX_BATCHES_IN_FLIGHT = 8;

export function createBus(
  config: Config,
  clock: Clock,
  onHandlerError: (err: unknown) => void,
  logger?: BusLogger,
  dataDir?: DataDir,
  /** Whether the pipeline is held up by a wait (the embedded bus then lets the next batch go). */
  parked?: () => boolean,
): EventBus {
  if (config.kafka) {
    return new KafkaBus({
      ...kafkaConnection(config.kafka, logger),
      topic: config.kafka.topic,
      partitions: config.kafka.partitions,
      ...(config.kafka.replicationFactor ? { replicationFactor: config.kafka.replicationFactor } : {}),
      groupId: config.kafka.groupId,
      batchSize: config.pipeline.batchSize,
      retryDelayMs: 1000,
      publishTimeoutMs: config.kafka.publishTimeoutSeconds * 1000,
      sessionTimeoutMs: config.kafka.sessionTimeoutSeconds * 1000,
      onHandlerError,
    });
  }
  const options = {
    capacity: config.pipeline.queueCapacity,
    capacityBytes: config.pipeline.queueBytes,
    batchSize: config.pipeline.batchSize,
    waitForRoomMs: config.pipeline.queueWaitSeconds * 1000,
    // A batch whose event waits for its pod's state (enrichment.waitForStateMs) lets later ones by;
    // the pipeline keeps each pod's order. At most this many batches' events are held up by waits.
    maxBatchesInFlight: MAX_BATCHES_IN_FLIGHT,
    ...(parked ? { parked } : {}),
    retryDelayMs: 1000,
    onHandlerError,
  };
  return dataDir ? new JournalBus(clock, dataDir, options) : new MemoryBus(clock, options);
}

/**
 * The optional third ingest source: Falcosidekick's Kafka output topic. Undefined unless
 * `kafka.falcoTopic` is configured; the caller parses each value as a Falco event.
 */
export function createFalcoTopicSource(
  config: Config,
  onHandlerError: (err: unknown) => void,
  logger?: BusLogger,
): KafkaRawSource | undefined {
  if (!config.kafka?.falcoTopic) return undefined;
  return new KafkaRawSource({
    ...kafkaConnection(config.kafka, logger),
    topic: config.kafka.falcoTopic,
    groupId: config.kafka.falcoGroupId,
    batchSize: config.pipeline.batchSize,
    retryDelayMs: 1000,
    sessionTimeoutMs: config.kafka.sessionTimeoutSeconds * 1000,
    onHandlerError,
  });
}

/**
 * Starts reading Falcosidekick's Kafka topic into the bus when `kafka.falcoTopic` is configured
 * (undefined otherwise). The caller adds its health to /readyz and closes it before the bus.
 */
export async function startFalcoTopicIngest(
  config: Config,
  bus: EventBus,
  metrics: Metrics,
  logger: BusLogger,
  now: () => number,
): Promise<KafkaRawSource | undefined> {
  const source = createFalcoTopicSource(
    config,
    (err) => {
      metrics.pipelineErrors.inc({ stage: 'falco_topic' });
      logger.error({ err: (err as Error)?.message }, 'falco topic chunk not published; it will be read again');
    },
    logger,
  );
  if (!source) return undefined;
  const { cluster, maxJsonDepth, maxFieldLength } = { cluster: config.cluster, ...config.ingest };
  await source.start(falcoTopicHandler(bus, metrics, logger, { cluster, maxJsonDepth, maxFieldLength, now }));
  return source;
}

/** Exposes what the Kafka and Redis adapters and the data dir count (lag, errors, commits…) as metrics. */
export function watchDependencies(
  metrics: Metrics,
  deps: { bus: EventBus; store: StateStore; falcoTopic?: KafkaRawSource | undefined; dataDir?: DataDir | undefined },
): void {
  metrics.watchDependencies(() => {
    const stats: DependencyStats = { consumers: {} };
    if (deps.bus instanceof KafkaBus) {
      const { publishErrors, ...consumer } = deps.bus.stats();
      stats.publishErrors = publishErrors;
      stats.consumers!.events = consumer;
    }
    if (deps.falcoTopic) stats.consumers!.falco_topic = deps.falcoTopic.stats();
    if (deps.store instanceof RedisStateStore) stats.redis = deps.store.stats();
    if (deps.dataDir) stats.dataDir = deps.dataDir.db.stats();
    return stats;
  });
}

export interface StoreHooks {
  onError?: (err: Error) => void;
  onReconnect?: () => void;
}

/**
 * Picks the state store from config: Redis when a URL is configured, else process memory, kept in the
 * data dir when there is one.
 */
export function createStore(config: Config, clock: Clock, hooks: StoreHooks = {}, dataDir?: DataDir): StateStore {
  if (config.redis) {
    return new RedisStateStore({
      url: config.redis.url,
      keyPrefix: config.redis.keyPrefix,
      ...(config.redis.password ? { password: config.redis.password } : {}),
      ...redisTls(config.redis.tls),
      ...hooks,
    });
  }
  // Retry claims need not survive a restart (the journal and the processed marks decide what is redone).
  return dataDir ? new DurableStateStore(clock, dataDir, { volatile: isUnprocessedClaim }) : new MemoryStateStore(clock);
}

/** The event dead-letter store beside the state store: in Redis (shared by the replicas) or in memory. */
export function createEventDeadLetterStore(config: Config, store: StateStore, dataDir?: DataDir): EventDeadLetterStore {
  const bounds = { maxCount: config.pipeline.deadLetters.maxCount, maxBytes: config.pipeline.deadLetters.maxBytes };
  if (store instanceof RedisStateStore) return new RedisEventDeadLetterStore(store, bounds);
  return dataDir ? new DurableEventDeadLetterStore(bounds, dataDir) : new MemoryEventDeadLetterStore(bounds);
}

function kafkaConnection(kafka: KafkaConfig, logger: BusLogger | undefined): KafkaConnection {
  return {
    brokers: kafka.brokers,
    clientId: kafka.clientId,
    ...(kafka.tls ? { ssl: kafkaTls(kafka.tls) } : {}),
    ...(kafka.sasl ? { sasl: kafka.sasl } : {}),
    ...(logger ? { logger } : {}),
  };
}

function kafkaTls(tls: Exclude<KafkaConfig['tls'], false>): true | ConnectionOptions {
  if (tls === true) return true;
  return {
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(tls.caFile ? { ca: readFileSync(tls.caFile, 'utf8') } : {}),
    ...(tls.certFile ? { cert: readFileSync(tls.certFile, 'utf8') } : {}),
    ...(tls.keyFile ? { key: readFileSync(tls.keyFile, 'utf8') } : {}),
    ...(tls.servername ? { servername: tls.servername } : {}),
  };
}

function redisTls(tls: RedisConfig['tls']): {
  tls?: { ca?: string; servername?: string; rejectUnauthorized: boolean } | true;
} {
  if (tls === false) return {};
  if (tls === true) return { tls: true };
  return {
    tls: {
      rejectUnauthorized: tls.rejectUnauthorized,
      ...(tls.caFile ? { ca: readFileSync(tls.caFile, 'utf8') } : {}),
      ...(tls.servername ? { servername: tls.servername } : {}),
    },
  };
}
