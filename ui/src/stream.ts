/**
 * Live updates from /v1/console/stream: one EventSource per distinct query (the alert list asks for
 * its filter, so Falconer filters, free text over the command included; other pages ask for
 * everything), opened while some component listens and closed when the last one goes. The browser
 * reconnects by itself after a dropped connection; when Falconer refuses the stream (an error status
 * closes it for good) this reopens it with a growing delay, and goes back to sign-in if the session
 * has ended.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, session, sessionEnded } from './api';

export type StreamStatus = 'connecting' | 'live' | 'reconnecting';

type Handler = (data: unknown) => void;

class Stream {
  private source: EventSource | undefined;
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly attached = new Set<string>();
  readonly statusListeners = new Set<(s: StreamStatus) => void>();
  status: StreamStatus = 'connecting';
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryMs = 1000;

  constructor(private readonly query: string) {}

  listen(type: string, h: Handler, onStatus: (s: StreamStatus) => void): void {
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, (set = new Set()));
    set.add(h);
    this.statusListeners.add(onStatus);
    this.open();
    this.attach(type);
  }

  unlisten(type: string, h: Handler, onStatus: (s: StreamStatus) => void): void {
    this.handlers.get(type)?.delete(h);
    this.statusListeners.delete(onStatus);
  }

  idle(): boolean {
    return this.statusListeners.size === 0;
  }

  close(): void {
    this.source?.close();
    this.source = undefined;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private setStatus(s: StreamStatus) {
    this.status = s;
    this.statusListeners.forEach((l) => l(s));
  }

  private attach(type: string) {
    if (!this.source || this.attached.has(type)) return;
    this.attached.add(type);
    this.source.addEventListener(type, (e) => {
      let data: unknown;
      try {
        data = JSON.parse(String((e as MessageEvent).data));
      } catch {
        return;
      }
      this.handlers.get(type)?.forEach((h) => h(data));
    });
  }

  private open() {
    if (this.source || this.retryTimer) return;
    this.source = new EventSource(`/v1/console/stream${this.query ? `?${this.query}` : ''}`, { withCredentials: true });
    this.attached.clear();
    for (const type of this.handlers.keys()) this.attach(type);
    this.source.onopen = () => {
      this.retryMs = 1000;
      this.setStatus('live');
    };
    this.source.onerror = () => {
      if (!this.source) return;
      if (this.source.readyState !== EventSource.CLOSED) {
        this.setStatus('reconnecting');
        return;
      }
      this.source = undefined;
      this.setStatus('reconnecting');
      // Refused (an error status): when it is because the session ended, the page should say so.
      session.get().catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 401) sessionEnded();
      });
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (!this.idle()) this.open();
      }, this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 30_000);
    };
  }
}

const streams = new Map<string, Stream>();

/**
 * Calls `fn` with each streamed event of `type` (`alert`, `incident`) while the component is mounted;
 * `query` is the alert filter Falconer applies to `alert` events (`incident` events are not filtered).
 */
export function useStream<T>(type: string, fn: (data: T) => void, query = ''): StreamStatus {
  const ref = useRef(fn);
  ref.current = fn;
  const [status, setStatus] = useState<StreamStatus>(streams.get(query)?.status ?? 'connecting');
  useEffect(() => {
    let stream = streams.get(query);
    if (!stream) streams.set(query, (stream = new Stream(query)));
    const h: Handler = (d) => ref.current(d as T);
    stream.listen(type, h, setStatus);
    setStatus(stream.status);
    return () => {
      stream.unlisten(type, h, setStatus);
      if (stream.idle()) {
        stream.close();
        streams.delete(query);
      }
    };
  }, [type, query]);
  return status;
}
