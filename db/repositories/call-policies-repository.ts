import { ValidationError } from '../errors.ts';
import { inTransaction, parseJson, type RepositoryContext } from './context.ts';

/**
 * A tenant's destination policy for provider legs (toll-fraud guard). Prefixes are E.164 with
 * `+`; the longest matching prefix decides (an allowed `+88234` inside a denied `+882` is allowed).
 */
export interface CallPolicy {
  deniedPrefixes: string[];
  allowedPrefixes: string[];
  /** Only numbers under an allowed prefix may be called. */
  allowListOnly: boolean;
  /** New provider legs per rolling minute; 0 = no limit. */
  callsPerMinutePerTenant: number;
  callsPerMinutePerAccount: number;
  /** Calls with a provider leg at once; 0 = no limit. */
  maxConcurrentPerTenant: number;
  maxConcurrentPerAccount: number;
  /** Longest provider call after answer (s); 0 = no limit. */
  maxDurationSeconds: number;
}

/**
 * Denied unless the tenant allows them: satellite and international shared-cost ranges
 * (+870 Inmarsat, +881 GMSS, +882/+883 international networks), +979 international premium
 * rate, UK personal numbers (+4470) and premium rate (+449), North American premium (+1900).
 */
export const DEFAULT_DENIED_PREFIXES: readonly string[] = ['+870', '+881', '+882', '+883', '+979', '+4470', '+449', '+1900'];

export const DEFAULT_CALL_POLICY: Readonly<CallPolicy> = Object.freeze({
  deniedPrefixes: [...DEFAULT_DENIED_PREFIXES],
  allowedPrefixes: [],
  allowListOnly: false,
  callsPerMinutePerTenant: 30,
  callsPerMinutePerAccount: 10,
  maxConcurrentPerTenant: 10,
  maxConcurrentPerAccount: 2,
  maxDurationSeconds: 14_400,
});

const PREFIX = /^\+[0-9]{1,15}$/;

export function validateCallPolicy(p: CallPolicy): void {
  for (const [field, list] of [['deniedPrefixes', p.deniedPrefixes], ['allowedPrefixes', p.allowedPrefixes]] as const) {
    if (!Array.isArray(list) || list.length > 1000) throw new ValidationError(field, 'expected a list of at most 1000 prefixes');
    for (const x of list) if (typeof x !== 'string' || !PREFIX.test(x)) throw new ValidationError(field, `expected an E.164 prefix like +4470, got "${String(x)}"`);
  }
  for (const field of ['callsPerMinutePerTenant', 'callsPerMinutePerAccount', 'maxConcurrentPerTenant', 'maxConcurrentPerAccount', 'maxDurationSeconds'] as const) {
    const v = p[field];
    if (!Number.isInteger(v) || v < 0 || v > 1_000_000) throw new ValidationError(field, `expected a whole number 0..1000000, got ${String(v)}`);
  }
  if (typeof p.allowListOnly !== 'boolean') throw new ValidationError('allowListOnly', 'expected true or false');
}

export class CallPoliciesRepository {
  constructor(private readonly ctx: RepositoryContext) {}

  /** The tenant's policy: its stored edits over the defaults. */
  async get(tenantId: number): Promise<CallPolicy> {
    const r = await this.ctx.db.selectFrom('tenant_call_policies').select('policy').where('tenant_id', '=', tenantId).executeTakeFirst();
    const stored = parseJson<Partial<CallPolicy>>(r?.policy ?? null, {});
    return { ...DEFAULT_CALL_POLICY, deniedPrefixes: [...DEFAULT_CALL_POLICY.deniedPrefixes], allowedPrefixes: [], ...stored };
  }

  /** Stores `patch` over the current policy (validated as a whole). */
  async update(tenantId: number, patch: Partial<CallPolicy>): Promise<CallPolicy> {
    const next: CallPolicy = { ...(await this.get(tenantId)), ...patch };
    validateCallPolicy(next);
    const values = { tenant_id: tenantId, policy: JSON.stringify(next), updated_at: Date.now() };
    await inTransaction(this.ctx.db, async (trx) => {
      await trx.deleteFrom('tenant_call_policies').where('tenant_id', '=', tenantId).execute();
      await trx.insertInto('tenant_call_policies').values(values).execute();
    });
    return next;
  }

  /** Back to the documented defaults. */
  async reset(tenantId: number): Promise<void> {
    await this.ctx.db.deleteFrom('tenant_call_policies').where('tenant_id', '=', tenantId).execute();
  }
}
