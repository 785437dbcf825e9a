import type { Config } from '../config/schema';
import type { Clock } from '../core/clock';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { StateStore } from '../store/port';
import { RedisStateStore } from '../store/redis';
import { MemoryConsoleHistory } from './history/memory';
import type { ConsoleHistory, HistoryBounds } from './history/port';
import { RedisConsoleHistory } from './history/redis';
import { ConsoleService } from './service';
import { SessionStore, type TokenCheck } from './session';
import { MemorySessions, RedisSessions } from './session-backends';
import { DEFAULT_UI_DIR } from './static';

export function historyBounds(config: Config): HistoryBounds {
  const h = config.console.history;
  return {
    maxAlerts: h.maxAlerts,
    maxBytes: h.maxBytes,
    maxAgeMs: h.maxAgeHours * 3_600_000,
    evidencePerAlert: h.evidencePerAlert,
    evidenceMaxBytes: h.evidenceMaxBytes,
  };
}

/**
 * The console from config: undefined when `console.enabled` is false. Its history is in Redis when
 * the state store is (the replicas share it), else in process memory; so are its sessions.
 */
export function consoleFromConfig(
  config: Config,
  clock: Clock,
  store: StateStore,
  metrics: Metrics,
  log: Pick<Logger, 'warn'>,
  check: TokenCheck,
): ConsoleService | undefined {
  const c = config.console;
  if (!c.enabled) return undefined;
  const now = () => clock.now();
  const history: ConsoleHistory =
    store instanceof RedisStateStore
      ? new RedisConsoleHistory(store, historyBounds(config), now)
      : new MemoryConsoleHistory(historyBounds(config), now);
  const bounds = {
    max: c.sessions.max,
    maxPerToken: c.sessions.maxPerToken,
    idleMs: c.sessions.idleMinutes * 60_000,
    absoluteMs: c.sessions.absoluteHours * 3_600_000,
  };
  const backend = store instanceof RedisStateStore ? new RedisSessions(store, bounds) : new MemorySessions(bounds);
  const service = new ConsoleService(
    history,
    new SessionStore(backend, clock, bounds, check),
    clock,
    {
      evidencePerAlert: c.history.evidencePerAlert,
      stream: { maxSubscribers: c.stream.maxSubscribers, maxBufferedBytes: c.stream.maxBufferedBytes },
      resolveAfterMs: config.alerting.resolveAfterSeconds * 1000,
      secureCookies: Boolean(config.server.tls),
      uiDir: c.uiDir || DEFAULT_UI_DIR,
    },
    metrics,
    log,
  );
  // Other replicas' alerts reach this replica's open pages through the shared history.
  if (history instanceof RedisConsoleHistory) service.follow(FOLLOW_MS);
  return service;
}

const FOLLOW_MS = 2000;
