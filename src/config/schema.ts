import { z } from 'zod';
import { PRIORITIES } from '../core/priority';
import { parseMatchers } from '../alert/matcher';
import { parseDuration } from './duration';
import { compileInterval } from '../alert/time-intervals';
import { isTimeZone, parseSchedule } from '../posture/schedule';
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

const tlsFiles = z.strictObject({
  caFile: z.string().min(1).optional(),
  /** Client certificate and key, for mutual TLS. */
  certFile: z.string().min(1).optional(),
  keyFile: z.string().min(1).optional(),
  servername: z.string().min(1).optional(),
  rejectUnauthorized: z.boolean().default(true),
});

const webhookReceiver = z
  .strictObject({
    type: z.literal('webhook'),
    name: z.string().min(1),
    url: z.url({ protocol: /^https?$/ }),
    /** `alertmanager`: Alertmanager's webhook v4 JSON; `falconer`: the native JSON with enrichment. */
    format: z.enum(['alertmanager', 'falconer']).default('falconer'),
    /** Extra request headers (values never logged). */
    headers: z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name'), z.string()).default({}),
    /** `Authorization: Bearer <token>`. Never logged. */
    bearerToken: z.string().min(1).optional(),
    basicAuth: z.strictObject({ username: z.string().min(1), password: z.string() }).optional(),
    /** With a secret, every request carries `<signatureHeader>: sha256=<hex HMAC-SHA256 of the body>`. */
    hmacSecret: z.string().min(16, 'must be at least 16 characters').optional(),
    signatureHeader: z.string().default('X-Falconer-Signature'),
    tls: tlsFiles.optional(),
    timeoutSeconds: z.number().positive().default(10),
    minPriority: priority.default('debug'),
  })
  .refine((r) => !(r.bearerToken && r.basicAuth), { message: 'use bearerToken or basicAuth, not both', path: ['basicAuth'] });

const kafkaReceiver = z.strictObject({
  type: z.literal('kafka'),
  name: z.string().min(1),
  brokers: z.array(z.string().regex(/^[^\s:,]+:\d+$/, 'must be host:port')).min(1),
  topic: z.string().min(1),
  clientId: z.string().min(1).default('falconer-notify'),
  /** The message key: the alert's fingerprint, or the notification's group key. */
  key: z.enum(['fingerprint', 'group']).default('fingerprint'),
  tls: z.union([z.boolean(), tlsFiles]).default(false),
  sasl: z
    .strictObject({
      mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
      username: z.string().min(1),
      /** Never logged. */
      password: z.string().min(1),
    })
    .optional(),
  /** Seconds to wait for all in-sync replicas to acknowledge (acks=all). */
  timeoutSeconds: z.number().positive().default(30),
  minPriority: priority.default('debug'),
});

const pagerdutyReceiver = z.strictObject({
  type: z.literal('pagerduty'),
  name: z.string().min(1),
  /** The Events API v2 integration key. Never logged. */
  routingKey: z.string().length(32, 'must be the 32-character Events API v2 integration key'),
  /** Events API v2 endpoint; an EU account or a test server. */
  url: z.url({ protocol: /^https?$/ }).default('https://events.pagerduty.com/v2/enqueue'),
  timeoutSeconds: z.number().positive().default(10),
  minPriority: priority.default('debug'),
});

export const receiverSchema = z.discriminatedUnion('type', [
  slackReceiver,
  consoleReceiver,
  webhookReceiver,
  kafkaReceiver,
  pagerdutyReceiver,
]);

/** A Prometheus-style duration string (`30s`, `5m`, `1h30m`), kept as written; route.ts reads it. */
const amDuration = z
  .string()
  .refine((s) => parseDuration(s) !== undefined, { message: 'must be a duration such as 30s, 5m or 4h' });

/** Alertmanager matcher strings (`name=value`, `name=~"re"`, ...), checked here, compiled in route.ts. */
const amMatchers = z.array(z.string()).superRefine((list, ctx) => {
  list.forEach((text, i) => {
    try {
      parseMatchers(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message, path: [i] });
    }
  });
});

const labelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'must be a label name');

export interface RouteConfig {
  receiver?: string | undefined;
  group_by?: string[] | undefined;
  continue: boolean;
  matchers?: string[] | undefined;
  match?: Record<string, string> | undefined;
  match_re?: Record<string, string> | undefined;
  group_wait?: string | undefined;
  group_interval?: string | undefined;
  repeat_interval?: string | undefined;
  mute_time_intervals?: string[] | undefined;
  active_time_intervals?: string[] | undefined;
  routes?: RouteConfig[] | undefined;
}

const amMatchMap = z.record(labelName, z.string());
const amRegexMap = z.record(labelName, z.string()).superRefine((m, ctx) => {
  for (const [k, v] of Object.entries(m)) {
    try {
      parseMatchers(`${k}=~${JSON.stringify(v)}`);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message, path: [k] });
    }
  }
});

/** `inhibit_rules` entries in Alertmanager's syntax. */
const inhibitRuleSchema = z.strictObject({
  name: z.string().min(1).optional(),
  source_matchers: amMatchers.optional(),
  target_matchers: amMatchers.optional(),
  source_match: amMatchMap.optional(),
  source_match_re: amRegexMap.optional(),
  target_match: amMatchMap.optional(),
  target_match_re: amRegexMap.optional(),
  equal: z.array(labelName).optional(),
});

/** `time_intervals` entries in Alertmanager's syntax; the values are checked by compiling them. */
const timeIntervalSchema = z
  .strictObject({
    name: z.string().min(1),
    time_intervals: z.array(
      z.strictObject({
        times: z.array(z.strictObject({ start_time: z.string(), end_time: z.string() })).optional(),
        weekdays: z.array(z.string()).optional(),
        days_of_month: z.array(z.string()).optional(),
        months: z.array(z.string()).optional(),
        years: z.array(z.string()).optional(),
        location: z.string().optional(),
      }),
    ),
  })
  .superRefine((entry, ctx) => {
    entry.time_intervals.forEach((interval, i) => {
      try {
        compileInterval(interval);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message, path: ['time_intervals', i] });
      }
    });
  });

/** A routing tree node in Alertmanager's own syntax (snake_case keys, as its users paste them). */
export const routeSchema: z.ZodType<RouteConfig, unknown> = z.lazy(() =>
  z.strictObject({
    receiver: z.string().min(1).optional(),
    group_by: z
      .array(z.union([z.literal('...'), labelName]))
      .refine((g) => !g.includes('...') || g.length === 1, { message: "'...' must be the only group_by entry" })
      .optional(),
    continue: z.boolean().default(false),
    matchers: amMatchers.optional(),
    match: z.record(labelName, z.string()).optional(),
    match_re: z
      .record(labelName, z.string())
      .superRefine((m, ctx) => {
        for (const [k, v] of Object.entries(m)) {
          try {
            parseMatchers(`${k}=~${JSON.stringify(v)}`);
          } catch (err) {
            ctx.addIssue({ code: 'custom', message: (err as Error).message, path: [k] });
          }
        }
      })
      .optional(),
    group_wait: amDuration.optional(),
    group_interval: amDuration.optional(),
    repeat_interval: amDuration.optional(),
    mute_time_intervals: z.array(z.string().min(1)).optional(),
    active_time_intervals: z.array(z.string().min(1)).optional(),
    routes: z.array(routeSchema).optional(),
  }),
);

const configShape = z.strictObject({
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
      /**
       * How long an ingest request whose events do not fit in the embedded queue waits for room before
       * it is answered 503 (0: at once). At most queueCapacity events and queueBytes wait.
       */
      queueWaitSeconds: z.number().min(0).max(30).default(1),
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
      /** Falconer's URL as receivers should link to it (PagerDuty links, webhook generatorURL). */
      externalUrl: z.union([z.url({ protocol: /^https?$/ }), z.literal('')]).default(''),
      /** With a routing tree: most alerts one group lists (the rest are counted, as Alertmanager's truncatedAlerts). */
      maxAlertsPerGroup: z.number().int().positive().max(1000).default(100),
      /** The built-in inhibit rule: a critical alert on a pod mutes that pod's lower alerts. */
      inhibitLowerOnCriticalPod: z.boolean().default(true),
      /** An alert resolves after this long without an occurrence; receivers that were told hear it. */
      resolveAfterSeconds: z.number().int().positive().default(300),
      silences: z
        .strictObject({
          /** Memory-only embedded mode: silences are saved here and read back at start-up (the data dir or Redis keep them otherwise). */
          file: z.string().min(1).optional(),
          /** Most silences that are not expired. */
          capacity: z.number().int().positive().default(10_000),
          /** How long an expired silence stays listed. */
          retentionHours: z.number().positive().default(120),
        })
        .prefault({}),
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
  /** RBAC, Pod Security and NetworkPolicy posture of the state enrichment holds (docs/posture.md). */
  posture: z
    .strictObject({
      /** Serve `GET /v1/posture` and evaluate drift. Needs enrichment. */
      enabled: z.boolean().default(true),
      /** A report is rebuilt at most this often after the state changed; in between the last one is served. */
      minRebuildSeconds: duration.min(1).default(30),
      /** How often posture is compared with the previous evaluation, raising drift alerts; 0 turns drift off. */
      driftIntervalSeconds: duration.default(60),
      /** A scheduled summary of what changed, sent to one receiver. */
      digest: z
        .strictObject({
          /** `MON 09:00`, `MON,THU 08:30`, `MON-FRI 09:00` or `* 18:00`. */
          schedule: z.string().superRefine((v, ctx) => {
            const parsed = parseSchedule(v);
            if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
          }),
          /** IANA time zone the schedule is read in. */
          timezone: z
            .string()
            .default('UTC')
            .refine((v) => isTimeZone(v), { message: 'unknown time zone (use an IANA name such as Europe/Berlin)' }),
          /** Name of the receiver (in `receivers`) the digest goes to. */
          receiver: z.string().min(1),
        })
        .optional(),
    })
    .prefault({}),
  /** Who opened the shell, and which alerts are one incident (docs/correlation.md). */
  correlation: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Allowed clock difference between nodes (Falco) and the apiserver (audit), in ms. */
      skewMs: duration.max(60_000).default(2000),
      /** A session whose end was not seen stays open this long (kubelet's streaming idle timeout is 4 h). */
      maxSessionSeconds: z
        .number()
        .int()
        .positive()
        .default(4 * 3600),
      /** How long a runtime alert waits, before its first announcement, for the audit event of its session; 0 never waits. */
      waitForAuditMs: duration.max(30_000).default(0),
      /** How long an announced runtime alert can still be attributed by an audit event that arrives late. */
      lateAuditSeconds: z.number().int().positive().default(300),
      /**
       * Embedded mode (no Redis): how many runtime alerts in all a late audit event can still update,
       * the newest kept (each holds its alert in memory); 16 a pod either way.
       */
      lateAuditAlerts: z.number().int().positive().max(1_000_000).default(4096),
      /** Sessions remembered per pod; ended ones are forgotten first. */
      maxSessionsPerPod: z.number().int().positive().max(1000).default(32),
      /** Pods with sessions remembered by one replica; the least recently used are forgotten beyond it. */
      maxPods: z.number().int().positive().default(50_000),
      incidents: z
        .strictObject({
          enabled: z.boolean().default(true),
          /** Alerts sharing a pod or a subject within this window (event time) are one incident. */
          windowSeconds: z.number().int().positive().default(1800),
          /** Members kept per incident (the count goes on). */
          maxAlerts: z.number().int().positive().max(1000).default(50),
          /** How many recent incidents `GET /v1/incidents` can list. */
          recent: z.number().int().positive().default(1000),
        })
        .prefault({}),
      chains: z
        .strictObject({
          /** Load the built-in chain pack (`rules/chains/`). */
          builtin: z.boolean().default(true),
          /** User chain folders, applied after the built-in pack; a chain with the same id replaces it. */
          dirs: z.array(z.string().min(1)).default([]),
        })
        .prefault({}),
    })
    .prefault({}),
  receivers: z.array(receiverSchema).default([]),
  /** The routing tree (docs/alerting.md). Without it every receiver hears every alert at its minPriority. */
  route: routeSchema.optional(),
  /** Slack interactivity: the "Silence 1h" button on alert messages, served at POST /v1/slack/interactivity. */
  interactivity: z
    .strictObject({
      /** The Slack app's signing secret (Basic Information → App Credentials). Never logged. */
      slackSigningSecret: z.string().min(16, 'must be at least 16 characters'),
      /** How long the button silences. */
      silenceMinutes: z
        .number()
        .int()
        .positive()
        .max(7 * 24 * 60)
        .default(60),
    })
    .optional(),
  /** Alertmanager's inhibit rules: a firing source alert mutes matching target alerts. */
  inhibit_rules: z.array(inhibitRuleSchema).default([]),
  /** Named time intervals that routes use as mute_time_intervals / active_time_intervals. */
  time_intervals: z.array(timeIntervalSchema).default([]),
  /** The web console at `/ui` and the API behind it (docs/console.md). */
  console: z
    .strictObject({
      /** Serve `/ui`, `/ui/session` and `/v1/console/*`. */
      enabled: z.boolean().default(true),
      /** Where the built UI is (`npm run build` writes `dist/ui`); empty: the package's own `dist/ui`. */
      uiDir: z.string().default(''),
      history: z
        .strictObject({
          /** Most alerts the console's history keeps (the oldest by last occurrence go first). */
          maxAlerts: z.number().int().positive().max(1_000_000).default(20_000),
          /** Most bytes (estimated: rows, alert JSON, evidence) the history keeps. */
          maxBytes: z
            .number()
            .int()
            .positive()
            .default(128 * 1024 * 1024),
          /** An alert with no occurrence for this long leaves the history. */
          maxAgeHours: z
            .number()
            .positive()
            .max(24 * 365)
            .default(72),
          /** Raw events kept per alert as evidence, newest last. */
          evidencePerAlert: z.number().int().nonnegative().max(100).default(5),
          /** A raw event larger than this (as JSON) is kept cut to it, marked as truncated. */
          evidenceMaxBytes: z
            .number()
            .int()
            .positive()
            .max(1024 * 1024)
            .default(8 * 1024),
        })
        .prefault({}),
      sessions: z
        .strictObject({
          /** Most console sessions at once; signing in beyond it ends the least recently used one. */
          max: z.number().int().positive().max(100_000).default(1000),
          /** Most console sessions of one token; signing in beyond it ends that token's least recently used one. */
          maxPerToken: z.number().int().positive().max(100_000).default(20),
          /** A session unused this long ends. */
          idleMinutes: z.number().positive().default(30),
          /** A session ends this long after sign-in however much it is used. */
          absoluteHours: z
            .number()
            .positive()
            .max(24 * 30)
            .default(12),
        })
        .prefault({}),
      stream: z
        .strictObject({
          /** Most live-update (server-sent events) connections at once; more get `503`. */
          maxSubscribers: z.number().int().positive().max(10_000).default(100),
          /** A subscriber with more than this many bytes not yet sent is too slow and is disconnected. */
          maxBufferedBytes: z
            .number()
            .int()
            .positive()
            .default(1024 * 1024),
        })
        .prefault({}),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** `json` lines for log collectors, `pretty` short lines for a person; `auto`: pretty on a terminal. */
      format: z.enum(['auto', 'json', 'pretty']).default('auto'),
    })
    .prefault({}),
});

export const configSchema = configShape.superRefine(checkReferences);

type ConfigShape = z.infer<typeof configShape>;

/** What one key cannot say alone: names the routing tree uses must exist, receiver names are unique. */
function checkReferences(config: ConfigShape, ctx: z.RefinementCtx): void {
  const names = new Set<string>();
  config.receivers.forEach((r, i) => {
    if (names.has(r.name))
      ctx.addIssue({
        code: 'custom',
        message: `duplicate receiver name ${JSON.stringify(r.name)}`,
        path: ['receivers', i, 'name'],
      });
    names.add(r.name);
  });
  const root = config.route;
  if (!root) return;
  if (!root.receiver)
    ctx.addIssue({ code: 'custom', message: 'the root route must name a receiver', path: ['route', 'receiver'] });
  if (root.matchers?.length || Object.keys(root.match ?? {}).length || Object.keys(root.match_re ?? {}).length)
    ctx.addIssue({ code: 'custom', message: 'the root route must not have any matchers', path: ['route'] });
  if (root.mute_time_intervals?.length || root.active_time_intervals?.length)
    ctx.addIssue({ code: 'custom', message: 'the root route must not have mute or active time intervals', path: ['route'] });
  const intervals = new Set(config.time_intervals.map((t) => t.name));
  config.time_intervals.forEach((t, i) => {
    if (config.time_intervals.findIndex((u) => u.name === t.name) !== i)
      ctx.addIssue({
        code: 'custom',
        message: `duplicate time interval name ${JSON.stringify(t.name)}`,
        path: ['time_intervals', i, 'name'],
      });
  });
  const known = names.size ? names : new Set(['console']);
  const visit = (route: RouteConfig, path: (string | number)[]) => {
    if (route.receiver && !known.has(route.receiver))
      ctx.addIssue({
        code: 'custom',
        message: `undefined receiver ${JSON.stringify(route.receiver)} used in route`,
        path: [...path, 'receiver'],
      });
    for (const field of ['mute_time_intervals', 'active_time_intervals'] as const)
      route[field]?.forEach((name, i) => {
        if (!intervals.has(name))
          ctx.addIssue({
            code: 'custom',
            message: `undefined time interval ${JSON.stringify(name)} used in route`,
            path: [...path, field, i],
          });
      });
    route.routes?.forEach((child, i) => visit(child, [...path, 'routes', i]));
  };
  visit(root, ['route']);
}

export type Config = z.infer<typeof configSchema>;
export type ReceiverConfig = z.infer<typeof receiverSchema>;
export type SlackReceiverConfig = z.infer<typeof slackReceiver>;
