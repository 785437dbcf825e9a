import type { Config } from '../config/schema';
import type { Clock } from '../core/clock';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { StateStore } from '../store/port';
import { MemoryConsoleHistory } from './history/memory';
import type { HistoryBounds } from './history/port';
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

/** The console from config: undefined when `console.enabled` is false. */
export function consoleFromConfig(
  config: Config,
  clock: Clock,
  _store: StateStore,
  metrics: Metrics,
  log: Pick<Logger, 'warn'>,
): ConsoleService | undefined {
  const c = config.console;
  if (!c.enabled) return undefined;
  const history = new MemoryConsoleHistory(historyBounds(config), () => clock.now());
  return new ConsoleService(
    history,
    clock,
    {
      evidenceMaxBytes: c.history.evidenceMaxBytes,
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
