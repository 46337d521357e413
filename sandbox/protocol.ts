/**
 * The message channel between the main process (SandboxSupervisor) and the sandbox
 * worker process. It is the Node IPC channel of `child_process.fork`, so every message
 * is a plain JSON-serialisable value. This file and `index.ts` are all the calls layer
 * may import from `sandbox/`.
 */

/** Names a dialplan may call on `sys`; checked in the isolate, the worker and the supervisor. */
export const SYS_FUNCTION_NAMES = [
  'Dial',
  'Log',
  'Respond',
  'IsAvailable',
  'GetBindings',
  'SetFromHeader',
  'ClearFromHeader',
  'SetCustomSIPHeader',
  'RemoveCustomSIPHeader',
  'DBRead',
  'DBWrite',
  'DBDelete',
  'DBGetKeys',
  'WebGet',
  'ENUMLookup',
  'Callback',
  'GetCurrentCalls',
  'Secret',
] as const;

export type SysFunctionName = (typeof SYS_FUNCTION_NAMES)[number];

const sysFunctionNameSet: ReadonlySet<string> = new Set(SYS_FUNCTION_NAMES);

export function isSysFunctionName(name: unknown): name is SysFunctionName {
  return typeof name === 'string' && sysFunctionNameSet.has(name);
}

/** A plain value that survives JSON / structured clone (what crosses every boundary). */
export type PlainValue =
  | null
  | boolean
  | number
  | string
  | PlainValue[]
  | { [key: string]: PlainValue | undefined };

export interface SipUriCopy {
  user: string;
  host: string;
  port?: number;
  params: Record<string, string>;
  raw: string;
}

export interface NameAddrCopy {
  displayName?: string;
  uri: SipUriCopy;
  tag?: string;
}

/** The plain copy of the triggering request that becomes the dialplan's `req` global. */
export interface DialplanRequest {
  method: string;
  uri: SipUriCopy;
  from: NameAddrCopy;
  to: NameAddrCopy;
  callId: string;
  headers: Record<string, string[]>;
  body: string;
  source: { address: string; port: number; transport: string };
  account?: { username: string; domain: string };
  direction: 'in' | 'out';
  /** A call from a provider: its name. */
  provider?: string;
  /** A call from a provider to one of the tenant's DIDs: the number as stored. */
  did?: string;
  /** Set for the tenant's `transfer` dialplan: the REFER that asked for it (`uri` is its Refer-To). */
  transfer?: TransferRequestInfo;
}

export interface TransferRequestInfo {
  /** Refer-To as received. */
  referTo: string;
  /** Referred-By, when the referrer sent one. */
  referredBy?: string;
  /** The Patchbay call being transferred. */
  originalCallId: string;
  /** The party that sent the REFER (it leaves the call on success). */
  referrer: string;
  /** The party that stays and is connected to the new call. */
  transferee: string;
}

/** What `sys.Dial` resolves to (the calls layer returns this from `host.call('Dial', …)`). */
export interface DialResult {
  answered: boolean;
  status: number;
  reason: string;
  outcome: string;
}

/**
 * Per-execution budgets. Time values in milliseconds, memory in MiB.
 * See DESIGN.md "Sandbox runtime and limits".
 */
export interface SandboxLimits {
  memoryMiB: number;
  cpuMs: number;
  /** Wall clock before the first Dial; each settled Dial grants this much again. */
  wallClockMs: number;
  /** Absolute wall clock of one execution, whatever Dial does. */
  absoluteMs: number;
  maxDials: number;
  maxCallbacks: number;
  /** WebGet calls per execution, and how many may be waiting for an answer at once. */
  maxWebGets: number;
  maxConcurrentWebGets: number;
  maxEnumLookups: number;
  /** DBRead, DBWrite, DBDelete and DBGetKeys together. */
  maxDbCalls: number;
  /** sys.Log per execution; the log is cut inside the isolate, before it crosses any channel. */
  maxLogLines: number;
  /** UTF-8 bytes of all Log lines of one execution. */
  maxLogBytes: number;
  /** How often the worker samples `isolate.cpuTime` (catches loops after an `await`). */
  cpuCheckIntervalMs: number;
}

export const DEFAULT_SANDBOX_LIMITS: Readonly<SandboxLimits> = Object.freeze({
  memoryMiB: 32,
  cpuMs: 1000,
  wallClockMs: 10_000,
  absoluteMs: 300_000,
  maxDials: 20,
  maxCallbacks: 3,
  maxWebGets: 10,
  maxConcurrentWebGets: 3,
  maxEnumLookups: 10,
  maxDbCalls: 200,
  maxLogLines: 500,
  maxLogBytes: 64 * 1024,
  cpuCheckIntervalMs: 10,
});

export type RunResult =
  | { status: 'completed' }
  | {
      status: 'failed';
      code: 500 | 503;
      reason: string;
      line?: number;
      column?: number;
      /** Set when admission control refused the run: seconds for the caller's Retry-After. */
      retryAfter?: number;
    };

/**
 * Which budget of its tenant an execution runs in: inbound (a call to the tenant, possibly from
 * a stranger) and outbound (a call by one of its authenticated accounts) are counted apart, so a
 * flood of one cannot starve the other.
 */
export type RunDirection = 'in' | 'out';

// ---- supervisor → worker ----

/** One dialplan execution: which compiled dialplan runs for which call and request. */
export interface DialplanRun {
  tenantId: string;
  callId: string;
  dialplanName: string;
  /** Stored output of compileDialplan. */
  js: string;
  sourceMap: string;
  req: DialplanRequest;
}

export interface RunMessage extends DialplanRun {
  type: 'run';
  execId: number;
  limits: SandboxLimits;
}

/** Answer to a SysCallMessage: exactly one of `value` / `error`. */
export interface SysResultMessage {
  type: 'sys-result';
  execId: number;
  seq: number;
  value?: PlainValue;
  error?: string;
}

export type SupervisorToWorkerMessage = RunMessage | SysResultMessage;

// ---- worker → supervisor ----

export interface WorkerReadyMessage {
  type: 'ready';
  isolatedVm: string;
}

/** A `sys.*` call that expects an answer (every function but Log). */
export interface SysCallMessage {
  type: 'sys-call';
  execId: number;
  /** The tenant of the run: the supervisor drops a message whose execution is not that tenant's. */
  tenantId: string;
  seq: number;
  name: SysFunctionName;
  args: PlainValue[];
}

/** `sys.Log`: fire-and-forget, delivered in order with the other sys calls. */
export interface SysNotifyMessage {
  type: 'sys-notify';
  execId: number;
  tenantId: string;
  name: 'Log';
  args: PlainValue[];
}

export interface RunDoneMessage {
  type: 'done';
  execId: number;
  tenantId: string;
  result: RunResult;
  /** What the run cost, as the worker measured it (informational: never used to enforce anything). */
  usage?: RunUsage;
}

/** CPU time the isolate spent on one execution (isolate.cpuTime delta), in milliseconds. */
export interface RunUsage {
  cpuMs: number;
}

export type WorkerToSupervisorMessage = WorkerReadyMessage | SysCallMessage | SysNotifyMessage | RunDoneMessage;
