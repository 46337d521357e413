import { isIPv4, isIPv6 } from 'node:net';
import type { Logger } from 'pino';

/**
 * One failed digest authentication. `user`@`realm` is an opaque key of the attacked identity;
 * the stack knows nothing about what owns it.
 */
export interface AuthFailure {
  /** Source IP address of the request. */
  source: string;
  port?: number;
  transport?: string;
  user?: string;
  realm?: string;
  /** Why it failed ("bad-response", "username-mismatch", ...), for the log line. */
  reason?: string;
}

export interface BanInfo {
  /** The banned address, or an IPv6 /64 written as "2001:db8:1:2::/64". */
  source: string;
  until: number;
  /** How many bans this source has had in a row (1 = first); the length doubles with each. */
  level: number;
  /** Which limit it crossed: `source-limit` or `account-limit`. */
  reason: string;
}

/**
 * What the registrar and the calls layer use: ask before doing any digest work, report each
 * failed answer. One instance serves every method, so REGISTER and INVITE guesses add up.
 */
export interface AuthGuard {
  /** True while `source` is banned: answer 403 (or nothing) without looking at credentials. */
  isBanned(source: string): boolean;
  /** Logs the failure (one `auth.failed` line) and bans the source when a limit is crossed. */
  recordFailure(failure: AuthFailure): void;
  bans(): BanInfo[];
  /** Lifts a ban and forgets the source's history; false when it was not banned. */
  unban(source: string): boolean;
}

/** What persists bans (the registrar's BanSync) needs on top of AuthGuard. */
export interface PersistableAuthGuard extends AuthGuard {
  /** Re-imposes a stored ban (start-up, or one another node imposed); ignored when over or exempt. */
  restore(ban: BanInfo): void;
  /** Called once per new ban, after it took effect. */
  onBan: ((ban: BanInfo) => void) | undefined;
}

export interface AuthFailureGuardOptions {
  /** Failures per source within `sourceWindowMs` that ban it. Default 10 per 60 s. */
  sourceLimit?: number;
  sourceWindowMs?: number;
  /**
   * Failures against one account within `accountWindowMs` after which every further failing
   * source is banned at once (a distributed guess spreads over sources). The account itself is
   * never locked: that would hand anyone a way to lock out a victim. Default 30 per 10 min.
   */
  accountLimit?: number;
  accountWindowMs?: number;
  /** First ban; each ban of the same source within `maxBanMs` of the last doubles it. 10 min. */
  banMs?: number;
  /** Longest ban, and how long a ban history is remembered. Default 24 h. */
  maxBanMs?: number;
  /** Networks never banned (failures are still logged). */
  isExempt?: (address: string) => boolean;
  /** Bound on each table (counters, bans): a stranger can grow them. Default 100 000. */
  maxTracked?: number;
  logger?: Logger;
  now?: () => number;
}

interface Counter {
  count: number;
  windowStart: number;
}

interface Offence {
  level: number;
  until: number;
  reason: string;
  /** The expiry has been logged (once, at the first look after it). */
  served: boolean;
}

/**
 * Brute-force protection for digest authentication, the way pike and fail2ban do it: windows of
 * failures per source and per account, bans with backoff, and one structured log line per
 * failure (`event: "auth.failed"`) so an external fail2ban can firewall the source as well.
 *
 * IPv6 sources are counted and banned per /64: one host usually owns the whole prefix.
 */
export class AuthFailureGuard implements PersistableAuthGuard {
  onBan: ((ban: BanInfo) => void) | undefined;
  private readonly sourceLimit: number;
  private readonly sourceWindowMs: number;
  private readonly accountLimit: number;
  private readonly accountWindowMs: number;
  private readonly banMs: number;
  private readonly maxBanMs: number;
  private readonly maxTracked: number;
  private readonly isExempt: (address: string) => boolean;
  private readonly logger: Logger | undefined;
  private readonly now: () => number;
  private readonly sources = new Map<string, Counter>();
  private readonly accounts = new Map<string, Counter>();
  /** Current and past bans, kept `maxBanMs` past their end to know the next ban's length. */
  private readonly offences = new Map<string, Offence>();

  constructor(opts: AuthFailureGuardOptions = {}) {
    this.sourceLimit = Math.max(1, opts.sourceLimit ?? 10);
    this.sourceWindowMs = opts.sourceWindowMs ?? 60_000;
    this.accountLimit = Math.max(1, opts.accountLimit ?? 30);
    this.accountWindowMs = opts.accountWindowMs ?? 10 * 60_000;
    this.banMs = opts.banMs ?? 10 * 60_000;
    this.maxBanMs = Math.max(this.banMs, opts.maxBanMs ?? 24 * 3600_000);
    this.maxTracked = Math.max(1, opts.maxTracked ?? 100_000);
    this.isExempt = opts.isExempt ?? (() => false);
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
  }

  isBanned(source: string): boolean {
    const key = sourceKey(source);
    const offence = this.offences.get(key);
    if (!offence) return false;
    const now = this.now();
    if (now < offence.until) return true;
    if (!offence.served) {
      offence.served = true;
      this.logger?.info({ event: 'auth.unban', source: key, why: 'expired' }, 'authentication ban expired');
    }
    if (now - offence.until > this.maxBanMs) this.offences.delete(key);
    return false;
  }

  recordFailure(f: AuthFailure): void {
    const key = sourceKey(f.source);
    this.logger?.warn(
      { event: 'auth.failed', source: f.source, port: f.port, transport: f.transport, user: f.user, realm: f.realm, reason: f.reason },
      `authentication failed for ${f.user ?? '-'}@${f.realm ?? '-'} from ${f.source}`,
    );
    if (this.isExempt(f.source)) return;
    const now = this.now();
    const bySource = bump(this.sources, key, now, this.sourceWindowMs, this.maxTracked);
    const accountKey = f.user !== undefined ? `${f.user}@${f.realm ?? ''}` : undefined;
    const byAccount = accountKey ? bump(this.accounts, accountKey, now, this.accountWindowMs, this.maxTracked) : 0;
    if (bySource >= this.sourceLimit) this.ban(key, now, 'source-limit', f);
    else if (byAccount >= this.accountLimit) this.ban(key, now, 'account-limit', f);
  }

  bans(): BanInfo[] {
    const now = this.now();
    const out: BanInfo[] = [];
    for (const [source, o] of this.offences) if (o.until > now) out.push({ source, until: o.until, level: o.level, reason: o.reason });
    return out;
  }

  restore(ban: BanInfo): void {
    const key = sourceKey(ban.source);
    if (ban.until <= this.now() || this.isExempt(ban.source)) return;
    const current = this.offences.get(key);
    if (current && current.until >= ban.until) return;
    this.offences.delete(key);
    if (this.offences.size >= this.maxTracked) this.dropOldestOffence(this.now());
    this.offences.set(key, { level: Math.max(1, ban.level), until: ban.until, reason: ban.reason, served: false });
  }

  unban(source: string): boolean {
    const key = sourceKey(source);
    const offence = this.offences.get(key);
    const active = offence !== undefined && offence.until > this.now();
    this.offences.delete(key);
    this.sources.delete(key);
    if (active) this.logger?.info({ event: 'auth.unban', source: key, why: 'operator' }, 'authentication ban lifted');
    return active;
  }

  private ban(key: string, now: number, why: string, f: AuthFailure): void {
    const previous = this.offences.get(key);
    const level = previous && now - previous.until <= this.maxBanMs ? previous.level + 1 : 1;
    const duration = Math.min(this.banMs * 2 ** (level - 1), this.maxBanMs);
    this.offences.delete(key);
    if (this.offences.size >= this.maxTracked) this.dropOldestOffence(now);
    this.offences.set(key, { level, until: now + duration, reason: why, served: false });
    this.sources.delete(key);
    this.logger?.warn(
      { event: 'auth.ban', source: key, why, banLevel: level, durationSec: Math.round(duration / 1000), user: f.user, realm: f.realm },
      `banned ${key} for ${Math.round(duration / 1000)} s after repeated authentication failures`,
    );
    try {
      this.onBan?.({ source: key, until: now + duration, level, reason: why });
    } catch (err) {
      this.logger?.error({ err }, 'onBan threw');
    }
  }

  /** Makes room preferring served bans; an active ban is dropped only when all are active. */
  private dropOldestOffence(now: number): void {
    for (const [k, o] of this.offences) {
      if (o.until <= now) {
        this.offences.delete(k);
        return;
      }
    }
    const oldest = this.offences.keys().next().value;
    if (oldest !== undefined) this.offences.delete(oldest);
  }
}

/** Counts one failure in a fixed window; most recently touched entries are kept when full. */
function bump(map: Map<string, Counter>, key: string, now: number, windowMs: number, max: number): number {
  let c = map.get(key);
  if (c) map.delete(key);
  if (!c || now - c.windowStart >= windowMs) c = { count: 0, windowStart: now };
  c.count++;
  if (map.size >= max) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
  map.set(key, c);
  return c.count;
}

/** The unit a source is counted and banned as: the IPv4 address, or the IPv6 /64. */
export function sourceKey(address: string): string {
  let a = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) a = mapped[1]!;
  a = a.replace(/%.*$/, '');
  if (isIPv4(a) || !isIPv6(a)) return a;
  const groups = expandIPv6(a);
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

function expandIPv6(a: string): string[] {
  let text = a.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [b0, b1, b2, b3] = v4.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, v4.index) + `${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail !== undefined ? Array<string>(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((g) => g.padStart(4, '0'));
}
