import type { ProviderHealthEvent } from '../events/index.ts';
import type { Logger } from 'pino';
import { buildOptionsPing, parseUri, type Endpoint } from '../sip/index.ts';
import type { ProviderRecord } from './provider-directory.ts';
import type { AgentTimers, RegisterOutcome } from './registration-agent.ts';

/** Consecutive unanswered pings that mark a provider down (one answer marks it up again). */
export const PING_FAILURES_FOR_DOWN = 2;
/** A ping is unanswered after this long (or its interval, if shorter). */
export const PING_TIMEOUT_MS = 5000;

export type { ProviderHealthEvent };

export interface ProviderHealthOptions {
  send(req: ReturnType<typeof buildOptionsPing>, target: Endpoint): Promise<RegisterOutcome>;
  /** The provider's server targets (RFC 3263 order); each is pinged. */
  locate(provider: ProviderRecord): Promise<Endpoint | Endpoint[] | undefined>;
  callIdHost(): string;
  timers: AgentTimers;
  now(): number;
  emit(event: ProviderHealthEvent): void;
  logger: Logger;
}

/** At most this many server targets of one provider are pinged. */
export const MAX_PINGED_TARGETS = 8;

/** How a target is named in events and in `downTargets`. */
export function targetKey(e: Endpoint): string {
  return `${e.transport}:${e.address}:${e.port}`;
}

interface TargetHealth {
  failures: number;
  down: boolean;
}

interface Tracked {
  provider: ProviderRecord;
  targets: Map<string, TargetHealth>;
  down: boolean;
  timer: unknown;
  fingerprint: string;
}

/**
 * OPTIONS pings per provider with `pingIntervalSeconds` (Kamailio dispatcher style), to every
 * server target it resolves to: any answer but 408/503 counts as alive; two unanswered in a row
 * mark that target down (`provider.target.down`) and its legs try it only after the healthy
 * ones. When every target is down the provider is (`provider.down`): its legs fail at once with
 * 503 so a dial string's next group takes the call; the next answer marks it up again.
 */
export class ProviderHealth {
  private readonly tracked = new Map<number, Tracked>();
  private stopped = false;

  constructor(private readonly opts: ProviderHealthOptions) {}

  isDown(providerId: number): boolean {
    return this.tracked.get(providerId)?.down === true;
  }

  /** The provider's server targets the pings found down (`transport:address:port`). */
  downTargets(providerId: number): ReadonlySet<string> {
    const t = this.tracked.get(providerId);
    const out = new Set<string>();
    if (t) for (const [key, h] of t.targets) if (h.down) out.add(key);
    return out;
  }

  /** Follows the provider list: new pinged providers start, removed or changed ones restart. */
  sync(providers: ProviderRecord[]): void {
    const pinged = providers.filter((p) => (p.settings.pingIntervalSeconds ?? 0) > 0);
    const seen = new Set<number>();
    for (const p of pinged) {
      seen.add(p.id);
      const fingerprint = `${p.serverUri}|${p.outboundProxy ?? ''}|${p.settings.pingIntervalSeconds}`;
      const t = this.tracked.get(p.id);
      if (t && t.fingerprint === fingerprint) continue;
      if (t) this.opts.timers.cancel(t.timer);
      const entry: Tracked = { provider: p, targets: new Map(), down: false, timer: undefined, fingerprint };
      this.tracked.set(p.id, entry);
      entry.timer = this.opts.timers.schedule(0, () => void this.ping(p.id));
    }
    for (const [id, t] of [...this.tracked]) {
      if (seen.has(id)) continue;
      this.opts.timers.cancel(t.timer);
      this.tracked.delete(id);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.tracked.values()) this.opts.timers.cancel(t.timer);
    this.tracked.clear();
  }

  private async pingOne(p: ProviderRecord, target: Endpoint, timeoutMs: number): Promise<{ alive: boolean; reason: string }> {
    const server = parseUri(p.outboundProxy ?? p.serverUri);
    const req = buildOptionsPing({ target: server, from: { scheme: 'sip', user: p.username ?? 'patchbay', host: p.settings.fromHost ?? parseUri(p.serverUri).host, params: {}, headers: {} }, callIdHost: this.opts.callIdHost() });
    let timeout: unknown;
    const out = await Promise.race([
      this.opts.send(req, target),
      new Promise<RegisterOutcome>((resolve) => { timeout = this.opts.timers.schedule(timeoutMs, () => resolve({ kind: 'timeout' })); }),
    ]);
    this.opts.timers.cancel(timeout);
    if (out.kind === 'response') return { alive: out.response.status !== 408 && out.response.status !== 503, reason: `${out.response.status} ${out.response.reason}` };
    return { alive: false, reason: out.kind === 'timeout' ? 'no answer' : out.message };
  }

  private async ping(id: number): Promise<void> {
    const t = this.tracked.get(id);
    if (!t || this.stopped) return;
    const p = t.provider;
    const intervalMs = (p.settings.pingIntervalSeconds ?? 30) * 1000;
    let results: Array<{ key: string; alive: boolean; reason: string }> = [];
    let reason = 'server not found';
    try {
      const located = await this.opts.locate(p);
      const targets = (located === undefined ? [] : Array.isArray(located) ? located : [located]).slice(0, MAX_PINGED_TARGETS);
      results = await Promise.all(targets.map(async (target) => ({ key: targetKey(target), ...(await this.pingOne(p, target, Math.min(PING_TIMEOUT_MS, intervalMs))) })));
    } catch (err) {
      reason = (err as Error).message;
    }
    if (this.tracked.get(id) !== t || this.stopped) return;
    const now = this.opts.now();
    const seen = new Set<string>();
    for (const r of results) {
      seen.add(r.key);
      let h = t.targets.get(r.key);
      if (!h) t.targets.set(r.key, (h = { failures: 0, down: false }));
      if (r.alive) {
        h.failures = 0;
        if (h.down) {
          h.down = false;
          this.opts.emit({ type: 'provider.target.up', tenantId: p.tenantId, provider: p.name, providerId: p.id, at: now, target: r.key });
        }
      } else if (++h.failures >= PING_FAILURES_FOR_DOWN && !h.down) {
        h.down = true;
        this.opts.logger.warn({ provider: p.name, tenantId: p.tenantId, target: r.key, reason: r.reason }, 'provider target down');
        this.opts.emit({ type: 'provider.target.down', tenantId: p.tenantId, provider: p.name, providerId: p.id, at: now, target: r.key, reason: r.reason });
      }
      if (!r.alive) reason = r.reason;
    }
    // Targets DNS no longer returns are forgotten.
    for (const key of [...t.targets.keys()]) if (!seen.has(key)) t.targets.delete(key);
    if (results.length === 0) {
      // Nothing to ping (the server does not resolve): counts as an unanswered ping of the provider.
      const h = t.targets.get('') ?? { failures: 0, down: false };
      t.targets.set('', h);
      if (++h.failures >= PING_FAILURES_FOR_DOWN) h.down = true;
    }
    const allDown = [...t.targets.values()].every((h) => h.down) && t.targets.size > 0;
    if (!allDown && t.down) {
      t.down = false;
      this.opts.logger.info({ provider: p.name, tenantId: p.tenantId }, 'provider up');
      this.opts.emit({ type: 'provider.up', tenantId: p.tenantId, provider: p.name, providerId: p.id, at: now });
    } else if (allDown && !t.down) {
      t.down = true;
      this.opts.logger.warn({ provider: p.name, tenantId: p.tenantId, reason }, 'provider down');
      this.opts.emit({ type: 'provider.down', tenantId: p.tenantId, provider: p.name, providerId: p.id, at: now, reason });
    }
    t.timer = this.opts.timers.schedule(intervalMs, () => void this.ping(id));
  }
}
