import { useEffect, useReducer, useState } from 'react';
import { EventStream, StreamState } from '../api/index.ts';
import { boardReducer, EMPTY_BOARD, type BoardState } from './board-state.ts';

/** What the switchboard listens to: calls, their legs and the extension lamps (never polled). */
export const BOARD_EVENTS = ['call.*', 'leg.*', 'extension.state'];

/**
 * The board as the event stream builds it, and the stream's state for the "reconnecting" banner.
 * EventStream resumes from its last seq after a drop and takes a fresh snapshot after `resync`.
 */
export function useBoard(): { board: BoardState; stream: StreamState } {
  const [board, dispatch] = useReducer(boardReducer, EMPTY_BOARD);
  const [stream, setStream] = useState<StreamState>(StreamState.Connecting);
  useEffect(() => {
    const events = new EventStream({
      subscribe: BOARD_EVENTS,
      onSnapshot: (snapshot) => dispatch({ type: 'snapshot', snapshot }),
      onEvent: (event) => dispatch({ type: 'event', event }),
      onResync: () => dispatch({ type: 'resync' }),
      onState: setStream,
    });
    events.start();
    return () => events.close();
  }, []);
  return { board, stream };
}

/** The wall clock, once a second, for the running ring, hold and talk times. */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

/** A setting of this browser (my extension, the hold alert), kept in localStorage. */
export function useStoredSetting(key: string, fallback: string): [string, (value: string) => void] {
  const [value, setValue] = useState(() => {
    try {
      return window.localStorage.getItem(key) ?? fallback;
    } catch {
      return fallback;
    }
  });
  const set = (next: string): void => {
    setValue(next);
    try {
      window.localStorage.setItem(key, next);
    } catch {
      // Private mode without storage: the setting lasts for this page only.
    }
  };
  return [value, set];
}
