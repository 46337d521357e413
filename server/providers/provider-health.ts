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
  locate(provider: ProviderRecord): Promise<Endpoint | undefined>;
  callIdHost(): string;
  timers: AgentTimers;
  now(): number;
  emit(event: ProviderHealthEvent): void;
  logger: Logger;
}

/**
 * OPTIONS pings per provider with `pingIntervalSeconds` (Kamailio dispatcher style): any answer
 * but 408/503 counts as alive; two unanswered in a row mark the provider down (event
 * `provider.down`), and its legs then fail at once with 503 so a dial string's next group takes
 * the call; the next answer marks it up (`provider.up`).
 */
export class ProviderHealth {
  private readonly tracked = new Map<number, { provider: ProviderRecord; failures: number; down: boolean; timer: unknown; fingerprint: string }>();
  private stopped = false;

  constructor(private readonly opts: ProviderHealthOptions) {}

  isDown(providerId: number): boolean {
    return this.tracked.get(providerId)?.down === true;
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
      const entry = { provider: p, failures: 0, down: false, timer: undefined as unknown, fingerprint };
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

  private async ping(id: number): Promise<void> {
    const t = this.tracked.get(id);
    if (!t || this.stopped) return;
    const p = t.provider;
    const intervalMs = (p.settings.pingIntervalSeconds ?? 30) * 1000;
    let alive = false;
    let reason = 'no answer';
    try {
      const target = await this.opts.locate(p);
      if (target) {
        const server = parseUri(p.outboundProxy ?? p.serverUri);
        const req = buildOptionsPing({ target: server, from: { scheme: 'sip', user: p.username ?? 'patchbay', host: p.settings.fromHost ?? parseUri(p.serverUri).host, params: {}, headers: {} }, callIdHost: this.opts.callIdHost() });
        let timeout: unknown;
        const out = await Promise.race([
          this.opts.send(req, target),
          new Promise<RegisterOutcome>((resolve) => { timeout = this.opts.timers.schedule(Math.min(PING_TIMEOUT_MS, intervalMs), () => resolve({ kind: 'timeout' })); }),
        ]);
        this.opts.timers.cancel(timeout);
        if (out.kind === 'response') {
          alive = out.response.status !== 408 && out.response.status !== 503;
          reason = `${out.response.status} ${out.response.reason}`;
        } else reason = out.kind === 'timeout' ? 'no answer' : out.message;
      } else reason = 'server not found';
    } catch (err) {
      reason = (err as Error).message;
    }
    if (this.tracked.get(id) !== t || this.stopped) return;
    if (alive) {
      t.failures = 0;
      if (t.down) {
        t.down = false;
        this.opts.logger.info({ provider: p.name, tenantId: p.tenantId }, 'provider up');
        this.opts.emit({ type: 'provider.up', tenantId: p.tenantId, provider: p.name, providerId: p.id, at: this.opts.now() });
      }
    } else if (++t.failures >= PING_FAILURES_FOR_DOWN && !t.down) {
      t.down = true;
      this.opts.logger.warn({ provider: p.name, tenantId: p.tenantId, reason }, 'provider down');
      this.opts.emit({ type: 'provider.down', tenantId: p.tenantId, provider: p.name, providerId: p.id, at: this.opts.now(), reason });
    }
    t.timer = this.opts.timers.schedule(intervalMs, () => void this.ping(id));
  }
}
