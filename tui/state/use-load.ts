// Loading data for a screen: the last answer, the last error (as the server said it), whether a
// call is in flight, reload(), and an optional refresh interval for live screens. An answer that
// arrives after the screen went away, or after a newer call started, is dropped.
import { useCallback, useEffect, useRef, useState } from "react";

export interface Loaded<T> {
  data: T | null;
  error: unknown;
  loading: boolean;
  reload(): void;
}

export function useLoad<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[], opts: { intervalMs?: number; enabled?: boolean } = {}): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const generation = useRef(0);
  const enabled = opts.enabled ?? true;
  // biome-ignore lint/correctness/useExhaustiveDependencies: callers list the inputs of fn in deps.
  useEffect(() => {
    if (!enabled) return;
    const mine = ++generation.current;
    const ctrl = new AbortController();
    setLoading(true);
    fn(ctrl.signal).then(
      (d) => {
        if (mine !== generation.current) return;
        setData(d);
        setError(null);
        setLoading(false);
      },
      (e) => {
        if (mine !== generation.current) return;
        setError(e);
        setLoading(false);
      },
    );
    return () => ctrl.abort();
  }, [...deps, tick, enabled]);
  useEffect(() => {
    if (!opts.intervalMs || !enabled) return;
    const t = setInterval(() => setTick((n) => n + 1), opts.intervalMs);
    return () => clearInterval(t);
  }, [opts.intervalMs, enabled]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, loading, reload };
}
