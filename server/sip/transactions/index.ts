export type { ClientTransaction, ClientTransactionHandler, ServerTransaction } from './transaction.ts';
export { resolveTimers, DEFAULT_T1, DEFAULT_T2, DEFAULT_T4, type TimerSettings, type TransactionTimers } from './timer-settings.ts';
export { InviteClientTransaction, INVITE_CLIENT_TRANSITIONS, type InviteClientState } from './invite-client-transaction.ts';
export { NonInviteClientTransaction, type NonInviteClientState } from './non-invite-client-transaction.ts';
export { InviteServerTransaction, type InviteServerState } from './invite-server-transaction.ts';
export { NonInviteServerTransaction, type NonInviteServerState } from './non-invite-server-transaction.ts';
export { StatelessRejectServerTransaction } from './stateless-reject-server-transaction.ts';
