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
import { DEFAULT_UI_DIR } from './static';

export function historyBounds(config: Config): HistoryBounds {
  const h = config.console.history;
  return {
    maxAlerts: h.maxAlerts,
    maxBytes: h.maxBytes,
    maxAgeMs: h.maxAgeHours * 3_600_000,
    evidencePerAlert: h.evidencePerAlert,
  };
}

/**
 * The console from config: undefined when `console.enabled` is false. Its history is in Redis when
 * the state store is (the replicas share it), else in process memory.
 */
export function consoleFromConfig(
  config: Config,
  clock: Clock,
  store: StateStore,
  metrics: Metrics,
  log: Pick<Logger, 'warn'>,
): ConsoleService | undefined {
  const c = config.console;
  if (!c.enabled) return undefined;
  const now = () => clock.now();
  const history: ConsoleHistory =
    store instanceof RedisStateStore
      ? new RedisConsoleHistory(store, historyBounds(config), now)
      : new MemoryConsoleHistory(historyBounds(config), now);
  return new ConsoleService(
    history,
    clock,
    {
      evidenceMaxBytes: c.history.evidenceMaxBytes,
      evidencePerAlert: c.history.evidencePerAlert,
      sessions: {
        max: c.sessions.max,
        idleMs: c.sessions.idleMinutes * 60_000,
        absoluteMs: c.sessions.absoluteHours * 3_600_000,
      },
      stream: { maxSubscribers: c.stream.maxSubscribers, maxBufferedBytes: c.stream.maxBufferedBytes },
      secureCookies: Boolean(config.server.tls),
      uiDir: c.uiDir || DEFAULT_UI_DIR,
    },
    metrics,
    log,
  );
}
