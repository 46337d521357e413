export interface LoginBrakeOptions {
  /** Failures of one e-mail within the window before it is locked. Default 5. */
  maxFailuresPerEmail?: number;
  /** Failures from one source address within the window before it is locked. Default 20. */
  maxFailuresPerAddress?: number;
  /** Default 15 min. */
  windowMs?: number;
  /** How long a lock lasts. Default 15 min. */
  lockMs?: number;
  /** Bound on remembered e-mails and addresses each (a stranger can grow these maps). Default 10 000. */
  maxEntries?: number;
  now?: () => number;
}

interface Counter {
  failures: number;
  windowStart: number;
  lockedUntil: number;
}

export type BrakeVerdict = { locked: false } | { locked: true; by: 'address' | 'email'; retryAfterSec: number };

/**
 * Slows password guessing at the web login: failures are counted per source address and per
 * e-mail (so neither one address trying many e-mails nor many addresses trying one e-mail get
 * far), and past the limit that key is locked for a while.
 */
export class LoginBrake {
  private readonly byAddress = new Map<string, Counter>();
  private readonly byEmail = new Map<string, Counter>();
  private readonly o: Required<Omit<LoginBrakeOptions, 'now'>>;
  private readonly now: () => number;

  constructor(options: LoginBrakeOptions = {}) {
    this.o = {
      maxFailuresPerEmail: options.maxFailuresPerEmail ?? 5,
      maxFailuresPerAddress: options.maxFailuresPerAddress ?? 20,
      windowMs: options.windowMs ?? 15 * 60_000,
      lockMs: options.lockMs ?? 15 * 60_000,
      maxEntries: Math.max(1, options.maxEntries ?? 10_000),
    };
    this.now = options.now ?? Date.now;
  }

  check(address: string, email: string): BrakeVerdict {
    const now = this.now();
    for (const [by, map, key] of [['address', this.byAddress, address], ['email', this.byEmail, normalize(email)]] as const) {
      const c = map.get(key);
      if (c && c.lockedUntil > now) return { locked: true, by, retryAfterSec: Math.ceil((c.lockedUntil - now) / 1000) };
    }
    return { locked: false };
  }

  fail(address: string, email: string): void {
    this.count(this.byAddress, address, this.o.maxFailuresPerAddress);
    this.count(this.byEmail, normalize(email), this.o.maxFailuresPerEmail);
  }

  /** A good login clears its e-mail's count (not the address's: one good account must not launder a scan). */
  succeed(email: string): void {
    this.byEmail.delete(normalize(email));
  }

  private count(map: Map<string, Counter>, key: string, max: number): void {
    const now = this.now();
    let c = map.get(key);
    if (!c || now - c.windowStart > this.o.windowMs) {
      c = { failures: 0, windowStart: now, lockedUntil: 0 };
    }
    map.delete(key); // re-insert: Map order is then least-recently-failed first
    c.failures++;
    if (c.failures >= max) {
      c.lockedUntil = now + this.o.lockMs;
      c.failures = 0;
      c.windowStart = now;
    }
    map.set(key, c);
    while (map.size > this.o.maxEntries) map.delete(map.keys().next().value!);
  }
}

const normalize = (email: string) => email.trim().toLowerCase();
