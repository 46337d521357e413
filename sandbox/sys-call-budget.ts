import type { SandboxLimits, SysFunctionName } from './protocol.ts';

/** sys functions that share one per-execution budget of database calls (key/value store, and Secret). */
const DB_FUNCTIONS: ReadonlySet<SysFunctionName> = new Set(['DBRead', 'DBWrite', 'DBDelete', 'DBGetKeys', 'Secret']);

/**
 * The line the setup script writes once when a dialplan's log budget is spent (isolate-setup.ts);
 * checks on the far side of the isolate let exactly this one more line through.
 */
export function logLimitLine(limits: Pick<SandboxLimits, 'maxLogLines' | 'maxLogBytes'>): string {
  return `sys.Log: log limit reached (${limits.maxLogLines} lines or ${limits.maxLogBytes} bytes per call); later lines are dropped`;
}

/**
 * What one execution may still ask of the calls layer: each of these calls costs the switch
 * real work (a call leg, an HTTP fetch, a DNS query, a database round trip, a console line), so
 * a dialplan in a loop must hit a wall long before the switch does. The worker refuses calls
 * over budget before they leave the worker; the supervisor keeps its own copy because it does
 * not trust the worker (a V8 escape controls it).
 */
export class SysCallBudget {
  private readonly used = new Map<string, number>();
  private readonly inFlight = new Map<string, number>();
  private logLines = 0;
  private logBytes = 0;

  constructor(private readonly limits: SandboxLimits) {}

  /** Takes one call of `name` from the budget, or says why it is refused (the dialplan sees this). */
  admit(name: SysFunctionName): string | undefined {
    const cap = this.capOf(name);
    const used = cap ? (this.used.get(cap.bucket) ?? 0) : 0;
    if (cap && used >= cap.max) return `sys.${name} refused: ${cap.what} at most ${cap.max} times per call`;
    const flying = this.inFlight.get(name) ?? 0;
    if (name === 'WebGet' && flying >= this.limits.maxConcurrentWebGets) {
      return `sys.WebGet refused: at most ${this.limits.maxConcurrentWebGets} WebGet calls may be in flight at once`;
    }
    if (cap) this.used.set(cap.bucket, used + 1);
    if (name === 'WebGet') this.inFlight.set(name, flying + 1);
    return undefined;
  }

  /** An admitted call was answered. */
  settled(name: SysFunctionName): void {
    const flying = this.inFlight.get(name);
    if (flying !== undefined) this.inFlight.set(name, Math.max(0, flying - 1));
  }

  /**
   * A Log line that reached this side. The isolate already cut the log at its budget and added
   * the limit line; more than that means the cut was bypassed, and the line is dropped.
   */
  admitLog(text: string): boolean {
    const bytes = Buffer.byteLength(text, 'utf8');
    const limitLine = logLimitLine(this.limits);
    if (this.logLines >= this.limits.maxLogLines + 1) return false;
    if (this.logBytes + bytes > this.limits.maxLogBytes + Buffer.byteLength(limitLine, 'utf8')) return false;
    this.logLines++;
    this.logBytes += bytes;
    return true;
  }

  private capOf(name: SysFunctionName): { bucket: string; max: number; what: string } | undefined {
    const limits = this.limits;
    if (name === 'Dial') return { bucket: name, max: limits.maxDials, what: 'a dialplan may call Dial' };
    if (name === 'Callback') return { bucket: name, max: limits.maxCallbacks, what: 'a dialplan may call Callback' };
    if (name === 'WebGet') return { bucket: name, max: limits.maxWebGets, what: 'a dialplan may call WebGet' };
    if (name === 'ENUMLookup') return { bucket: name, max: limits.maxEnumLookups, what: 'a dialplan may call ENUMLookup' };
    if (DB_FUNCTIONS.has(name)) {
      return { bucket: 'DB', max: limits.maxDbCalls, what: 'a dialplan may call DBRead/DBWrite/DBDelete/DBGetKeys (together)' };
    }
    return undefined;
  }
}
