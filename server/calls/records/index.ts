export { recordCallEnd } from './call-end-record.ts';
export type { CdrHistoryItem, CdrHoldChange, CallAnsweredEvent, CallCreatedEvent, CallDirection, CallEndedEvent, CallEvent, CallParty, CdrLeg, CdrRecord, CdrTransfer, HangupSide, LegRingingEvent, TransferResult } from './call-events.ts';
export { DbDialplanStore, callAccountsFrom, cdrSinkFor } from './db-adapters.ts';
