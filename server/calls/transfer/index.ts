export { parseReferTo, parseReplaces } from './refer-to.ts';
export type { ReferTarget, ReferToParse, ReplacesTarget } from './refer-to.ts';
export { referNotify } from './refer-notify.ts';
export { TRANSFER_DIALPLAN, TransferDialplanRun } from './transfer-dialplan-run.ts';
export type { TransferHost, TransferOutcome } from './transfer-dialplan-run.ts';
export { blindTransfer } from './blind-transfer.ts';
export type { BlindTransferRequest, BlindTransferResult, TransferringCall } from './blind-transfer.ts';
