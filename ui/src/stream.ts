/**
 * One EventSource on /v1/console/stream for the whole page, opened while some page listens. The
 * browser reconnects by itself after a dropped connection; when the server refuses the stream (an
 * error status closes it for good) this reopens it with a growing delay.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, session, sessionEnded } from './api';

export type StreamStatus = 'connecting' | 'live' | 'reconnecting';

type Handler = (data: unknown) => void;

const handlers = new Map<string, Set<Handler>>();
const statusListeners = new Set<(s: StreamStatus) => void>();
let source: EventSource | undefined;
let status: StreamStatus = 'connecting';
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let retryMs = 1000;
const attached = new Set<string>();

function setStatus(s: StreamStatus) {
  status = s;
  statusListeners.forEach((l) => l(s));
}

function listening(): boolean {
  return [...handlers.values()].some((set) => set.size > 0) || statusListeners.size > 0;
}

function dispatch(type: string, e: MessageEvent) {
  let data: unknown;
  try {
    data = JSON.parse(String(e.data));
  } catch {
    return;
  }
  handlers.get(type)?.forEach((h) => h(data));
}

function attach(type: string) {
  if (!source || attached.has(type)) return;
  attached.add(type);
  source.addEventListener(type, (e) => dispatch(type, e as MessageEvent));
}

function open() {
  if (source) return;
  setStatus(status === 'live' ? 'reconnecting' : status);
  source = new EventSource('/v1/console/stream', { withCredentials: true });
  attached.clear();
  for (const type of handlers.keys()) attach(type);
  source.onopen = () => {
    retryMs = 1000;
    setStatus('live');
  };
  source.onerror = () => {
    if (!source) return;
    if (source.readyState === EventSource.CLOSED) {
      source = undefined;
      setStatus('reconnecting');
      // Refused (an error status): when it is because the session ended, the page should say so.
      session.get().catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 401) sessionEnded();
      });
      retryTimer = setTimeout(() => {
        retryTimer = undefined;
        if (listening()) open();
      }, retryMs);
      retryMs = Math.min(retryMs * 2, 30_000);
    } else {
      setStatus('reconnecting');
    }
  };
}

function closeIfIdle() {
  if (listening()) return;
  source?.close();
  source = undefined;
  if (retryTimer) clearTimeout(retryTimer);
  retryTimer = undefined;
  status = 'connecting';
}

/** Calls `fn` with each streamed event of `type` (`alert`, `incident`) while the component is mounted. */
export function useStream<T>(type: string, fn: (data: T) => void): StreamStatus {
  const ref = useRef(fn);
  ref.current = fn;
  const [s, setS] = useState<StreamStatus>(status);
  useEffect(() => {
    const h: Handler = (d) => ref.current(d as T);
    let set = handlers.get(type);
    if (!set) handlers.set(type, (set = new Set()));
    set.add(h);
    statusListeners.add(setS);
    open();
    attach(type);
    setS(status);
    return () => {
      set.delete(h);
      statusListeners.delete(setS);
      closeIfIdle();
    };
  }, [type]);
  return s;
}

/** Closes the stream (on logout). */
export function closeStream(): void {
  source?.close();
  source = undefined;
  status = 'connecting';
}
