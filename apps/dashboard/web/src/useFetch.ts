import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from './api';

export interface Fetched<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs `load` when `key` changes (and on reload), keeping the last good data while a
 * reload runs or fails, so live refreshes never blank the screen. `refreshMs` polls.
 */
export function useFetch<T>(key: string | null, load: () => Promise<T>, refreshMs?: number): Fetched<T> {
  const [state, setState] = useState<{ key: string | null; data?: T; error?: ApiError; loading: boolean }>({ key, loading: key !== null });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    if (key === null) return;
    let live = true;
    setState((s) => (s.key === key ? { ...s, loading: true } : { key, loading: true }));
    loadRef.current().then(
      (data) => { if (live) setState({ key, data, loading: false }); },
      (e: unknown) => {
        if (!live) return;
        const err = e instanceof ApiError ? e : new ApiError(0, 'CLIENT_ERROR', e instanceof Error ? e.message : String(e));
        setState((s) => ({ key, data: s.key === key ? s.data : undefined, error: err, loading: false }));
      },
    );
    return () => { live = false; };
  }, [key, tick]);

  useEffect(() => {
    if (!refreshMs || key === null) return;
    const h = setInterval(() => { if (document.visibilityState !== 'hidden') setTick((t) => t + 1); }, refreshMs);
    return () => clearInterval(h);
  }, [refreshMs, key]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  const same = state.key === key;
  return { data: same ? state.data : undefined, error: same ? state.error : undefined, loading: !same || state.loading, reload };
}
