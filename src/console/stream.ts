import type { ServerResponse } from 'node:http';
import type { Clock, TimerHandle } from '../core/clock';
import type { AlertRow, StoredRow } from './row';
import { matchesFilter, type AlertFilter } from './query';

export interface StreamOptions {
  maxSubscribers: number;
  /** A subscriber with more unsent bytes than this is dropped. */
  maxBufferedBytes: number;
  pingMs: number;
}

export interface StreamHooks {
  subscribers?: (n: number) => void;
  dropped?: (reason: 'slow' | 'full') => void;
}

interface Subscriber {
  res: ServerResponse;
  filter: AlertFilter;
}

export interface IncidentEvent {
  id: string;
  severity: string;
  chain: string | null;
  alerts: number;
}

/**
 * Server-sent events to the console's open pages: `alert` (a row, new or updated), `incident`, and
 * a `: ping` comment on a timer so proxies keep the connection. Bounded: at most `maxSubscribers`
 * at once, and one that does not read (more than `maxBufferedBytes` waiting in its socket) is
 * disconnected rather than buffered for; the page reconnects and reloads.
 */
export class StreamHub {
  private readonly subscribers = new Set<Subscriber>();
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly options: StreamOptions,
    private readonly hooks: StreamHooks = {},
  ) {}

  get size(): number {
    return this.subscribers.size;
  }

  /** Starts the event stream on `res`; false (nothing written) when the hub is full. */
  subscribe(res: ServerResponse, filter: AlertFilter): boolean {
    if (this.subscribers.size >= this.options.maxSubscribers) {
      this.hooks.dropped?.('full');
      return false;
    }
    const sub: Subscriber = { res, filter };
    this.subscribers.add(sub);
    this.hooks.subscribers?.(this.subscribers.size);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 3000\n\n');
    res.on('close', () => this.remove(sub));
    this.schedulePing();
    return true;
  }

  publishAlert(stored: StoredRow): void {
    let frame: string | undefined;
    for (const sub of this.subscribers) {
      if (!matchesFilter(sub.filter, stored)) continue;
      frame ??= `event: alert\ndata: ${JSON.stringify(stored.row satisfies AlertRow)}\n\n`;
      this.send(sub, frame);
    }
  }

  publishIncident(incident: IncidentEvent): void {
    if (this.subscribers.size === 0) return;
    const frame = `event: incident\ndata: ${JSON.stringify(incident)}\n\n`;
    for (const sub of this.subscribers) this.send(sub, frame);
  }

  close(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const sub of [...this.subscribers]) sub.res.end();
    this.subscribers.clear();
    this.hooks.subscribers?.(0);
  }

  private send(sub: Subscriber, frame: string): void {
    if (sub.res.writableLength + frame.length > this.options.maxBufferedBytes) {
      this.hooks.dropped?.('slow');
      this.remove(sub);
      sub.res.destroy();
      return;
    }
    sub.res.write(frame);
  }

  private remove(sub: Subscriber): void {
    if (!this.subscribers.delete(sub)) return;
    this.hooks.subscribers?.(this.subscribers.size);
    if (this.subscribers.size === 0 && this.timer) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private schedulePing(): void {
    if (this.timer) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      for (const sub of [...this.subscribers]) this.send(sub, ': ping\n\n');
      if (this.subscribers.size) this.schedulePing();
    }, this.options.pingMs);
  }
}
