/**
 * The live event stream of the web contract: WebSocket `/api/v1/events[?since=<seq>]`, cookie
 * authenticated. The server sends a snapshot, then ordered events with sequence numbers, and
 * `{type:'resync'}` when it cannot replay a gap. This client resumes from the last sequence it
 * saw after a drop, drops anything it has seen already, and asks for a fresh snapshot after a
 * resync, so a page built on it never shows a gap or a duplicate.
 */

export interface EventSnapshot {
  type: 'snapshot';
  seq: number;
  calls: unknown[];
  registrations: unknown[];
  extensions: unknown[];
  parking: unknown[];
}

export interface StreamEvent {
  seq: number;
  time: string | number;
  type: string;
  tenant: number | string;
  [field: string]: unknown;
}

export enum StreamState {
  Connecting = 'connecting',
  Live = 'live',
  Reconnecting = 'reconnecting',
  Closed = 'closed',
}

/** Allowed moves; anything else is a bug in this file. */
const TRANSITIONS: Record<StreamState, readonly StreamState[]> = {
  [StreamState.Connecting]: [StreamState.Live, StreamState.Reconnecting, StreamState.Closed],
  [StreamState.Live]: [StreamState.Reconnecting, StreamState.Closed],
  [StreamState.Reconnecting]: [StreamState.Connecting, StreamState.Closed],
  [StreamState.Closed]: [],
};

/** The part of the browser WebSocket this client uses (so tests can hand in another one). */
export interface SocketLike {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number): void;
}

export interface EventStreamOptions {
  /** Event types or `prefix.*` patterns; sent as `{subscribe}` on every (re)connect. */
  subscribe?: string[];
  onSnapshot(snapshot: EventSnapshot): void;
  onEvent(event: StreamEvent): void;
  onState?(state: StreamState): void;
  /** Called on `resync`: what the page holds is stale until the next snapshot. */
  onResync?(): void;
  /** Absolute ws(s) URL of the stream; defaults to this page's host. */
  url?: string;
  createSocket?(url: string): SocketLike;
  /** Waits before reconnect attempts 1, 2, …; the last repeats. */
  backoffMs?: readonly number[];
}

const DEFAULT_BACKOFF = [250, 1000, 2000, 5000];

function defaultUrl(): string {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${window.location.host}/api/v1/events`;
}

export class EventStream {
  private socket: SocketLike | null = null;
  private stateValue = StreamState.Connecting;
  private lastSeqValue: number | null = null;
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly options: EventStreamOptions) {}

  get state(): StreamState {
    return this.stateValue;
  }

  /** The sequence number of the last snapshot or event handed to the page. */
  get lastSeq(): number | null {
    return this.lastSeqValue;
  }

  start(): void {
    if (this.stateValue === StreamState.Closed || this.socket) return;
    this.open();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.move(StreamState.Closed);
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000);
  }

  private move(next: StreamState): void {
    if (next === this.stateValue) return;
    if (!TRANSITIONS[this.stateValue].includes(next)) throw new Error(`event stream: ${this.stateValue} → ${next} is not allowed`);
    this.stateValue = next;
    this.options.onState?.(next);
  }

  private open(): void {
    const base = this.options.url ?? defaultUrl();
    const url = this.lastSeqValue === null ? base : `${base}${base.includes('?') ? '&' : '?'}since=${this.lastSeqValue}`;
    const socket = (this.options.createSocket ?? ((u: string) => new WebSocket(u) as unknown as SocketLike))(url);
    this.socket = socket;
    const resuming = this.lastSeqValue !== null;
    socket.onopen = () => {
      if (this.options.subscribe) socket.send(JSON.stringify({ subscribe: this.options.subscribe }));
      // Resuming, the page's state is whole already: the server replays what it missed (or says resync).
      if (resuming && this.stateValue === StreamState.Connecting) {
        this.attempts = 0;
        this.move(StreamState.Live);
      }
    };
    socket.onmessage = (message) => this.receive(message.data);
    socket.onerror = () => {
      // A close event follows; reconnecting is decided there.
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stateValue === StreamState.Closed) return;
      this.move(StreamState.Reconnecting);
      const backoff = this.options.backoffMs ?? DEFAULT_BACKOFF;
      const wait = backoff[Math.min(this.attempts, backoff.length - 1)] ?? 1000;
      this.attempts += 1;
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.stateValue !== StreamState.Reconnecting) return;
        this.move(StreamState.Connecting);
        this.open();
      }, wait);
    };
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') return;
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!frame || typeof frame !== 'object') return;
    const f = frame as { type?: unknown; seq?: unknown };
    if (f.type === 'snapshot' && typeof f.seq === 'number') {
      this.lastSeqValue = f.seq;
      this.attempts = 0;
      this.move(StreamState.Live);
      this.options.onSnapshot(frame as EventSnapshot);
      return;
    }
    if (f.type === 'resync') {
      // Forget the position: the next snapshot (on this socket, or on a fresh connect) replaces everything.
      this.lastSeqValue = null;
      this.options.onResync?.();
      return;
    }
    if (typeof f.seq !== 'number' || typeof f.type !== 'string') return;
    // Before the first snapshot, or replayed twice across a reconnect: not for the page.
    if (this.lastSeqValue === null || f.seq <= this.lastSeqValue) return;
    this.lastSeqValue = f.seq;
    this.options.onEvent(frame as StreamEvent);
  }
}
