/**
 * What the switch's metrics are read from. Lower layers keep plain counts (numbers, typed arrays)
 * that cost an increment on their hot paths; these functions are called only when /metrics is
 * scraped. server/main.ts wires them to the stack, the calls layer, the sandbox and the event hub.
 */
export interface SipTrafficCounts {
  /** Request counts by index of `methods`. */
  readonly requests: ArrayLike<number>;
  /** Response counts by index of `statusClasses`. */
  readonly responses: ArrayLike<number>;
}

export interface MetricsSources {
  sipTraffic: {
    /** Method label of each request count (a fixed list, `other` last). */
    readonly methods: readonly string[];
    /** Status class label of each response count (`1xx` … `6xx`, `other`). */
    readonly statusClasses: readonly string[];
    readonly in: SipTrafficCounts;
    readonly out: SipTrafficCounts;
  };
  transactions(): { client: number; server: number };
  dialogs(): number;
  calls(): { live: number; started: number; answered: number; failed: number };
  /** Live registrar bindings. */
  registrations(): number;
  /** 503s shed since start, by where the switch refused the work. */
  shed(): { calls: number; sandbox: number; transactions: number };
  /** Sources banned now. */
  bans(): number;
  /** Dialplan executions waiting for or running in the worker now (admission control's queue). */
  sandboxQueued(): number;
  /** PID of the sandbox worker process, for its resident memory (Linux /proc). */
  sandboxWorkerPid(): number | undefined;
  eventStream(): { clients: number; resyncs: number; slowCloses: number; staleResumes: number };
}
