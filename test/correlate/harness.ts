import { join } from 'node:path';
import pino from 'pino';
import type { Alert } from '../../src/core/alert';
import { VirtualClock } from '../../src/core/clock';
import type { JsonObject, SecurityEvent } from '../../src/core/event';
import { RecentAlerts } from '../../src/alert/recent';
import { AlertStage } from '../../src/alert/stage';
import { validateConfig } from '../../src/config/load';
import { correlationFromConfig } from '../../src/correlate';
import type { IncidentTracker } from '../../src/correlate/incidents';
import { BUILTIN_RULES_DIR, loadRuleSet, RuleEngine } from '../../src/detect/engine';
import { noEnrichment, type Enricher } from '../../src/enrich/port';
import { normaliseAudit } from '../../src/ingest/audit';
import { normaliseFalco } from '../../src/ingest/falco';
import { Dispatcher } from '../../src/notify/dispatcher';
import type { Notifier } from '../../src/notify/port';
import { createMetrics } from '../../src/observability/metrics';
import { Pipeline } from '../../src/pipeline';
import { MemoryStateStore } from '../../src/store/memory';
import { MemoryBus } from '../../src/bus/memory';
import { EventDeadLetters } from '../../src/pipeline/dead-letters';
import { MemoryEventDeadLetterStore } from '../../src/store/event-dead-letters/memory';

/** The built-in pack as a user would start with it: with rules/examples/quiet.yaml (no Disallowed K8s User on every request). */
export const QUIET_RULES = join(BUILTIN_RULES_DIR, 'examples');
const engine = new RuleEngine(loadRuleSet({ builtin: true, dirs: [QUIET_RULES] }));

export interface Harness {
  clock: VirtualClock;
  store: MemoryStateStore;
  recent: RecentAlerts;
  incidents: IncidentTracker;
  dispatcher: Dispatcher;
  /** Runs one arriving batch through the pipeline. */
  feed(items: ({ audit: JsonObject } | { falco: JsonObject })[]): Promise<void>;
  /** The alert of a Falco event (by the uuid the stream gave it), as it stands now. */
  alertOf(uuid: string): Alert | undefined;
}

/** The real pipeline (rules, alert stage, dispatcher, correlate stage) on a memory store and a virtual clock. */
export function harness(
  notifiers: Notifier[] = [],
  config: Record<string, unknown> = {},
  enricher: Enricher = noEnrichment,
  /** Another harness's store and clock: two replicas sharing one state store (or a data dir's store, and its recent alerts). */
  shared?: { store: MemoryStateStore; clock: VirtualClock; recent?: RecentAlerts },
  /** Embedded mode, as the app runs without Redis: the store is this harness's alone. */
  exclusiveStore = false,
): Harness {
  const clock = shared?.clock ?? new VirtualClock(Date.parse('2026-03-01T10:00:00Z'));
  const store = shared?.store ?? new MemoryStateStore(clock);
  const metrics = createMetrics();
  const log = pino({ level: 'silent' });
  const recent = shared?.recent ?? new RecentAlerts(1000);
  const dispatcher = new Dispatcher(notifiers, store, clock, metrics, log, {
    maxAttempts: 3,
    baseDelayMs: 1000,
    maxDelayMs: 10_000,
    updateDebounceMs: 1000,
    windowMs: 3_600_000,
    queueCapacity: 1000,
    deadLetterCapacity: 100,
  });
  const alerts = new AlertStage(store, recent, dispatcher, metrics, clock, {
    dedupWindowMs: 3_600_000,
    runbookUrlTemplate: 'https://runbooks.example.com/{rule}',
    runbooks: {},
  });
  const correlation = correlationFromConfig(validateConfig({ cluster: 'prod', ...config }), {
    store,
    ...(enricher.subject ? { subject: enricher.subject.bind(enricher) } : {}),
    amend: (alert) => alerts.amend(alert),
    recall: (fingerprint, firstSeen) => {
      const alert = recent.get(fingerprint);
      return alert?.firstSeen === firstSeen ? alert : undefined;
    },
    incidentGrew: (incident) => dispatcher.incidentChanged(incident),
    ...(exclusiveStore ? { exclusiveStore } : {}),
    log,
  })!;
  const bus = new MemoryBus(clock, { capacity: 100, batchSize: 10, retryDelayMs: 1000, onHandlerError: () => undefined });
  const parked = new EventDeadLetters(
    new MemoryEventDeadLetterStore({ maxCount: 100, maxBytes: 1 << 20 }),
    store,
    bus,
    metrics,
    log,
    clock,
    {
      maxLetterBytes: 1 << 16,
      replayBatch: 10,
    },
  );
  const pipeline = new Pipeline(
    engine,
    enricher,
    alerts,
    store,
    parked,
    metrics,
    log,
    { seenTtlMs: 600_000, maxEventAttempts: 2 },
    correlation.correlator,
  );
  const byUuid = new Map<string, string>();
  return {
    clock,
    store,
    recent,
    incidents: correlation.incidents!,
    dispatcher,
    async feed(items) {
      const events: SecurityEvent[] = items.map((item) => {
        const ctx = { cluster: 'prod', receivedAt: clock.now(), maxFieldLength: 4096 };
        return 'audit' in item ? normaliseAudit(item.audit, ctx) : normaliseFalco(item.falco, ctx);
      });
      await pipeline.handle(events);
      for (const e of events) {
        if (e.source !== 'falco') continue;
        const alert = recent.list().find((a) => a.evidence.includes(e.id));
        if (alert) byUuid.set(e.id, alert.fingerprint);
      }
    },
    alertOf(uuid) {
      const fp = byUuid.get(`uuid-${uuid}`);
      return fp ? recent.get(fp) : undefined;
    },
  };
}
