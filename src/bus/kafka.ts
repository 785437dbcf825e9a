import type { ConnectionOptions } from 'node:tls';
import {
  Kafka,
  Partitioners,
  logLevel,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type KafkaMessage,
  type LogEntry,
  type Producer,
  type RetryOptions,
  type SASLOptions,
} from 'kafkajs';
import { UnavailableError } from '../core/errors';
import { partitionKey, type SecurityEvent } from '../core/event';
import { ProgressTracker } from './progress';
import type { BusHealth, ConsumerProgress, EventBus } from './port';

/** The subset of a pino logger the adapter writes to. */
/** Most bytes of event JSON coalesced into one send; well under the brokers' default 1 MB batch limit. */
const COALESCE_MAX_BYTES = 512 * 1024;

interface PendingPublish {
  messages: { key: string; value: string }[];
  bytes: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface BusLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface KafkaConnection {
  brokers: string[];
  clientId: string;
  /** `true` for TLS with the system CAs, or Node TLS options (ca, cert, key, servername...). */
  ssl?: boolean | ConnectionOptions;
  sasl?: {
    mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
    username: string;
    password: string;
  };
  logger?: BusLogger;
}

export interface GroupConsumerOptions {
  groupId: string;
  /** Most messages handed to the handler in one call. */
  batchSize: number;
  /** Wait before a batch whose handler rejected is fetched and delivered again. */
  retryDelayMs: number;
  /** How long the group waits for a silent member before it hands its partitions on (and after a broker restart, before the group can rebalance). */
  sessionTimeoutMs?: number;
  /** Default: a tenth of the session, between 500 ms and 3 s; also sent while a long handler call runs. */
  heartbeatIntervalMs?: number;
  /** Longest a fetch waits for new messages; the consumer heartbeats (and notices rebalances) between fetches. */
  maxWaitTimeMs?: number;
  /** Partitions handled at once; 1 keeps handler calls serial, as the memory bus does. */
  partitionsConsumedConcurrently?: number;
  onHandlerError?: (err: unknown) => void;
  /** The clock of progress reports (/readyz); Date.now by default. */
  now?: () => number;
}

export interface KafkaBusOptions extends KafkaConnection, GroupConsumerOptions {
  topic: string;
  /** Partitions the topic is created with when it does not exist (an existing topic is left as is). */
  partitions: number;
  /** Broker default when omitted. */
  replicationFactor?: number;
  /** How long publish may wait for the brokers' acknowledgement before answering unavailable. */
  publishTimeoutMs?: number;
  /** How often the brokers are probed for /readyz when nothing else says whether they are up. */
  healthProbeIntervalMs?: number;
}

export interface KafkaBusStats {
  published: number;
  publishErrors: number;
  handled: number;
  handlerErrors: number;
  undecodable: number;
  rebalances: number;
  crashes: number;
  /** Messages behind the high watermark, summed over the partitions this replica last fetched. */
  lag: number;
}

/**
 * The bus on Apache Kafka. Publish waits for all in-sync replicas (acks=-1) through an idempotent
 * producer and keys every message by `partitionKey`, so one pod's events stay in one partition, in
 * order. Consumers form a group and commit a message's offset only after the handler resolved for
 * it; a rejected batch is fetched again after `retryDelayMs`, and a dead consumer's uncommitted
 * messages go to whoever gets its partitions.
 */
export class KafkaBus implements EventBus {
  private readonly kafka: Kafka;
  private producer?: Producer;
  private producerReady?: Promise<Producer>;
  private topicReady?: Promise<void>;
  private readonly consumer: GroupConsumer<SecurityEvent>;
  private readonly health_ = new HealthTracker();
  private probe?: NodeJS.Timeout;
  private probeAdmin?: Admin;
  private closed = false;
  private published = 0;
  private publishErrors = 0;

  constructor(private readonly options: KafkaBusOptions) {
    this.kafka = createKafka(options);
    this.consumer = new GroupConsumer(createKafka(options, CONSUMER_RETRY), options, this.health_, decodeEvent, options.logger);
  }

  /**
   * Resolves once the brokers hold the events (acks=all). Publishes that arrive while a send is in
   * flight are coalesced into the next send (group commit): with one idempotent request in flight at a
   * time, that is what lets many concurrent ingest requests share one round trip.
   */
  async publish(events: SecurityEvent[]): Promise<void> {
    if (this.closed) throw new UnavailableError('bus is shutting down');
    if (events.length === 0) return;
    const messages = events.map((e) => ({ key: partitionKey(e), value: JSON.stringify(e) }));
    const bytes = messages.reduce((n, m) => n + m.value.length, 0);
    await new Promise<void>((resolve, reject) => {
      this.waiting.push({ messages, bytes, resolve, reject });
      this.flush();
    });
  }

  private readonly waiting: PendingPublish[] = [];
  private sending = false;

  private flush(): void {
    if (this.sending || this.waiting.length === 0) return;
    // Take waiting publishes up to the coalescing budget (always at least one, however large).
    let bytes = 0;
    let take = 0;
    while (take < this.waiting.length && (take === 0 || bytes + this.waiting[take]!.bytes <= COALESCE_MAX_BYTES)) {
      bytes += this.waiting[take]!.bytes;
      take++;
    }
    const group = this.waiting.splice(0, take);
    this.sending = true;
    void this.send(group).finally(() => {
      this.sending = false;
      this.flush();
    });
  }

  private async send(group: PendingPublish[]): Promise<void> {
    const messages = group.flatMap((p) => p.messages);
    try {
      const producer = await this.connectedProducer();
      await producer.send({
        topic: this.options.topic,
        acks: -1,
        timeout: this.options.publishTimeoutMs ?? 10_000,
        messages,
      });
      this.published += messages.length;
      this.health_.success();
      for (const p of group) p.resolve();
    } catch (err) {
      this.publishErrors++;
      const message = errorMessage(err);
      this.health_.failure(`publish failed: ${message}`);
      this.options.logger?.warn({ err: message, events: messages.length }, 'kafka publish failed');
      const unavailable = new UnavailableError(`kafka is unavailable: ${message}`, 5);
      for (const p of group) p.reject(unavailable);
    }
  }

  async consume(handler: (events: SecurityEvent[]) => Promise<void>): Promise<void> {
    if (this.closed) throw new UnavailableError('bus is shutting down');
    this.startProbe();
    await this.ensureTopic();
    await this.consumer.start(this.options.topic, handler);
  }

  health(): BusHealth {
    return this.health_.state();
  }

  progress(): ConsumerProgress {
    return this.consumer.progress.state();
  }

  generation(): number {
    return this.consumer.rebalances;
  }

  stats(): KafkaBusStats {
    return {
      published: this.published,
      publishErrors: this.publishErrors,
      ...this.consumer.stats(),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.probe) clearInterval(this.probe);
    await this.consumer.stop();
    const producer = this.producer;
    await Promise.allSettled([producer?.disconnect(), this.probeAdmin?.disconnect()]);
  }

  /** Connects on first use and again after a failed attempt, so a broker that was down at start-up does not wedge ingest. */
  private connectedProducer(): Promise<Producer> {
    this.startProbe();
    this.producerReady ??= (async () => {
      await this.ensureTopic();
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
        // Bounded, so that a broker outage turns into a 503 within seconds instead of a hung request.
        retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 },
      });
      await producer.connect();
      this.producer = producer;
      return producer;
    })();
    return this.producerReady.catch((err: unknown) => {
      this.producerReady = undefined;
      throw err;
    });
  }

  private ensureTopic(): Promise<void> {
    this.topicReady ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      try {
        // Asking first: creating a topic that exists makes kafkajs log "Topic creation errors" at error level.
        if ((await admin.listTopics()).includes(this.options.topic)) return;
        await admin.createTopics({
          waitForLeaders: true,
          topics: [
            {
              topic: this.options.topic,
              numPartitions: this.options.partitions,
              ...(this.options.replicationFactor ? { replicationFactor: this.options.replicationFactor } : {}),
            },
          ],
        });
      } finally {
        await admin.disconnect();
      }
    })().catch((err: unknown) => {
      this.topicReady = undefined;
      throw err;
    });
    return this.topicReady;
  }

  /** Asks the cluster about itself now and then, so /readyz sees an outage even when no traffic flows. */
  private startProbe(): void {
    if (this.probe || this.closed) return;
    const interval = this.options.healthProbeIntervalMs ?? 5_000;
    this.probeAdmin = this.kafka.admin({ retry: { retries: 0 } });
    const admin = this.probeAdmin;
    let running = false;
    this.probe = setInterval(() => {
      if (running) return;
      running = true;
      void (async () => {
        try {
          await admin.connect();
          await admin.describeCluster();
          this.health_.success();
        } catch (err) {
          this.health_.failure(`brokers unreachable: ${errorMessage(err)}`);
        } finally {
          running = false;
        }
      })();
    }, interval);
    this.probe.unref();
  }
}

export interface KafkaRawSourceOptions extends KafkaConnection, GroupConsumerOptions {
  topic: string;
}

/**
 * Reads another producer's topic, such as Falcosidekick's Kafka output (one Falco JSON event per
 * message, no key), with the same commit-after-handling guarantee. Hands over the message values
 * as text; parsing and validation belong to the caller.
 */
export class KafkaRawSource {
  private readonly consumer: GroupConsumer<string>;
  private readonly health_ = new HealthTracker();

  constructor(private readonly options: KafkaRawSourceOptions) {
    this.consumer = new GroupConsumer(
      createKafka(options, CONSUMER_RETRY),
      options,
      this.health_,
      (m) => m.value?.toString('utf8'),
      options.logger,
    );
  }

  start(handler: (values: string[]) => Promise<void>): Promise<void> {
    return this.consumer.start(this.options.topic, handler);
  }

  health(): BusHealth {
    return this.health_.state();
  }

  progress(): ConsumerProgress {
    return this.consumer.progress.state();
  }

  stats(): Omit<KafkaBusStats, 'published' | 'publishErrors'> {
    return this.consumer.stats();
  }

  close(): Promise<void> {
    return this.consumer.stop();
  }
}

/** A consumer-group member that commits each chunk's offsets only after its handler resolved. */
class GroupConsumer<T> {
  private consumer?: Consumer;
  private readonly lag = new Map<string, number>();
  private readonly counts = {
    handled: 0,
    handlerErrors: 0,
    undecodable: 0,
    rebalances: 0,
    crashes: 0,
  };
  private stopping = false;
  readonly progress: ProgressTracker;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: GroupConsumerOptions,
    private readonly health: HealthTracker,
    /** Undefined (or a throw) marks a message that can never be handled: counted and skipped. */
    private readonly decode: (message: KafkaMessage) => T | undefined,
    private readonly logger?: BusLogger,
  ) {
    this.progress = new ProgressTracker(options.now ?? Date.now);
  }

  async start(topic: string, handler: (items: T[]) => Promise<void>): Promise<void> {
    if (this.consumer) throw new Error(`already consuming ${topic}`);
    const sessionTimeout = this.options.sessionTimeoutMs ?? 10_000;
    const consumer = this.kafka.consumer({
      groupId: this.options.groupId,
      sessionTimeout,
      heartbeatInterval: this.heartbeatIntervalMs(),
      maxWaitTimeInMs: this.options.maxWaitTimeMs ?? 100,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 5_000 },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.counts.rebalances++;
      this.health.success();
      this.progress.reset(); // batches fetched before the rebalance are another member's now, or fetched again
      this.progress.started();
    });
    consumer.on(consumer.events.CRASH, (event) => {
      this.counts.crashes++;
      this.progress.stopped();
      const message = errorMessage(event.payload.error);
      this.health.failure(`consumer crashed: ${message}`);
      this.logger?.warn({ err: message, restart: event.payload.restart }, 'kafka consumer crashed');
    });
    await consumer.connect();
    // A new group starts at the beginning: events accepted before the first replica joined are not lost.
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 6,
      eachBatch: (payload) => this.handleBatch(consumer, payload, handler),
    });
  }

  private heartbeatIntervalMs(): number {
    return this.options.heartbeatIntervalMs ?? Math.min(3_000, Math.max(500, (this.options.sessionTimeoutMs ?? 10_000) / 10));
  }

  /** Group joins so far: each may have moved partitions. */
  get rebalances(): number {
    return this.counts.rebalances;
  }

  stats(): Omit<KafkaBusStats, 'published' | 'publishErrors'> {
    let lag = 0;
    for (const l of this.lag.values()) lag += l;
    return { ...this.counts, lag };
  }

  /** Lets the running chunk finish (and commit), then leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer?.disconnect();
  }

  private async handleBatch(
    consumer: Consumer,
    payload: EachBatchPayload,
    handler: (items: T[]) => Promise<void>,
  ): Promise<void> {
    const { batch } = payload;
    const lag = Number(batch.offsetLag());
    this.lag.set(`${batch.topic}/${batch.partition}`, lag);
    if (batch.messages.length > 0) this.progress.waiting();
    const { batchSize } = this.options;
    for (let start = 0; start < batch.messages.length; start += batchSize) {
      if (!payload.isRunning() || payload.isStale() || this.stopping) return;
      const chunk = batch.messages.slice(start, start + batchSize);
      const items = this.decodeAll(chunk, batch.topic, batch.partition);
      if (items.length > 0) {
        try {
          await this.whileHeartbeating(payload, () => handler(items));
        } catch (err) {
          this.counts.handlerErrors++;
          this.options.onHandlerError?.(err);
          // Nothing of this chunk is committed; fetch again from its first message.
          consumer.seek({
            topic: batch.topic,
            partition: batch.partition,
            offset: chunk[0]!.offset,
          });
          await sleep(this.options.retryDelayMs);
          return;
        }
        this.counts.handled += items.length;
      }
      const last = chunk[chunk.length - 1]!.offset;
      payload.resolveOffset(last);
      await consumer.commitOffsets([
        {
          topic: batch.topic,
          partition: batch.partition,
          offset: (BigInt(last) + 1n).toString(),
        },
      ]);
      this.progress.progressed(start + batchSize < batch.messages.length || lag > 0);
      await payload.heartbeat();
    }
  }

  /**
   * kafkajs heartbeats only when asked: during a long handler call (enrichment waiting for state, a
   * slow store) the group would take this member for dead once the session ran out. Heartbeating
   * meanwhile is what lets the session be short, so a dead member is replaced within seconds.
   */
  private async whileHeartbeating(payload: EachBatchPayload, work: () => Promise<void>): Promise<void> {
    const timer = setInterval(() => {
      payload.heartbeat().catch(() => undefined); // a rebalance shows up in the commit that follows
    }, this.heartbeatIntervalMs());
    timer.unref();
    try {
      await work();
    } finally {
      clearInterval(timer);
    }
  }

  private decodeAll(messages: KafkaMessage[], topic: string, partition: number): T[] {
    const items: T[] = [];
    for (const m of messages) {
      let item: T | undefined;
      try {
        item = this.decode(m);
      } catch {
        item = undefined;
      }
      if (item === undefined) {
        this.counts.undecodable++;
        this.logger?.warn({ topic, partition, offset: m.offset }, 'kafka message skipped: not decodable');
      } else {
        items.push(item);
      }
    }
    return items;
  }
}

/** Whether the last thing that spoke to the brokers succeeded. */
class HealthTracker {
  private failing?: string;

  success(): void {
    this.failing = undefined;
  }

  failure(detail: string): void {
    this.failing = detail;
  }

  state(): BusHealth {
    return this.failing ? { ok: false, detail: this.failing } : { ok: true };
  }
}

function decodeEvent(message: KafkaMessage): SecurityEvent | undefined {
  if (!message.value) return undefined;
  const parsed: unknown = JSON.parse(message.value.toString('utf8'));
  if (!parsed || typeof parsed !== 'object' || typeof (parsed as SecurityEvent).id !== 'string') return undefined;
  return parsed as SecurityEvent;
}

/** Connecting and metadata give up within seconds: a refused publish is the caller's to retry (ingest answers 503). */
const CLIENT_RETRY: RetryOptions = { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 };

/**
 * A consumer keeps trying to reach the brokers for about a minute before it crashes. A crash
 * makes kafkajs rejoin as a new member, and after a broker restart the group then waits a whole
 * session timeout for the old member it still lists; a consumer that kept its member id through
 * the outage is back within a second or two of the brokers.
 */
const CONSUMER_RETRY: RetryOptions = { retries: 60, initialRetryTime: 200, maxRetryTime: 1_000 };

export function createKafka(connection: KafkaConnection, retry: RetryOptions = CLIENT_RETRY): Kafka {
  return new Kafka({
    brokers: connection.brokers,
    clientId: connection.clientId,
    ...(connection.ssl ? { ssl: connection.ssl } : {}),
    ...(connection.sasl ? { sasl: connection.sasl as SASLOptions } : {}),
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    retry,
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => writeKafkaLog(connection.logger, entry),
  });
}

/**
 * kafkajs's own messages, in Falconer's logger. Its INFO level narrates every join and is kept at
 * debug; warnings Falconer has chosen to accept are downgraded too.
 */
function writeKafkaLog(logger: BusLogger | undefined, { level, log }: LogEntry): void {
  if (!logger) return;
  const { message, timestamp: _timestamp, logger: _name, ...fields } = log;
  const text = `kafkajs: ${message}`;
  if (level === logLevel.ERROR) logger.error(fields, text);
  else if (level === logLevel.WARN && !ACCEPTED_WARNINGS.some((w) => message.includes(w))) logger.warn(fields, text);
  else logger.debug(fields, text);
}

const ACCEPTED_WARNINGS = [
  // Retries are bounded on purpose: an outage must become a 503 that the caller retries; the
  // duplicates such a retry can cause are absorbed by event ids and the notified-claims in the store.
  'Limiting retries for the idempotent producer',
];

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms).unref());
}
