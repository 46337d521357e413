import type { CallParty } from './records/index.ts';

/**
 * One SIP dialog a tenant account's phone has in a call, as that phone sees it (RFC 4235
 * dialog-info): `localTag` is the phone's own tag, `remoteTag` the switch's. Only early and
 * confirmed dialogs are listed: before a To tag exists there is nothing a phone could name in a
 * Replaces, and a lamp has nothing better to show than the account's ringing state.
 */
export interface PhoneDialog {
  /** Patchbay call id (stable across NOTIFYs: the dialog element's id). */
  callId: string;
  /** Account username whose phone holds the dialog. */
  account: string;
  sipCallId: string;
  localTag: string;
  remoteTag: string;
  /** `initiator`: the phone placed the call; `recipient`: the switch rang it. */
  direction: 'initiator' | 'recipient';
  state: 'early' | 'confirmed';
  /** Who the phone talks to (the caller, or what the phone dialled). */
  remote: CallParty;
  /** When the dialog started (epoch ms). */
  since: number;
}
