import { useCallback, useEffect, useState } from 'react';

export type AsyncState<T> =
  | { status: 'loading'; data?: T }
  | { status: 'ready'; data: T }
  | { status: 'error'; error: unknown; data?: T };

/** Loads on mount and on `reload()`; keeps the last data while reloading so lists don't jump. */
export function useAsync<T>(load: () => Promise<T>, deps: readonly unknown[]): [AsyncState<T>, () => void] {
  const [state, setState] = useState<AsyncState<T>>({ status: 'loading' });
  const [tick, setTick] = useState(0);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const run = useCallback(load, deps);
  useEffect(() => {
    let live = true;
    setState((prev) => ({ status: 'loading', data: prev.data }));
    run().then(
      (data) => live && setState({ status: 'ready', data }),
      (error: unknown) => live && setState((prev) => ({ status: 'error', error, data: prev.data })),
    );
    return () => {
      live = false;
    };
  }, [run, tick]);
  return [state, useCallback(() => setTick((n) => n + 1), [])];
}
