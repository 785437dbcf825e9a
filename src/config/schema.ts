import { z } from 'zod';
import { PRIORITIES } from '../core/priority';
import { SCOPES } from '../ingest/auth';

const priority = z.enum(PRIORITIES);
const duration = z.number().int().nonnegative();
const token = z.string().min(16, 'must be at least 16 characters');

/** A named API token and what it may do (docs/configuration.md#api-tokens-and-scopes). */
const apiToken = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][-A-Za-z0-9._]*$/, 'must be letters, digits, ".", "_" or "-"'),
    token: token.optional(),
    /** One token per line; re-read on SIGHUP and every `auth.tokenFileCheckSeconds`. */
    tokenFile: z.string().min(1).optional(),
    scopes: z.array(z.enum(SCOPES)).min(1),
  })
  .refine((t) => (t.token === undefined) !== (t.tokenFile === undefined), {
    message: 'needs exactly one of token and tokenFile',
  });

const slackReceiver = z.strictObject({
  type: z.literal('slack'),
  name: z.string().min(1),
  /** Bot token (xoxb-...). Never logged. */
  token: z.string().min(1),
  channel: z.string().min(1),
  /** Base URL of the Slack Web API; a Slack-compatible gateway or a test server. */
  apiUrl: z.url().default('https://slack.com/api/'),
  minPriority: priority.default('debug'),
});

const consoleReceiver = z.strictObject({
  type: z.literal('console'),
  name: z.string().min(1),
  minPriority: priority.default('debug'),
});

export const receiverSchema = z.discriminatedUnion('type', [slackReceiver, consoleReceiver]);

export const configSchema = z.strictObject({
  /** Name of the cluster the events come from, unless an event says otherwise. */
  cluster: z.string().min(1).default('default'),
  server: z
    .strictObject({
      host: z.string().default('0.0.0.0'),
      port: z.number().int().min(0).max(65535).default(2804),
      /** Most seconds a caller may take to send a request's headers (node's `headersTimeout`). */
      headersTimeoutSeconds: z.number().positive().default(10),
      /** Most seconds a caller may take to send a whole request, body included (node's `requestTimeout`); then 408. */
      requestTimeoutSeconds: z.number().positive().default(60),
      /** Most connections open at once; beyond it new ones are closed on arrival. */
      maxConnections: z.number().int().positive().default(1024),
      /** Seconds to wait for in-flight work on SIGTERM. */
      shutdownGraceSeconds: z.number().positive().default(20),
      /** HTTPS; with `clientCaFile`, callers holding a certificate signed by that CA need no bearer token. */
      tls: z
        .strictObject({
          certFile: z.string().min(1),
          keyFile: z.string().min(1),
          clientCaFile: z.string().min(1).optional(),
        })
        .optional(),
    })
    .refine((s) => s.headersTimeoutSeconds <= s.requestTimeoutSeconds, {
      message: 'headersTimeoutSeconds must not exceed requestTimeoutSeconds',
      path: ['headersTimeoutSeconds'],
    })
    .prefault({}),
  /** Named API tokens with scopes, besides (or instead of) the single `ingest.token`. */
  auth: z
    .strictObject({
      tokens: z
        .array(apiToken)
        .default([])
        .refine((ts) => new Set(ts.map((t) => t.name)).size === ts.length, { message: 'token names must be unique' }),
      /** How often token files are re-read (they are also re-read on SIGHUP). */
      tokenFileCheckSeconds: z.number().positive().default(10),
    })
    .prefault({}),
  ingest: z
    .strictObject({
      /** The quick start's bearer token, with every scope. Generated at start-up (and printed once) when neither it nor `auth.tokens` is set. */
      token: token.optional(),
      /** Whether a bearer token is required at all (turn off only behind mTLS or on loopback). */
      requireToken: z.boolean().default(true),
      falcoBodyLimitBytes: z
        .number()
        .int()
        .positive()
        .default(1024 * 1024),
      auditBodyLimitBytes: z
        .number()
        .int()
        .positive()
        .default(12 * 1024 * 1024),
      /** Deepest JSON nesting accepted (Falco events are flat; audit objects can be deep CRDs). */
      maxJsonDepth: z.number().int().min(4).max(1000).default(128),
      /** Longest string kept from an event field; longer ones are cut and marked. */
      maxFieldLength: z
        .number()
        .int()
        .min(64)
        .default(16 * 1024),
      /** How long an event id (audit auditID+stage, Falco uuid) is remembered, so a sender's retry is answered as a duplicate. */
      retryDedupSeconds: z.number().int().positive().optional(),
      /** Deprecated name of `retryDedupSeconds` (it always covered Falco uuids too); a start-up warning says so. */
      auditDedupSeconds: z.number().int().positive().optional(),
    })
    .transform(({ retryDedupSeconds, ...ingest }) => ({
      ...ingest,
      retryDedupSeconds: retryDedupSeconds ?? ingest.auditDedupSeconds ?? 600,
    }))
    .prefault({}),
  pipeline: z
    .strictObject({
      /** Most events queued between ingest and the pipeline in embedded mode; beyond it ingest answers 503. */
      queueCapacity: z.number().int().positive().default(20_000),
      /** Most bytes (estimated heap of the events) queued in embedded mode; beyond it ingest answers 503 too. */
      queueBytes: z
        .number()
        .int()
        .positive()
        .default(128 * 1024 * 1024),
      batchSize: z.number().int().positive().default(256),
      /** Attempts an event gets (retried at once) before it is parked in the event dead-letter store. */
      maxEventAttempts: z.number().int().min(1).max(100).default(3),
      /** /readyz reports the consumer when events have waited this long with none handled. */
      stallSeconds: z.number().positive().default(60),
      /** The event dead-letter store (memory, or Redis when configured): bounded, oldest evicted first. */
      deadLetters: z
        .strictObject({
          maxCount: z.number().int().positive().default(1000),
          maxBytes: z
            .number()
            .int()
            .positive()
            .default(64 * 1024 * 1024),
          /** A parked event larger than this is kept as its summary only (listed, not replayable). */
          maxEventBytes: z
            .number()
            .int()
            .positive()
            .default(2 * 1024 * 1024),
        })
        .refine((d) => d.maxEventBytes <= d.maxBytes, {
          message: 'maxEventBytes must not exceed maxBytes',
          path: ['maxEventBytes'],
        })
        .prefault({}),
    })
    .prefault({}),
  /**
   * Where embedded mode keeps its queue and state (docs/reliability.md): the bus when Kafka is absent,
   * the state store when Redis is absent. Relative to the working directory; `""` runs memory-only.
   */
  dataDir: z.string().default('./data'),
  /** Kafka as the bus between ingest and the pipeline (scale-out mode). The embedded bus when absent. */
  kafka: z
    .strictObject({
      brokers: z.array(z.string().regex(/^[^\s:,]+:\d+$/, 'must be host:port')).min(1),
      clientId: z.string().min(1).default('falconer'),
      topic: z.string().min(1).default('falconer.events'),
      /** Partitions the topic is created with if it does not exist; bounds how many replicas share the work. */
      partitions: z.number().int().positive().default(12),
      /** Broker default when unset. */
      replicationFactor: z.number().int().positive().optional(),
      /** The pipeline's consumer group: replicas with the same group share the partitions. */
      groupId: z.string().min(1).default('falconer-pipeline'),
      /** Seconds ingest waits for the brokers' acknowledgement before answering 503. */
      publishTimeoutSeconds: z.number().positive().default(10),
      /** How long the group waits for a silent replica; also how long processing waits after a broker restart. */
      sessionTimeoutSeconds: z.number().positive().default(10),
      /** `true` for TLS with the system CAs, or files for a private CA / client certificate. */
      tls: z
        .union([
          z.boolean(),
          z.strictObject({
            caFile: z.string().min(1).optional(),
            certFile: z.string().min(1).optional(),
            keyFile: z.string().min(1).optional(),
            servername: z.string().min(1).optional(),
            rejectUnauthorized: z.boolean().default(true),
          }),
        ])
        .default(false),
      sasl: z
        .strictObject({
          mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
          username: z.string().min(1),
          /** Never logged. */
          password: z.string().min(1),
        })
        .optional(),
      /** Falcosidekick's Kafka output topic (one Falco JSON event per message), read as a third source when set. */
      falcoTopic: z.string().min(1).optional(),
      falcoGroupId: z.string().min(1).default('falconer-falco-source'),
    })
    .optional(),
  /** Redis for the alert stage's shared state, so replicas agree. The embedded store when absent. */
  redis: z
    .strictObject({
      /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
      url: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://'),
      /** Wins over a password in the URL. Never logged. */
      password: z.string().min(1).optional(),
      tls: z
        .union([
          z.boolean(),
          z.strictObject({
            caFile: z.string().min(1).optional(),
            servername: z.string().min(1).optional(),
            rejectUnauthorized: z.boolean().default(true),
          }),
        ])
        .default(false),
      keyPrefix: z.string().default('falconer:'),
    })
    .optional(),
  alerting: z
    .strictObject({
      /** Events with one fingerprint within this window update one alert instead of posting again. */
      dedupWindowSeconds: duration.default(3600),
      /** Template of the runbook link; `{rule}` is the rule name as a URL slug, `{ruleId}` the id. */
      runbookUrlTemplate: z.string().max(2048).default('https://runbooks.example.com/{rule}'),
      /** Per-rule runbook URLs, by rule name; they win over the template. */
      runbooks: z.record(z.string(), z.string()).default({}),
      /** How many recent alerts `GET /v1/alerts` can list. */
      recentAlerts: z.number().int().positive().default(1000),
    })
    .prefault({}),
  rules: z
    .strictObject({
      /** Load the built-in pack (`rules/` in the package). */
      builtin: z.boolean().default(true),
      /** User rule folders, applied after the built-in pack in order: append to lists/macros, override or disable rules. */
      dirs: z.array(z.string().min(1)).default([]),
    })
    .prefault({}),
  /** Who did it, what they may do, how exposed the pod is (docs/enrichment.md). */
  enrichment: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** `kubectl get ... -A -o json` files loaded at start into the state of `cluster`. */
      snapshots: z.array(z.string().min(1)).default([]),
      /** How long an alert may wait for a pod the cluster state has not seen yet; 0 never waits. */
      waitForStateMs: duration.max(30_000).default(2000),
      /** Keep the state of `cluster` in step with a live API server (list + watch; get/list/watch RBAC only). */
      live: z
        .strictObject({
          /** `in-cluster` (the pod's service account), `kubeconfig` (a file), or `default` (KUBECONFIG / ~/.kube/config). */
          source: z.enum(['in-cluster', 'kubeconfig', 'default']),
          kubeconfig: z.string().min(1).optional(),
          context: z.string().min(1).optional(),
        })
        .refine((l) => l.source !== 'kubeconfig' || l.kubeconfig, {
          message: 'kubeconfig is required when source is kubeconfig',
          path: ['kubeconfig'],
        })
        .optional(),
    })
    .prefault({}),
  receivers: z.array(receiverSchema).default([]),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type ReceiverConfig = z.infer<typeof receiverSchema>;
export type SlackReceiverConfig = z.infer<typeof slackReceiver>;
