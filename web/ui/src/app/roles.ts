import type { Role } from '../api/index.ts';

/**
 * Which pages each role may open, mirroring the API's role rules: receptionists handle live
 * calls and CDRs but never dialplans or accounts; members see their own accounts and the
 * dialplans those accounts use. The API enforces this; the UI only avoids offering dead ends.
 */
export type PageId = 'dialplans' | 'accounts' | 'switchboard' | 'cdrs' | 'console' | 'tenants' | 'providers' | 'users' | 'tokens' | 'secrets' | 'audit' | 'profile';

const ACCESS: Record<PageId, readonly Role[]> = {
  dialplans: ['operator', 'admin', 'member'],
  accounts: ['operator', 'admin', 'member'],
  cdrs: ['operator', 'admin', 'receptionist', 'member'],
  // A company's live calls: operators watch a tenant through the API, not this page.
  switchboard: ['admin', 'receptionist'],
  // Receptionists get neither dialplan logs nor SIP traces (the event hub's role rules).
  console: ['operator', 'admin', 'member'],
  tenants: ['operator'],
  providers: ['operator', 'admin'],
  users: ['operator', 'admin'],
  tokens: ['operator', 'admin', 'receptionist', 'member'],
  secrets: ['operator', 'admin'],
  audit: ['operator', 'admin'],
  profile: ['operator', 'admin', 'receptionist', 'member'],
};

export const PAGE_TITLES: Record<PageId, string> = {
  dialplans: 'Dialplans',
  accounts: 'Accounts',
  cdrs: 'Call records',
  switchboard: 'Switchboard',
  console: 'Live console',
  tenants: 'Tenants',
  providers: 'Providers',
  users: 'Users',
  tokens: 'API tokens',
  secrets: 'Secrets',
  audit: 'Audit log',
  profile: 'My profile',
};

export const PAGE_ORDER: readonly PageId[] = ['tenants', 'dialplans', 'accounts', 'providers', 'switchboard', 'cdrs', 'console', 'users', 'tokens', 'secrets', 'audit', 'profile'];

/** Pages reached from the top bar rather than the side navigation. */
export const TOPBAR_PAGES: readonly PageId[] = ['profile'];

/** Pages whose API routes work on one tenant: an operator picks which first. */
export const TENANT_PAGES: readonly PageId[] = ['dialplans', 'accounts', 'providers', 'cdrs', 'console', 'secrets'];

export function canOpen(role: Role, page: PageId): boolean {
  return ACCESS[page].includes(role);
}

export function homePage(role: Role): PageId {
  // Operators start at the tenants (every other page of theirs works on one tenant they pick).
  return PAGE_ORDER.find((page) => canOpen(role, page)) ?? 'cdrs';
}

export const ROLE_LABELS: Record<Role, string> = {
  operator: 'Operator',
  admin: 'Admin',
  receptionist: 'Receptionist',
  member: 'Member',
};

/** Members manage the settings of the accounts they own; adding and removing accounts is an admin's job. */
export function canManageAccounts(role: Role): boolean {
  return role === 'operator' || role === 'admin';
}
