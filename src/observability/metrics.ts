import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type CounterConfiguration,
  type LabelValues,
} from 'prom-client';
import { LabelCap } from './label-cap';

/**
 * Distinct values kept per event-derived label (Falco's default rules and the built-in pack are a few
 * hundred rules together); later new values are counted as `other`.
 */
export const MAX_LABEL_VALUES = 500;

/** Every metric Falconer exposes, on a registry of its own (so several instances can live in one test). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'falconer_' });
  const labelsFolded = new Counter({
    name: 'falconer_metric_labels_folded_total',
    help: `Label values counted as "other" because the metric already had ${MAX_LABEL_VALUES} distinct ones, by metric`,
    labelNames: ['metric'] as const,
    registers: [registry],
  });
  const cap = (metric: string) => new LabelCap(MAX_LABEL_VALUES, () => labelsFolded.inc({ metric }));
  const m = {
    registry,
    eventsReceived: counterWithChildren({
      name: 'falconer_events_received_total',
      help: 'Events received by ingest, by source and outcome (accepted, rejected)',
      labelNames: ['source', 'outcome'] as const,
      registers: [registry],
    }),
    eventsDuplicate: counterWithChildren({
      name: 'falconer_events_duplicate_total',
      help: 'Events dropped because their id was already received: at ingest (a sender retry) or in the pipeline (a redelivery)',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    ingestRequests: counterWithChildren({
      name: 'falconer_ingest_requests_total',
      help: 'Ingest HTTP requests, by route and status code',
      labelNames: ['route', 'status'] as const,
      registers: [registry],
    }),
    alerts: new Counter({
      name: 'falconer_alerts_total',
      help: 'New alerts (first occurrence of a fingerprint in its dedup window), by rule and priority',
      labelNames: ['rule', 'priority'] as const,
      registers: [registry],
    }),
    /** The `rule` label of `alerts`: Falco events name their own rule. */
    alertRuleLabel: cap('falconer_alerts_total'),
    /** The `source` label of `eventsDuplicate`: events from Kafka may carry any source. */
    duplicateSourceLabel: cap('falconer_events_duplicate_total'),
    labelsFolded,
    dedupSuppressed: new Counter({
      name: 'falconer_dedup_suppressed_total',
      help: 'Occurrences folded into an existing alert instead of notifying again',
      registers: [registry],
    }),
    suppressed: new Counter({
      name: 'falconer_alerts_suppressed_total',
      help: 'Alert occurrences not notified because a silence or an inhibit rule muted them, by reason (silenced, inhibited)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    resolved: new Counter({
      name: 'falconer_alerts_resolved_total',
      help: 'Alerts resolved after their quiet period',
      registers: [registry],
    }),
    notifications: new Counter({
      name: 'falconer_notifications_total',
      help: 'Notification attempts, by receiver and outcome (sent, updated, resolved, retried, dead_lettered, dropped)',
      labelNames: ['receiver', 'outcome'] as const,
      registers: [registry],
    }),
    ingestToNotify: new Histogram({
      name: 'falconer_ingest_to_notify_seconds',
      help: 'Time from accepting an event to the notifier call that announced it',
      labelNames: ['receiver'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    pipelineErrors: new Counter({
      name: 'falconer_pipeline_errors_total',
      help: 'Errors while processing an event, by stage',
      labelNames: ['stage'] as const,
      registers: [registry],
    }),
    eventsParked: new Counter({
      name: 'falconer_events_parked_total',
      help: 'Events parked in the event dead-letter store after failing every attempt, by the stage that failed',
      labelNames: ['stage'] as const,
      registers: [registry],
    }),
    eventDeadLettersEvicted: new Counter({
      name: 'falconer_event_dead_letters_evicted_total',
      help: 'Parked events dropped from the full event dead-letter store to make room (oldest first)',
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'falconer_notify_queue_depth',
      help: 'Notifications waiting for delivery',
      registers: [registry],
    }),
    consoleHistoryAlerts: new Gauge({
      name: 'falconer_console_history_alerts',
      help: "Alerts in the console's history",
      registers: [registry],
    }),
    consoleHistoryBytes: new Gauge({
      name: 'falconer_console_history_bytes',
      help: "Estimated bytes of the console's history (rows, alert JSON, evidence)",
      registers: [registry],
    }),
    consoleHistoryEvicted: new Counter({
      name: 'falconer_console_history_evicted_total',
      help: "Alerts dropped from the console's history by its bounds, by reason (count, bytes, age)",
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    consoleHistoryDropped: new Counter({
      name: 'falconer_console_history_dropped_total',
      help: "Alert changes not written to the console's history, by reason (backlog: too many writes waiting, error: the write failed)",
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    consoleSessions: new Gauge({
      name: 'falconer_console_sessions',
      help: 'Console sign-in sessions held by this replica',
      registers: [registry],
    }),
    consoleStreamSubscribers: new Gauge({
      name: 'falconer_console_stream_subscribers',
      help: "Console pages connected to this replica's live stream",
      registers: [registry],
    }),
    consoleStreamDropped: new Counter({
      name: 'falconer_console_stream_dropped_total',
      help: 'Live-stream connections refused or closed, by reason (full: at the subscriber bound, slow: not reading)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    deadLetters: new Gauge({
      name: 'falconer_dead_letters',
      help: 'Notifications that could not be delivered and wait in the dead-letter store',
      registers: [registry],
    }),
    /**
     * Reports the Kafka consumers' and Redis client's own counters at scrape time (the adapters
     * count; metrics only read). `consumer` is `events` for the pipeline's group, `falco_topic` for
     * Falcosidekick's topic.
     */
    watchDependencies(read: () => DependencyStats): void {
      type Pick = (s: DependencyStats) => Array<[consumer: string, value: number]>;
      const consumers = (s: DependencyStats) => Object.entries(s.consumers ?? {});
      const perConsumerGauge = (name: string, help: string, pick: Pick) =>
        new Gauge({
          name,
          help,
          labelNames: ['consumer'] as const,
          registers: [registry],
          collect() {
            this.reset();
            for (const [consumer, value] of pick(read())) this.set({ consumer }, value);
          },
        });
      const perConsumerCounter = (name: string, help: string, pick: Pick) =>
        new Counter({
          name,
          help,
          labelNames: ['consumer'] as const,
          registers: [registry],
          collect() {
            this.reset();
            for (const [consumer, value] of pick(read())) if (value) this.inc({ consumer }, value);
          },
        });
      perConsumerGauge(
        'falconer_kafka_consumer_lag',
        'Messages behind the high watermark on the partitions this replica last fetched',
        (s) => consumers(s).map(([c, v]) => [c, v.lag]),
      );
      perConsumerCounter('falconer_kafka_rebalances_total', 'Consumer-group joins (each rebalance joins again)', (s) =>
        consumers(s).map(([c, v]) => [c, v.rebalances]),
      );
      perConsumerCounter(
        'falconer_kafka_consumer_crashes_total',
        'Consumer crashes (kafkajs restarts the consumer after most)',
        (s) => consumers(s).map(([c, v]) => [c, v.crashes]),
      );
      const plain = (name: string, help: string, pick: (s: DependencyStats) => number | undefined) =>
        new Counter({
          name,
          help,
          registers: [registry],
          collect() {
            this.reset();
            const value = pick(read());
            if (value) this.inc(value);
          },
        });
      plain(
        'falconer_kafka_produce_errors_total',
        'Publishes to Kafka that failed (ingest answered 503)',
        (s) => s.publishErrors,
      );
      plain('falconer_redis_errors_total', 'Redis commands that failed or timed out', (s) => s.redis?.errors);
      plain('falconer_redis_reconnects_total', 'Times the Redis client started reconnecting', (s) => s.redis?.reconnects);
      plain('falconer_data_dir_commits_total', 'Group commits synced to the data dir (embedded mode)', (s) => s.dataDir?.commits);
      plain('falconer_data_dir_writes_total', 'Writes (journal and state) those commits carried', (s) => s.dataDir?.writes);
      plain('falconer_data_dir_journal_appends_total', 'Events appended to the journal', (s) => s.dataDir?.appends);
      plain(
        'falconer_data_dir_commit_failures_total',
        'Commits to the data dir that failed (ingest answered 503)',
        (s) => s.dataDir?.failures,
      );
      plain('falconer_data_dir_applies_total', 'Applies of the redo log to the database file', (s) => s.dataDir?.applies);
      plain(
        'falconer_data_dir_applied_rows_total',
        "Rows those applies wrote: the commits' writes less those a later write of the same row replaced",
        (s) => s.dataDir?.appliedRows,
      );
      plain('falconer_data_dir_apply_failures_total', 'Applies of the redo log that failed', (s) => s.dataDir?.applyFailures);
      plain(
        'falconer_data_dir_log_full_total',
        'Times commits waited for an apply because the redo log held its bound',
        (s) => s.dataDir?.logFull,
      );
      new Gauge({
        name: 'falconer_data_dir_log_bytes',
        help: 'Bytes in the redo log not yet applied to the database file',
        registers: [registry],
        collect() {
          this.set(read().dataDir?.logBytes ?? 0);
        },
      });
    },
    /**
     * Reports how many events wait in the event dead-letter store at scrape time (shared by the
     * replicas in Redis mode, so it is read, not counted here). A failed read keeps the last value.
     */
    watchParkedEvents(read: () => Promise<number>): void {
      new Gauge({
        name: 'falconer_events_parked',
        help: 'Events waiting in the event dead-letter store for an operator (GET /v1/events/dead-letters)',
        registers: [registry],
        async collect() {
          try {
            this.set(await read());
          } catch {
            /* the store is unavailable: /readyz says so */
          }
        },
      });
    },
    /** Reports the rule engine's own per-rule counters at scrape time: the engine counts, metrics only read. */
    watchRules(read: () => { id: string; stats: { errors: number; matches: number } }[]): void {
      const fromRules = (name: string, help: string, pick: (s: { errors: number; matches: number }) => number) =>
        new Counter({
          name,
          help,
          labelNames: ['rule'] as const,
          registers: [registry],
          collect() {
            this.reset();
            for (const r of read()) if (pick(r.stats)) this.inc({ rule: r.id }, pick(r.stats));
          },
        });
      fromRules(
        'falconer_rule_evaluation_errors_total',
        'Rule evaluation errors (missing fields, wrong types) by rule id; the event still goes to the other rules',
        (s) => s.errors,
      );
      fromRules('falconer_rule_matches_total', 'Events that matched a rule, by rule id, before deduplication', (s) => s.matches);
    },
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** One label set of a counter, bound once: see `counterWithChildren`. */
export interface CounterChild {
  inc(by?: number): void;
}

/**
 * A counter whose hot label sets can be bound once (`child(labels)`): a child counts in a plain
 * number, added to the counter when it is read (prom-client runs `collect` before every scrape and
 * `get`), so what a scrape shows is unchanged. prom-client builds a string from the label object on
 * every `inc` (about 170 ns each in a hot loop, bench in docs/performance.md § edge-again), and its
 * own `labels()` only binds that same `inc`; the ingest routes count two such increments per Falco
 * event. Children must count non-negative whole numbers (counts of events and requests).
 */
function counterWithChildren<T extends string>(
  config: CounterConfiguration<T>,
): Counter<T> & {
  child(labels: LabelValues<T>): CounterChild;
} {
  const children = new Map<string, { labels: LabelValues<T>; pending: number; counted: boolean }>();
  const counter = new Counter<T>({
    ...config,
    collect() {
      for (const c of children.values()) {
        // Only what was counted since the last read: a child never counted adds no series, and one
        // counted by 0 adds its series at 0, as `inc(labels, 0)` does.
        if (!c.counted) continue;
        const n = c.pending;
        c.pending = 0;
        c.counted = false;
        this.inc(c.labels, n);
      }
    },
  });
  return Object.assign(counter, {
    child(labels: LabelValues<T>): CounterChild {
      const key = JSON.stringify(labels);
      let c = children.get(key);
      if (!c) children.set(key, (c = { labels, pending: 0, counted: false }));
      const bound = c;
      return {
        inc(by = 1) {
          bound.pending += by;
          bound.counted = true;
        },
      };
    },
  });
}

/** What the Kafka and Redis adapters count, as `watchDependencies` reads it. */
export interface DependencyStats {
  publishErrors?: number;
  consumers?: Record<string, { lag: number; rebalances: number; crashes: number }>;
  redis?: { errors: number; reconnects: number };
  dataDir?: {
    commits: number;
    writes: number;
    appends: number;
    failures: number;
    applies: number;
    appliedRows: number;
    applyFailures: number;
    logFull: number;
    logBytes: number;
  };
}
