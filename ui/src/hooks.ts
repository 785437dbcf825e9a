import { useCallback, useEffect, useState } from 'preact/hooks';
import { api } from './api';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** GETs `path` (again whenever it changes); `undefined` skips the call. */
export function useApi<T>(path: string | undefined): Loaded<T> {
  const [state, setState] = useState<{ path?: string; data?: T; error?: unknown; loading: boolean }>({
    path,
    loading: path !== undefined,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (path === undefined) return;
    const ctl = new AbortController();
    // A reload keeps showing what it has; another path starts empty.
    setState((s) => (s.path === path ? { ...s, loading: true } : { path, loading: true }));
    api<T>(path, { signal: ctl.signal }).then(
      (data) => setState({ path, data, loading: false }),
      (error: unknown) => {
        if ((error as Error).name !== 'AbortError') setState({ path, error, loading: false });
      },
    );
    return () => ctl.abort();
  }, [path, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  // Until the effect has run for a new path, what the state holds is another path's.
  const current = state.path === path;
  return {
    data: current ? state.data : undefined,
    error: current ? state.error : undefined,
    loading: current ? state.loading : path !== undefined,
    reload,
  };
}

/** The current time, refreshed every `ms` (for "3 min ago"). */
export function useNow(ms = 15_000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
