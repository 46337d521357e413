import { parseParkSlots, type ParkSettings } from './parking-lot.ts';

/** What a tenant has set for itself (db tenants: park_slots, park_recall_sec); null = the switch default. */
export interface StoredParkSettings {
  slots: string | null;
  recallSeconds: number | null;
}

export interface TenantParkSettingsOptions {
  /** The switch-wide values (PATCHBAY_PARK_SLOTS, PATCHBAY_PARK_RECALL_SEC): a tenant's unset fields. */
  defaults: ParkSettings;
  /** Reads a tenant's own settings; omitted: every tenant uses the defaults. */
  read?: (tenantId: number) => Promise<StoredParkSettings | undefined>;
  /** After this a tenant's entry is re-read in the background (the CLI may have changed it). */
  refreshAfterMs?: number;
  now?: () => number;
}

interface Entry {
  value: ParkSettings;
  fetchedAt: number;
  /** False until a read came back (or after an admin change): `ready` waits for the read. */
  current: boolean;
  reading?: Promise<void>;
}

/**
 * Each tenant's park slots and recall time, kept in memory for the INVITE path (a dialled slot
 * is checked on every call a phone places). `ready` loads a tenant once; after that `get` answers
 * at once and a stale entry is refreshed behind the scenes. A read that fails keeps what was
 * known (the defaults for a tenant never read), so a database outage never stops parking.
 */
export class TenantParkSettings {
  private readonly entries = new Map<number, Entry>();
  private readonly refreshAfterMs: number;
  private readonly now: () => number;

  constructor(private readonly options: TenantParkSettingsOptions) {
    this.refreshAfterMs = options.refreshAfterMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  /** Undefined when the tenant's settings are in memory, else a promise that settles once they are. */
  ready(tenantId: number): Promise<void> | undefined {
    if (!this.options.read) return undefined;
    const entry = this.entries.get(tenantId);
    if (!entry || !entry.current) return this.load(tenantId);
    if (!entry.reading && this.now() - entry.fetchedAt >= this.refreshAfterMs) void this.load(tenantId);
    return undefined;
  }

  get(tenantId: number): ParkSettings {
    void this.ready(tenantId);
    return this.entries.get(tenantId)?.value ?? this.options.defaults;
  }

  /**
   * An admin changed a tenant (or, without an id, any): its next use waits for a re-read, and is
   * served what was known if the database cannot answer.
   */
  invalidate(tenantId?: number): void {
    if (tenantId === undefined) for (const e of this.entries.values()) e.current = false;
    else {
      const e = this.entries.get(tenantId);
      if (e) e.current = false;
    }
  }

  private load(tenantId: number): Promise<void> {
    const known = this.entries.get(tenantId);
    const entry: Entry = known ?? { value: this.options.defaults, fetchedAt: 0, current: false };
    if (entry.reading) return entry.reading;
    this.entries.set(tenantId, entry);
    entry.reading = this.options.read!(tenantId).then(
      (stored) => {
        entry.value = merged(this.options.defaults, stored);
        entry.fetchedAt = this.now();
        entry.current = true;
      },
      () => {
        // Keep what was known; try again after the refresh interval, not on every call.
        entry.fetchedAt = this.now();
        entry.current = true;
      },
    ).finally(() => {
      entry.reading = undefined;
    });
    return entry.reading;
  }
}

function merged(defaults: ParkSettings, stored: StoredParkSettings | undefined): ParkSettings {
  const range = stored?.slots ? parseParkSlots(stored.slots) : undefined;
  return {
    first: range?.first ?? defaults.first,
    last: range?.last ?? defaults.last,
    recallSeconds: stored?.recallSeconds ?? defaults.recallSeconds,
  };
}
