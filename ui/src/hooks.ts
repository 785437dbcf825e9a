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
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: path !== undefined });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (path === undefined) return;
    const ctl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    api<T>(path, { signal: ctl.signal }).then(
      (data) => setState({ data, loading: false }),
      (error: unknown) => {
        if ((error as Error).name !== 'AbortError') setState({ error, loading: false });
      },
    );
    return () => ctl.abort();
  }, [path, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
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
