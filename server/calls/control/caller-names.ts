import type { Logger } from 'pino';
import { normalizeContactNumber } from '../../../db/index.ts';

/** What the cache reads of a tenant's phonebook. */
export interface PhonebookEntry {
  name: string;
  numbers: readonly string[];
}

export interface CallerNamesOptions {
  /** The tenant's whole phonebook (ContactsRepository.listAll). */
  load(tenantId: number): Promise<PhonebookEntry[]>;
  logger?: Pick<Logger, 'error'>;
  /** Tenants kept in memory; the least recently loaded goes first. */
  maxTenants?: number;
}

/** The number a caller URI names (`sip:+49301234@host`, `tel:+49…`), normalised; undefined when it is not a number. */
export function callerNumberOf(uri: string): string | undefined {
  const m = /^(?:sips?:([^@;?]+)@|tel:([^;?]+))/i.exec(uri);
  const user = m?.[1] ?? m?.[2];
  if (!user) return undefined;
  const text = decodeURIComponent(user);
  return /^\+?[0-9 ()./-]+$/.test(text) ? normalizeContactNumber(text) : undefined;
}

/** The other spelling of an international number (`+4930…` ↔ `004930…`), so both reach one contact. */
function alternateForm(n: string): string | undefined {
  if (n.startsWith('+')) return `00${n.slice(1)}`;
  if (n.startsWith('00')) return `+${n.slice(2)}`;
  return undefined;
}

/**
 * Caller names from the tenant phonebooks, served from memory on the call path (DESIGN: no
 * database round trip on INVITE). A tenant is loaded on first use; a phonebook write
 * (config.changed kind `contacts`) reloads it, and `ready()` hands a new call the pending load so
 * a call placed right after the write already sees it.
 */
export class CallerNames {
  private readonly byTenant = new Map<number, Map<string, string>>();
  private readonly loading = new Map<number, Promise<void>>();
  private readonly generations = new Map<number, number>();
  private readonly maxTenants: number;

  constructor(private readonly opts: CallerNamesOptions) {
    this.maxTenants = opts.maxTenants ?? 10_000;
  }

  /** Undefined when the tenant's names are in memory; else a promise (never rejecting) for their load. */
  ready(tenantId: number): Promise<void> | undefined {
    const pending = this.loading.get(tenantId);
    if (pending) return pending;
    if (this.byTenant.has(tenantId)) return undefined;
    return this.reload(tenantId);
  }

  /** The phonebook name for a caller URI (sync: undefined while the tenant is not loaded yet). */
  nameFor(tenantId: number, uri: string): string | undefined {
    const names = this.byTenant.get(tenantId);
    if (!names) {
      void this.ready(tenantId);
      return undefined;
    }
    const n = callerNumberOf(uri);
    if (!n) return undefined;
    const alt = alternateForm(n);
    return names.get(n) ?? (alt ? names.get(alt) : undefined);
  }

  /** The phonebook changed: read it again (the old names serve until the new ones are in). */
  invalidate(tenantId: number): void {
    void this.reload(tenantId);
  }

  private reload(tenantId: number): Promise<void> {
    const generation = (this.generations.get(tenantId) ?? 0) + 1;
    this.generations.set(tenantId, generation);
    const latest = () => this.generations.get(tenantId) === generation;
    const run = (async () => {
      try {
        const entries = await this.opts.load(tenantId);
        // A load started later (a newer write) owns the result; this older read is dropped.
        if (!latest()) return;
        const names = new Map<string, string>();
        for (const e of entries) {
          for (const text of e.numbers) {
            const n = normalizeContactNumber(text);
            // Two contacts with one number: the first in name order wins, so the answer is stable.
            if (n && !names.has(n)) names.set(n, e.name);
          }
        }
        this.byTenant.delete(tenantId);
        this.byTenant.set(tenantId, names);
        while (this.byTenant.size > this.maxTenants) this.byTenant.delete(this.byTenant.keys().next().value!);
      } catch (err) {
        // No names is better than no call: the next call tries again.
        this.opts.logger?.error({ err, tenantId }, 'phonebook load failed');
      } finally {
        if (latest()) this.loading.delete(tenantId);
      }
    })();
    this.loading.set(tenantId, run);
    return run;
  }
}
