import type { Role } from '../api/index.ts';

/**
 * Which pages each role may open, mirroring the API's role rules: receptionists handle live
 * calls and CDRs but never dialplans or accounts; members see their own accounts and the
 * dialplans those accounts use. The API enforces this; the UI only avoids offering dead ends.
 */
export type PageId = 'dialplans' | 'accounts' | 'switchboard' | 'cdrs' | 'console';

const ACCESS: Record<PageId, readonly Role[]> = {
  dialplans: ['operator', 'admin', 'member'],
  accounts: ['operator', 'admin', 'member'],
  cdrs: ['operator', 'admin', 'receptionist', 'member'],
  // A company's live calls: operators watch a tenant through the API, not this page.
  switchboard: ['admin', 'receptionist'],
  // Receptionists get neither dialplan logs nor SIP traces (the event hub's role rules).
  console: ['operator', 'admin', 'member'],
};

export const PAGE_TITLES: Record<PageId, string> = {
  dialplans: 'Dialplans',
  accounts: 'Accounts',
  cdrs: 'Call records',
  switchboard: 'Switchboard',
  console: 'Live console',
};

export const PAGE_ORDER: readonly PageId[] = ['dialplans', 'accounts', 'switchboard', 'cdrs', 'console'];

export function canOpen(role: Role, page: PageId): boolean {
  return ACCESS[page].includes(role);
}

export function homePage(role: Role): PageId {
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
