import type { CallPolicy } from '../../db/index.ts';

export interface GuardClock {
  now(): number;
}

const MINUTE_MS = 60_000;

export type GuardVerdict = { allowed: true } | { allowed: false; rule: string };

/**
 * Call caps of the destination policy: provider legs started per rolling minute and calls with a
 * provider leg at once, per tenant and per account. A call holds its slot from its first provider
 * leg until it ends (`release`), so a leg that fails does not free it while the call may dial again.
 */
export class ProviderCallGuard {
  private readonly starts = new Map<string, number[]>();
  private readonly active = new Map<string, Set<string>>();
  /** Call id → the keys it holds a concurrency slot in. */
  private readonly holds = new Map<string, string[]>();

  constructor(private readonly clock: GuardClock = { now: () => Date.now() }) {}

  /** Checks every cap and, when all pass, counts the leg (and the call, once) against them. */
  tryStart(p: { tenantId: number; accountId?: number; callId: string; policy: CallPolicy }): GuardVerdict {
    const now = this.clock.now();
    const tenantKey = `t:${p.tenantId}`;
    const accountKey = p.accountId !== undefined ? `a:${p.accountId}` : undefined;
    const held = this.holds.has(p.callId);
    const checks: Array<[string | undefined, number, number, string]> = [
      [tenantKey, p.policy.callsPerMinutePerTenant, p.policy.maxConcurrentPerTenant, 'tenant'],
      [accountKey, p.policy.callsPerMinutePerAccount, p.policy.maxConcurrentPerAccount, 'account'],
    ];
    for (const [key, perMinute, concurrent, who] of checks) {
      if (!key) continue;
      if (perMinute > 0 && this.recent(key, now).length >= perMinute) return { allowed: false, rule: `${perMinute} provider calls per minute per ${who}` };
      if (!held && concurrent > 0 && (this.active.get(key)?.size ?? 0) >= concurrent) return { allowed: false, rule: `${concurrent} concurrent provider calls per ${who}` };
    }
    for (const [key, perMinute] of checks) {
      if (!key) continue;
      if (perMinute > 0) this.recent(key, now).push(now);
    }
    if (!held) {
      const keys = [tenantKey, ...(accountKey ? [accountKey] : [])];
      for (const key of keys) {
        let set = this.active.get(key);
        if (!set) this.active.set(key, (set = new Set()));
        set.add(p.callId);
      }
      this.holds.set(p.callId, keys);
    }
    return { allowed: true };
  }

  /** The call ended: its concurrency slots are free. */
  release(callId: string): void {
    const keys = this.holds.get(callId);
    if (!keys) return;
    this.holds.delete(callId);
    for (const key of keys) {
      const set = this.active.get(key);
      set?.delete(callId);
      if (set?.size === 0) this.active.delete(key);
    }
  }

  activeCalls(key: { tenantId: number } | { accountId: number }): number {
    return this.active.get('tenantId' in key ? `t:${key.tenantId}` : `a:${key.accountId}`)?.size ?? 0;
  }

  /** Start times within the last minute (the array is trimmed in place, so it stays bounded by the cap). */
  private recent(key: string, now: number): number[] {
    let list = this.starts.get(key);
    if (!list) this.starts.set(key, (list = []));
    let drop = 0;
    while (drop < list.length && list[drop]! <= now - MINUTE_MS) drop++;
    if (drop) list.splice(0, drop);
    return list;
  }
}
