import type { TenantRef } from '../../registrar/index.ts';
import type { CallAccountDirectory } from '../call-service-deps.ts';
import { dialStringFromHosts } from './dial-string.ts';

/**
 * `fh=` may only name the tenant's own domain or one the account directory maps to the same
 * tenant (an alias): a From host of another tenant's or a stranger's domain would let a tenant
 * pass its calls off as someone else's towards providers and peers that trust the From domain.
 */
export async function checkFromHosts(dialString: string, tenant: TenantRef, accounts: Pick<CallAccountDirectory, 'tenantForDomain'>): Promise<void> {
  for (const host of new Set(dialStringFromHosts(dialString))) {
    if (host === tenant.domain) continue;
    const owner = await accounts.tenantForDomain(host);
    if (owner?.id === tenant.id) continue;
    throw new Error(`fh=${host} is not a domain of this tenant (use ${tenant.domain} or one of its aliases)`);
  }
}
