import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Config } from './config/schema';
import { systemClock, type Clock } from './core/clock';
import {
  createBus,
  createEventDeadLetterStore,
  createStore,
  openDataDir,
  startFalcoTopicIngest,
  watchDependencies,
} from './adapters';
import { createMetrics, type Metrics } from './observability/metrics';
import { createLogger, resolveLogFormat, type Logger } from './observability/logger';
import { authenticator, SCOPES } from './ingest/auth';
import { TokenRing, watchTokenFiles } from './ingest/tokens';
import { storeClaims } from './ingest/claims';
import { ingestHandlers } from './ingest/routes';
import { createHttpApp } from './http/app';
import { frontDoor } from './http/front-door';
import { answerClientError, trackResponses } from './http/client-error';
import { RecentAlerts, durableRecentAlerts } from './alert/recent';
import { FindingAlerts } from './alert/findings';
import { findingsView } from './findings/enrichment';
import { AlertStage } from './alert/stage';
import { Dispatcher } from './notify/dispatcher';
import { DurableDeadLetters } from './notify/dead-letters';
import { slackInteractivityRoutes } from './http/slack-interactivity';
import { buildRoute, routeReceivers } from './alert/route';
import { SilenceStore } from './alert/silence';
import { readSilenceFile, writeSilenceFile } from './alert/silence-file';
import { suppressor } from './alert/suppress';
import { Reconciler } from './alert/resolve';
import { Grouper } from './alert/group';
import { CRITICAL_POD_RULE, Inhibitor } from './alert/inhibit';
import { TimeIntervals } from './alert/time-intervals';
import { createNotifiers } from './notify/receivers';
import { Pipeline } from './pipeline';
import { EventDeadLetters } from './pipeline/dead-letters';
import { consumerHealth } from './observability/health';
import { RuleEngine, loadRuleSet } from './detect/engine';
import { reloadRulesOnSighup } from './detect/reload';
import type { Detector } from './detect/port';
import type { Enricher } from './enrich/port';
import { enrichmentFromConfig } from './enrich';
import type { EventBus } from './bus/port';
import type { SecurityEvent } from './core/event';
import type { Alert } from './core/alert';
import type { KafkaRawSource } from './bus/kafka';
import type { StateStore } from './store/port';
import { correlationFromConfig } from './correlate';
import type { DataDir } from './store/data-dir';
import { PostureService } from './posture/service';
import { parseSchedule, type Schedule } from './posture/schedule';
import { consoleFromConfig } from './console';
import { tokenCheck } from './console/session';

export interface FalconerOptions {
  clock?: Clock;
  logger?: Logger;
  detector?: Detector;
  enricher?: Enricher;
  /**
   * Replaces the pipeline behind the bus port (the ingest-only benchmark measures ingest up to the
   * bus with it); the pipeline runs when absent.
   */
  consumer?: (events: SecurityEvent[]) => Promise<void>;
  /** Called once with the ingest token when it was generated (the quick start prints it). */
  onGeneratedToken?: (token: string) => void;
}

export interface RunningFalconer {
  url: string;
  port: number;
  token: string | undefined;
  metrics: Metrics;
  bus: EventBus;
  store: StateStore;
  dispatcher: Dispatcher;
  recent: RecentAlerts;
  /** Embedded mode's data dir, when one is in use. */
  dataDir: DataDir | undefined;
  silences: SilenceStore;
  /** Resolves when the service has shut down. */
  stopped: Promise<void>;
  stop(): Promise<void>;
}

/** The composition root: builds adapters and stages from a validated config and starts listening. */
export async function startFalconer(config: Config, options: FalconerOptions = {}): Promise<RunningFalconer> {
  const clock = options.clock ?? systemClock;
  const logFormat = resolveLogFormat(config.log.format, process.stdout.isTTY);
  const log = options.logger ?? createLogger(config.log.level, undefined, logFormat);
  const metrics = createMetrics();
  // Rules load before anything listens: a broken rule file stops start-up with file, rule and problem.
  const detector = options.detector ?? new RuleEngine(loadRuleSet(config.rules));
  if (detector instanceof RuleEngine) metrics.watchRules(() => detector.ruleSet.stats());

  if (config.ingest.auditDedupSeconds !== undefined) {
    log.warn('ingest.auditDedupSeconds is deprecated: it is now ingest.retryDedupSeconds (it covers Falco uuids too)');
  }
  // The quick start's single token (configured or generated) has every scope; auth.tokens are scoped.
  let token = config.ingest.requireToken ? config.ingest.token : undefined;
  if (config.ingest.requireToken && !token && config.auth.tokens.length === 0) {
    token = randomBytes(24).toString('base64url');
    (options.onGeneratedToken ?? printGeneratedToken)(token);
  }
  const tokens = new TokenRing(config.auth.tokens, token ? [{ name: 'ingest-token', token, scopes: SCOPES }] : []);
  const stopWatchingTokens = watchTokenFiles(tokens, clock, config.auth.tokenFileCheckSeconds * 1000, log);
  const open = !config.ingest.requireToken && tokens.tokens().length === 0 && !config.server.tls?.clientCaFile;
  const authenticate = authenticator({
    tokens: tokens.tokens,
    trustClientCertificates: Boolean(config.server.tls?.clientCaFile),
    open,
  });

  // Embedded mode's queue and state survive a restart in the data dir (docs/reliability.md).
  const dataDir = await openDataDir(config, clock, log);
  const store = createStore(config, clock, {}, dataDir);
  // The embedded bus lets the next batch by while enrichments wait for state (bound below, once the enricher exists).
  let enrichmentsWaiting = () => 0;
  const bus = createBus(
    config,
    clock,
    (err) => {
      metrics.pipelineErrors.inc({ stage: 'pipeline' });
      log.error({ err: (err as Error)?.message }, 'pipeline batch failed; it will be delivered again');
    },
    log,
    dataDir,
    () => enrichmentsWaiting() > 0,
  );
  const recent = dataDir
    ? durableRecentAlerts(config.alerting.recentAlerts, dataDir)
    : new RecentAlerts(config.alerting.recentAlerts);
  // The console's history hears every alert the recent alerts store or change (src/console).
  const consoleService = consoleFromConfig(config, clock, store, metrics, log, tokenCheck(tokens.tokens, open));
  if (consoleService) {
    await consoleService.seed(recent.list().reverse());
    recent.observe((alert) => consoleService.record(alert));
  }
  const windowMs = config.alerting.dedupWindowSeconds * 1000;
  const tree = config.route ? buildRoute(config.route) : undefined;
  const notifiers = createNotifiers(config, log, logFormat);
  const dispatcher = new Dispatcher(notifiers, store, clock, metrics, log, {
    maxAttempts: 8,
    baseDelayMs: 1000,
    maxDelayMs: 5 * 60_000,
    updateDebounceMs: 5000,
    windowMs,
    queueCapacity: 10_000,
    deadLetterCapacity: 10_000,
    ...(dataDir ? { deadLetters: new DurableDeadLetters(10_000, dataDir) } : {}),
    // Replicas share the outbox: each takes over what a dead one handed off or claimed (docs/reliability.md).
    ...(config.redis ? { leaseMs: 30_000, recoverIntervalMs: 1_000 } : {}),
    // The data dir's outbox outlives the process: a restart sends what the last run handed off or
    // claimed and did not finish, at once (its claims carry this installation's owner).
    ...(!config.redis && dataDir ? { owner: dataDir.owner, recoverIntervalMs: 1_000, claimGraceMs: 1_000 } : {}),
    // Without Redis the store is this process's alone: sends take no in-flight claim.
    exclusiveStore: !config.redis,
    ...(tree ? { route: (alert) => routeReceivers(tree, alert.labels) } : {}),
  });
  const silenceFile = config.redis ? undefined : config.alerting.silences.file;
  const silences = new SilenceStore(store, clock, {
    capacity: config.alerting.silences.capacity,
    retentionMs: config.alerting.silences.retentionHours * 3_600_000,
    cacheMs: config.redis ? 1000 : 0,
    ...(silenceFile ? { onChange: (json: string) => writeSilenceFile(silenceFile, json) } : {}),
  });
  if (silenceFile) {
    const saved = readSilenceFile(silenceFile);
    if (saved) await silences.seed(saved);
  }
  const resolveAfterMs = config.alerting.resolveAfterSeconds * 1000;
  // A finding alert stays firing while its finding fails (bound once FindingAlerts exists, below).
  let findingHeld: (fingerprint: string) => boolean = () => false;
  const held = (alert: Alert) => findingHeld(alert.fingerprint);
  const inhibitRules = [...config.inhibit_rules, ...(config.alerting.inhibitLowerOnCriticalPod ? [CRITICAL_POD_RULE] : [])];
  const inhibitor = inhibitRules.length ? new Inhibitor(inhibitRules, store, resolveAfterMs) : undefined;
  const suppress = suppressor({ silences, ...(inhibitor ? { inhibitor } : {}) });
  const timeIntervals = new TimeIntervals(config.time_intervals);
  const grouper = tree
    ? new Grouper(tree, store, dispatcher, suppress, clock, log, {
        resolveAfterMs,
        held,
        maxAlertsPerGroup: config.alerting.maxAlertsPerGroup,
        isMuted: (route, now) => timeIntervals.routeMuted(route, now),
        // A shared or lasting store: a group whose replica (or previous run) stopped is flushed here.
        ...(config.redis || dataDir ? { orphanGraceMs: 5000 } : {}),
        ttlMs: Math.max(windowMs, 24 * 3_600_000),
      })
    : undefined;
  const alerts = new AlertStage(store, recent, dispatcher, metrics, clock, {
    dedupWindowMs: windowMs,
    runbookUrlTemplate: config.alerting.runbookUrlTemplate,
    runbooks: config.alerting.runbooks,
    suppressor: suppress,
    ...(grouper ? { grouper } : {}),
  });
  const reconciler = new Reconciler(recent, dispatcher, suppress, metrics, clock, log, {
    resolveAfterMs,
    intervalMs: Math.min(10_000, Math.max(1000, Math.floor(resolveAfterMs / 10))),
    notify: !grouper,
    held,
  });
  reconciler.start();
  grouper?.startRecovery(1000);
  const enrichment = enrichmentFromConfig(config, clock, log);
  // New Kyverno/Gatekeeper/trivy-operator findings alert; what fails at start-up is state (src/findings).
  const findingAlerts = new FindingAlerts(alerts, options.enricher ?? enrichment.enricher, clock, log, {
    recent,
    ...(grouper ? {} : { announcer: dispatcher }),
    onResolved: () => metrics.resolved.inc(),
  });
  findingHeld = (fingerprint) => findingAlerts.holds(fingerprint);
  enrichment.states?.onFindingChange(findingAlerts.listener);
  const live = await enrichment.startLive(log);
  const parked = new EventDeadLetters(createEventDeadLetterStore(config, store, dataDir), store, bus, metrics, log, clock, {
    maxLetterBytes: config.pipeline.deadLetters.maxEventBytes,
    replayBatch: config.pipeline.deadLetters.maxCount,
  });
  dataDir?.release(); // every adapter has taken what the last run left
  metrics.watchParkedEvents(() => parked.count());
  const enricher = options.enricher ?? enrichment.enricher;
  enrichmentsWaiting = () => enricher.waiting?.() ?? 0;
  const correlation = correlationFromConfig(config, {
    store,
    ...(enricher.subject ? { subject: enricher.subject.bind(enricher) } : {}),
    amend: (alert) => alerts.amend(alert),
    // After a restart with a data dir, a pending alert read back is found where the recent alerts keep it.
    recall: (fingerprint, firstSeen) => {
      const alert = recent.get(fingerprint);
      return alert?.firstSeen === firstSeen ? alert : undefined;
    },
    incidentGrew: (incident) => {
      consoleService?.incidentChanged(incident);
      return dispatcher.incidentChanged(incident);
    },
    ...(bus.generation ? { generation: () => bus.generation!() } : {}),
    // Without Redis the store is this process's alone: correlation records are kept lazily.
    exclusiveStore: !config.redis,
    log,
  });
  const posture = postureFromConfig(config, enrichment, clock, alerts, recent, dispatcher, log);
  const pipeline = new Pipeline(
    detector,
    enricher,
    alerts,
    store,
    parked,
    metrics,
    log,
    { seenTtlMs: config.ingest.retryDedupSeconds * 1000, maxEventAttempts: config.pipeline.maxEventAttempts },
    correlation?.correlator,
  );

  let falcoTopic: KafkaRawSource | undefined; // started once the server listens
  const stallMs = config.pipeline.stallSeconds * 1000;
  const claims = storeClaims(store, {
    ttlMs: config.ingest.retryDedupSeconds * 1000,
    onError: () => metrics.pipelineErrors.inc({ stage: 'ingest_claim' }),
  });
  const ingest = ingestHandlers(
    { bus, authenticate, claims, metrics, now: () => clock.now() },
    { cluster: config.cluster, ...config.ingest },
  );
  const app = createHttpApp({
    ingest,
    authenticate,
    recent,
    ...(correlation?.incidents ? { incidents: correlation.incidents } : {}),
    dispatcher,
    parked,
    metrics,
    ...(enrichment.states
      ? { findings: (limit: number) => findingsView(enrichment.states!, findingAlerts.resolved(), limit) }
      : {}),
    silences,
    ...(config.interactivity
      ? {
          extraRoutes: [
            slackInteractivityRoutes(silences, clock, log, {
              signingSecret: config.interactivity.slackSigningSecret,
              silenceMs: config.interactivity.silenceMinutes * 60_000,
              responseUrlPrefixes: [
                'https://hooks.slack.com/',
                ...config.receivers.flatMap((r) => (r.type === 'slack' ? [`${new URL(r.apiUrl).origin}/`] : [])),
              ],
            }),
          ],
        }
      : {}),
    health: [
      { name: 'bus', check: () => bus.health() },
      { name: 'consumer', check: () => consumerHealth(bus.progress(), clock.now(), stallMs) },
      { name: 'store', check: () => store.health() },
      ...(config.kafka?.falcoTopic
        ? [
            {
              name: 'falco-topic',
              check: () => {
                const health = falcoTopic?.health() ?? { ok: false, detail: 'not consuming yet' };
                return health.ok ? consumerHealth(falcoTopic!.progress(), Date.now(), stallMs) : health;
              },
            },
          ]
        : []),
      ...(live.health ? [live.health] : []),
    ],
    log,
    ...(consoleService ? { console: consoleService } : {}),
    now: () => clock.now(),
    ...(posture
      ? {
          posture: {
            report: (c?: string) => posture.report(c),
            state: (c?: string) => enrichment.states?.peek(c ?? config.cluster),
          },
        }
      : {}),
  });
  const server = createHttpServer(config, frontDoor(ingest, app, log));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.server.port, config.server.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host;
  log.info({ port, receivers: notifiers.map((n) => n.name) }, 'falconer listening');

  // Listening first: ingest and /healthz answer while the consumer joins its group (which can take a
  // session timeout after a restart); /readyz says "not consuming yet" until it has.
  try {
    await bus.consume(options.consumer ?? pipeline.handle);
    falcoTopic = await startFalcoTopicIngest(config, bus, metrics, log, () => clock.now());
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await bus.close().catch(() => undefined);
    throw err;
  }
  watchDependencies(metrics, { bus, store, falcoTopic, dataDir });
  posture?.start();

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('shutting down: no new requests, finishing in-flight work');
      consoleService?.close(); // live streams end, or the server would wait for them
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      posture?.stop();
      await falcoTopic?.close();
      await live.stop();
      await bus.close();
      await reconciler.stop();
      await grouper?.close();
      await dispatcher.close();
      await store.close();
      await dataDir?.close();
      log.info('stopped');
      resolveStopped();
    })());

  const onSignal = () => {
    const grace = clock.setTimeout(() => {
      log.error('shutdown grace period over: exiting');
      process.exit(1);
    }, config.server.shutdownGraceSeconds * 1000);
    void stop().finally(() => clock.clearTimeout(grace));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const stopReloading =
    detector instanceof RuleEngine
      ? reloadRulesOnSighup(detector, config.rules, { info: (m) => log.info(m), error: (m) => log.error(m) })
      : () => undefined;
  void stopped.then(() => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    stopReloading();
    stopWatchingTokens();
  });

  return {
    url: `${config.server.tls ? 'https' : 'http'}://${host}:${port}`,
    port,
    token,
    metrics,
    bus,
    store,
    dispatcher,
    recent,
    dataDir,
    silences,
    stopped,
    stop,
  };
}

/** Posture over the enrichment's state: reports for the API, drift alerts through the alert stage, the digest. */
function postureFromConfig(
  config: Config,
  enrichment: ReturnType<typeof enrichmentFromConfig>,
  clock: Clock,
  alerts: AlertStage,
  recent: RecentAlerts,
  dispatcher: Dispatcher,
  log: Logger,
): PostureService | undefined {
  const states = enrichment.states;
  if (!config.posture.enabled || !states) return undefined;
  const digest = config.posture.digest;
  const receiver = digest?.receiver;
  return new PostureService({
    state: (cluster) => states.peek(cluster),
    cluster: config.cluster,
    clock,
    minRebuildMs: config.posture.minRebuildSeconds * 1000,
    driftIntervalMs: config.posture.driftIntervalSeconds * 1000,
    ready: () => enrichment.ready(),
    raise: (detection) => alerts.process(detection),
    recentAlerts: () => recent.list(),
    ...(digest && receiver
      ? {
          digest: {
            schedule: parseSchedule(digest.schedule) as Schedule,
            timeZone: digest.timezone,
            send: (alert) => dispatcher.announceTo(receiver, alert),
          },
        }
      : {}),
    onError: (what, err) => log.error({ err: (err as Error)?.message ?? String(err) }, `${what} failed`),
  });
}

/** HTTP, or HTTPS with optional client certificates (verified against the CA, but not demanded: token callers still work). */
function createHttpServer(config: Config, listener: RequestListener): Server {
  const { tls, headersTimeoutSeconds, requestTimeoutSeconds, maxConnections } = config.server;
  const headersTimeout = Math.round(headersTimeoutSeconds * 1000);
  const limits = {
    keepAliveTimeout: 65_000,
    headersTimeout,
    requestTimeout: Math.round(requestTimeoutSeconds * 1000),
    // How often node looks for requests past those timeouts (30 s by default, which would stretch them).
    connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(headersTimeout / 2))),
  };
  const tracked = trackResponses(listener);
  const server = tls ? createHttpsServer({ ...limits, ...tlsOptions(tls) }, tracked) : createServer(limits, tracked);
  server.maxConnections = maxConnections;
  server.on('clientError', answerClientError);
  return server;
}

function tlsOptions(tls: NonNullable<Config['server']['tls']>) {
  return {
    cert: readFileSync(tls.certFile),
    key: readFileSync(tls.keyFile),
    ...(tls.clientCaFile ? { ca: readFileSync(tls.clientCaFile), requestCert: true, rejectUnauthorized: false } : {}),
  };
}

function printGeneratedToken(token: string): void {
  process.stderr.write(
    `\nNo ingest token configured: generated one for this run. Send it as "Authorization: Bearer <token>":\n\n  ${token}\n\n` +
      `Set FALCONER_INGEST_TOKEN (or ingest.token) to keep a fixed one.\n\n`,
  );
}
