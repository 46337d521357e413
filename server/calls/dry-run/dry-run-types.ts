import type { PlainValue } from '../../../sandbox/index.ts';

/**
 * What a dialled leg does in a dry run. `after` is simulated seconds after the leg starts (no
 * real waiting): `answer` answers then, `busy` / `fail` fail then, `redirect` sends a 302 then;
 * `no-answer` rings until the Dial's ring timeout.
 */
export type DryRunLegAction =
  | { action: 'answer'; after?: number }
  | { action: 'busy'; after?: number }
  | { action: 'no-answer' }
  | { action: 'fail'; status: number; reason?: string; after?: number }
  | { action: 'redirect'; target: string; after?: number };

/**
 * A rule for the legs whose destination matches `pattern`: `*` matches any run of characters,
 * case-insensitively, against the leg as written in the timeline (`1001@local`,
 * `0211234567@mytrunk`, `sip:bob@example.com`). The first matching rule wins.
 */
export type DryRunOutcomeRule = DryRunLegAction & { pattern: string };

/** A WebGet the dry run answers itself (`body`), or lets through to the real network (`real`). */
export interface DryRunWebGetRule {
  /** Exact URL, or with `*` wildcards. */
  url: string;
  body?: string;
  real?: boolean;
}

/** The call a dry run pretends to handle. */
export interface DryRunCall {
  direction: 'in' | 'out';
  /** The caller: one of the tenant's accounts (outgoing calls), or an outside number (incoming). */
  from: { account?: string; number?: string; displayName?: string };
  /** The dialled user (`1002`, `0211234567`), optionally `user@host`. */
  to: string;
  headers?: Record<string, string>;
  /** `address[:port]` the INVITE came from. */
  sourceAddress?: string;
  transport?: 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';
}

export interface DryRunOptions {
  call: DryRunCall;
  outcomes: DryRunOutcomeRule[];
  /** What a leg that matches no rule does; default fail 480. */
  defaultOutcome?: DryRunLegAction;
  /** Let DBWrite/DBDelete reach the tenant's real store; default off (an overlay the run forgets). */
  useRealKv?: boolean;
  webGet?: DryRunWebGetRule[];
}

/** One simulated leg of a Dial, as the timeline shows it. */
export interface DryRunLeg {
  id: number;
  group: number;
  destination: string;
  /** The rule that decided what it did; undefined = the default outcome. */
  rule?: string;
  state: string;
  status?: number;
  reason?: string;
  /** Simulated ms since the run started. */
  startedAt?: number;
  ringingAt?: number;
  answeredAt?: number;
  endedAt?: number;
}

export type DryRunTimelineEntry =
  | { kind: 'sys'; at: number; name: string; args: PlainValue[]; result?: PlainValue; error?: string }
  | { kind: 'log'; at: number; message: string }
  | {
      kind: 'dial';
      at: number;
      /** `Dial` or `Callback` (one per destination). */
      via: 'Dial' | 'Callback';
      dialString: string;
      legs: DryRunLeg[];
      answered: boolean;
      status: number;
      reason: string;
      outcome: string;
      /** Id of the leg that won (answered). */
      winner?: number;
      endedAt: number;
    };

/** Which budget ended the run, when one did. */
export type DryRunLimit = 'cpu' | 'memory' | 'wall-clock' | 'absolute' | 'concurrency';

export interface DryRunReport {
  /** What the caller would have been answered. */
  response: { status: number; reason: string; by: 'answer' | 'dialplan' | 'dial' | 'default' | 'error' };
  timeline: DryRunTimelineEntry[];
  usage: {
    cpuMs: number | null;
    /** Real time the sandbox run took. */
    wallMs: number;
    /** Time the simulated legs would have taken. */
    simulatedMs: number;
  };
  limit?: DryRunLimit;
  /** A throw, a compile failure or a limit: the message, with the line of the user's source when known. */
  error?: { message: string; line?: number; column?: number };
}

/** A fault in the request (unknown account…): the API answers 400 naming `field`. */
export class DryRunRequestError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
    this.name = 'DryRunRequestError';
  }
}
