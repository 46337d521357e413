/** Numbered park slots, e.g. `70-79` (a tenant's own, else PATCHBAY_PARK_SLOTS). */
export interface ParkSettings {
  /** First and last slot number, inclusive. */
  first: number;
  last: number;
  /** Seconds a call stays parked before it is recalled to its parker; 0 = never. */
  recallSeconds: number;
}

export const DEFAULT_PARK_SETTINGS: ParkSettings = { first: 70, last: 79, recallSeconds: 120 };

/** Parses `70-79` (both ends inclusive, at most 100 slots); undefined when it is not such a range. */
export function parseParkSlots(text: string): { first: number; last: number } | undefined {
  const m = /^\s*(\d{1,6})\s*-\s*(\d{1,6})\s*$/.exec(text);
  if (!m) return undefined;
  const first = Number(m[1]);
  const last = Number(m[2]);
  if (last < first || last - first >= 100) return undefined;
  return { first, last };
}

/** Per-tenant settings (TenantParkSettings): `get` answers from memory once `ready` settled. */
export interface ParkSettingsSource {
  get(tenantId: number): ParkSettings;
  ready(tenantId: number): Promise<void> | undefined;
}

/** What the lot needs of a parked call. */
export interface ParkedCall {
  readonly id: string;
  /** The parked call's recall time came. */
  recall(): void;
}

export interface ParkedEntry<C extends ParkedCall> {
  slot: string;
  call: C;
  parkedAt: number;
  parkedBy: string;
}

/** Cancels a scheduled recall. */
export type CancelTimer = () => void;

/**
 * The park slots of every tenant: each tenant has its own numbers (tenant A's 71 is not tenant
 * B's 71). A slot holds one call; taking a slot arms the recall timer, leaving it disarms it.
 */
export class ParkingLot<C extends ParkedCall> {
  private readonly slots = new Map<number, Map<string, ParkedEntry<C> & { cancel?: CancelTimer }>>();

  private readonly settingsOf: (tenantId: number) => ParkSettings;
  private readonly source: ParkSettingsSource | undefined;

  constructor(
    /** One set for every tenant, or each tenant's own (TenantParkSettings). */
    settings: ParkSettings | ParkSettingsSource,
    private readonly schedule: (ms: number, fn: () => void) => CancelTimer,
    private readonly now: () => number = Date.now,
  ) {
    this.source = 'get' in settings ? settings : undefined;
    this.settingsOf = 'get' in settings ? (tenantId) => settings.get(tenantId) : () => settings;
  }

  settingsFor(tenantId: number): ParkSettings {
    return this.settingsOf(tenantId);
  }

  /** Undefined when the tenant's settings are at hand, else a promise that settles once they are. */
  ready(tenantId: number): Promise<void> | undefined {
    return this.source?.ready(tenantId);
  }

  /** True when `user` is one of the tenant's slot numbers (as dialled: digits only, no leading zeros). */
  isSlot(tenantId: number, user: string | undefined): boolean {
    if (!user || !/^[1-9]\d{0,5}$/.test(user)) return false;
    const n = Number(user);
    const { first, last } = this.settingsOf(tenantId);
    return n >= first && n <= last;
  }

  list(tenantId: number): Array<ParkedEntry<C>> {
    return [...(this.slots.get(tenantId)?.values() ?? [])]
      .map(({ slot, call, parkedAt, parkedBy }) => ({ slot, call, parkedAt, parkedBy }))
      .sort((a, b) => Number(a.slot) - Number(b.slot));
  }

  get(tenantId: number, slot: string): ParkedEntry<C> | undefined {
    return this.slots.get(tenantId)?.get(slot);
  }

  /** The lowest free slot of the tenant, if any. */
  firstFree(tenantId: number): string | undefined {
    const taken = this.slots.get(tenantId);
    const { first, last } = this.settingsOf(tenantId);
    for (let n = first; n <= last; n++) if (!taken?.has(String(n))) return String(n);
    return undefined;
  }

  /** Puts `call` in `slot`; false when the slot is not one of ours or is taken. */
  park(tenantId: number, slot: string, call: C, parkedBy: string): boolean {
    if (!this.isSlot(tenantId, slot)) return false;
    let taken = this.slots.get(tenantId);
    if (taken?.has(slot)) return false;
    if (!taken) this.slots.set(tenantId, (taken = new Map()));
    const entry: ParkedEntry<C> & { cancel?: CancelTimer } = { slot, call, parkedAt: this.now(), parkedBy };
    // The recall time is the one in force when the call is parked (a later change leaves it be).
    const { recallSeconds } = this.settingsOf(tenantId);
    if (recallSeconds > 0) {
      entry.cancel = this.schedule(recallSeconds * 1000, () => {
        if (this.slots.get(tenantId)?.get(slot) !== entry) return;
        this.leave(tenantId, slot);
        call.recall();
      });
    }
    taken.set(slot, entry);
    return true;
  }

  /** Frees `slot` (retrieved, recalled, or the parked party hung up). */
  leave(tenantId: number, slot: string): ParkedEntry<C> | undefined {
    const taken = this.slots.get(tenantId);
    const entry = taken?.get(slot);
    if (!taken || !entry) return undefined;
    entry.cancel?.();
    taken.delete(slot);
    if (taken.size === 0) this.slots.delete(tenantId);
    return entry;
  }

  /** Frees whatever slot `call` holds. */
  leaveCall(tenantId: number, call: C): void {
    for (const [slot, entry] of this.slots.get(tenantId) ?? []) if (entry.call === call) this.leave(tenantId, slot);
  }
}
