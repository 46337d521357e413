import type { Logger } from 'pino';
import { sourceKey } from './auth-failure-guard.ts';

export interface SourceRateLimiterOptions {
  /** Sustained requests per second one source may send. 0 turns the limiter off. */
  ratePerSec: number;
  /** Requests a source may send at once above the sustained rate. Default 2 × rate. */
  burst?: number;
  /** Sources never limited (the operator's trusted networks). */
  isExempt?: (address: string) => boolean;
  /** Sources tracked at once; a stranger can grow the table, so it is bounded. Default 100 000. */
  maxTracked?: number;
  logger?: Logger;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
  /** Requests dropped since the source went over its rate (logged when it starts and when it ends). */
  dropped: number;
}

/**
 * Per-source request rate limit in the spirit of Kamailio's pike: a token bucket per source
 * address (IPv6 per /64, like the brute-force guard) refilled at `ratePerSec` up to `burst`.
 * A request over the limit is dropped without an answer — any answer would make the switch a
 * reflector for a flood with a forged source. Each episode writes one `sip.rate-limited` line
 * when it starts and one `sip.rate-limit-ended` line with the count once the source is back
 * under its rate.
 */
export class SourceRateLimiter {
  private readonly rate: number;
  private readonly burst: number;
  private readonly maxTracked: number;
  private readonly isExempt: (address: string) => boolean;
  private readonly logger: Logger | undefined;
  private readonly now: () => number;
  private readonly buckets = new Map<string, Bucket>();
  private droppedTotal = 0;

  constructor(opts: SourceRateLimiterOptions) {
    this.rate = Math.max(0, opts.ratePerSec);
    this.burst = Math.max(1, opts.burst ?? 2 * this.rate);
    this.maxTracked = Math.max(1, opts.maxTracked ?? 100_000);
    this.isExempt = opts.isExempt ?? (() => false);
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
  }

  /** Requests dropped so far (diagnostics, tests). */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** Sources currently tracked. */
  get trackedSources(): number {
    return this.buckets.size;
  }

  /** False when the request from `address` is over its source's rate and must be dropped. */
  allow(address: string): boolean {
    if (this.rate === 0 || this.isExempt(address)) return true;
    const key = sourceKey(address);
    const now = this.now();
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key); // re-inserted below: Map order is least recently seen first
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
      b.at = now;
    } else {
      if (this.buckets.size >= this.maxTracked) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      b = { tokens: this.burst, at: now, dropped: 0 };
    }
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      if (b.dropped > 0) {
        this.logger?.info({ event: 'sip.rate-limit-ended', source: key, dropped: b.dropped }, `${key} back under its request rate`);
        b.dropped = 0;
      }
      return true;
    }
    if (b.dropped === 0) {
      this.logger?.warn({ event: 'sip.rate-limited', source: key, ratePerSec: this.rate, burst: this.burst }, `${key} over its request rate: dropping`);
    }
    b.dropped++;
    this.droppedTotal++;
    return false;
  }
}
