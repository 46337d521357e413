import type { Logger } from 'pino';
import type { Binding, BindingChanges, BindingStore, BindingTarget } from './binding.ts';
import type { EmitRegistrationEvent, RegistrationEvent, RegistrationRemovalReason } from './registration-event.ts';

export interface LocationServiceOptions {
  store: BindingStore;
  emit: EmitRegistrationEvent;
  logger?: Logger;
  /** Write-behind batch interval. Default 1000 ms. */
  flushIntervalMs?: number;
  /** Expiry sweep interval. Default 1000 ms. */
  sweepIntervalMs?: number;
  /** Clock in ms (tests inject a fake). */
  now?: () => number;
}

/** Key of an address-of-record: user at the tenant's primary domain. */
export function aorKey(user: string, domain: string): string {
  return `${user}@${domain.toLowerCase()}`;
}

type PendingWrite = { op: 'upsert'; binding: Binding } | { op: 'delete' };

/**
 * The location service (RFC 3261 §10): bindings of every account in memory, served without a
 * database round trip; changes go to the BindingStore behind, in batches.
 */
export class LocationService {
  private readonly store: BindingStore;
  private readonly emitEvent: EmitRegistrationEvent;
  private readonly logger: Logger | undefined;
  private readonly flushIntervalMs: number;
  private readonly sweepIntervalMs: number;
  readonly now: () => number;
  /** AoR key → binding id → binding. */
  private readonly byAor = new Map<string, Map<string, Binding>>();
  private readonly byId = new Map<string, Binding>();
  /** Binding id → latest unpersisted change (later changes overwrite earlier ones). */
  private pending = new Map<string, PendingWrite>();
  private flushing: Promise<void> = Promise.resolve();
  private flushTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(opts: LocationServiceOptions) {
    this.store = opts.store;
    this.emitEvent = opts.emit;
    this.logger = opts.logger;
    this.flushIntervalMs = opts.flushIntervalMs ?? 1000;
    this.sweepIntervalMs = opts.sweepIntervalMs ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  /** Restores stored bindings, dropping (and deleting) the expired ones. Call before start(). */
  async load(): Promise<number> {
    const rows = await this.store.loadAll();
    const now = this.now();
    let restored = 0;
    for (const binding of rows) {
      if (binding.expiresAt <= now) {
        this.pending.set(binding.id, { op: 'delete' });
        continue;
      }
      this.insert(binding);
      restored++;
    }
    return restored;
  }

  /** Starts the flush and sweep timers. */
  start(): void {
    if (!this.flushTimer) {
      this.flushTimer = setInterval(() => void this.flush(), this.flushIntervalMs);
      this.flushTimer.unref();
    }
    if (!this.sweepTimer) {
      this.sweepTimer = setInterval(() => this.sweep(), this.sweepIntervalMs);
      this.sweepTimer.unref();
    }
  }

  /** Stops the timers and writes out every pending change. */
  async close(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.flushTimer = this.sweepTimer = undefined;
    await this.flush();
  }

  /**
   * Live bindings of an AoR, best first (highest q, then most recently refreshed), with the
   * target to send to: the REGISTER's source address/connection, never a private Contact host.
   */
  lookup(user: string, domain: string): BindingTarget[] {
    const bindings = this.byAor.get(aorKey(user, domain));
    if (!bindings) return [];
    const now = this.now();
    const live = [...bindings.values()].filter((b) => b.expiresAt > now);
    live.sort((a, b) => (b.q ?? 1) - (a.q ?? 1) || b.updatedAt - a.updatedAt);
    return live.map((binding) => ({ binding, target: { ...binding.source }, requestUri: binding.contactUri }));
  }

  /** Live bindings of an AoR, in registration order (what a 200 to REGISTER lists). */
  bindingsOf(user: string, domain: string): Binding[] {
    const bindings = this.byAor.get(aorKey(user, domain));
    if (!bindings) return [];
    const now = this.now();
    return [...bindings.values()].filter((b) => b.expiresAt > now);
  }

  get(bindingId: string): Binding | undefined {
    return this.byId.get(bindingId);
  }

  /** Every binding (keep-alive and admin views). */
  all(): IterableIterator<Binding> {
    return this.byId.values();
  }

  get size(): number {
    return this.byId.size;
  }

  /** Adds a binding or replaces the one with the same id; emits added/refreshed. */
  upsert(binding: Binding): void {
    const existed = this.byId.has(binding.id);
    if (existed) this.detach(binding.id);
    this.insert(binding);
    this.pending.set(binding.id, { op: 'upsert', binding });
    this.emitEvent({
      ...this.eventBase(binding),
      type: existed ? 'registration.refreshed' : 'registration.added',
      expiresAt: binding.expiresAt,
    });
  }

  /** Removes a binding; emits registration.removed with `reason`. False if it was not there. */
  remove(bindingId: string, reason: RegistrationRemovalReason): boolean {
    const binding = this.detach(bindingId);
    if (!binding) return false;
    this.pending.set(bindingId, { op: 'delete' });
    this.emitEvent({ ...this.eventBase(binding), type: 'registration.removed', reason });
    return true;
  }

  /** Removes expired bindings, emitting registration.expired for each; returns how many. */
  sweep(): number {
    const now = this.now();
    let removed = 0;
    for (const binding of [...this.byId.values()]) {
      if (binding.expiresAt > now) continue;
      this.detach(binding.id);
      this.pending.set(binding.id, { op: 'delete' });
      this.emitEvent({ ...this.eventBase(binding), type: 'registration.expired' });
      removed++;
    }
    return removed;
  }

  /** Number of changes waiting to be persisted. */
  get pendingWrites(): number {
    return this.pending.size;
  }

  /**
   * Persists pending changes in one batch. Flushes never overlap; a failed batch is put back
   * (unless superseded by a newer change) and retried on the next flush.
   */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushOnce());
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const changes: BindingChanges = { upserts: [], deletes: [] };
    for (const [id, write] of batch) {
      if (write.op === 'upsert') changes.upserts.push(write.binding);
      else changes.deletes.push(id);
    }
    try {
      await this.store.persist(changes);
    } catch (err) {
      this.logger?.warn({ err, upserts: changes.upserts.length, deletes: changes.deletes.length }, 'binding write-behind failed; will retry');
      for (const [id, write] of batch) if (!this.pending.has(id)) this.pending.set(id, write);
    }
  }

  private insert(binding: Binding): void {
    const key = aorKey(binding.user, binding.domain);
    let bindings = this.byAor.get(key);
    if (!bindings) {
      bindings = new Map();
      this.byAor.set(key, bindings);
    }
    bindings.set(binding.id, binding);
    this.byId.set(binding.id, binding);
  }

  private detach(bindingId: string): Binding | undefined {
    const binding = this.byId.get(bindingId);
    if (!binding) return undefined;
    this.byId.delete(bindingId);
    const key = aorKey(binding.user, binding.domain);
    const bindings = this.byAor.get(key);
    bindings?.delete(bindingId);
    if (bindings && bindings.size === 0) this.byAor.delete(key);
    return binding;
  }

  private eventBase(b: Binding): Omit<Extract<RegistrationEvent, { type: 'registration.expired' }>, 'type'> {
    return {
      tenantId: b.tenantId,
      accountId: b.accountId,
      user: b.user,
      domain: b.domain,
      bindingId: b.id,
      contactUri: b.contactUri,
      source: { ...b.source },
      userAgent: b.userAgent,
      sipCallId: b.callId,
    };
  }
}
