import { dialogKey } from '../../sip/index.ts';
import type { ReplacesTarget } from './refer-to.ts';

/**
 * The dialog keys (ours: call-id|local tag|remote tag) a Replaces may name. RFC 3891 §3 writes
 * the tags as the recipient of the INVITE/Replaces sees them, but a Refer-To's Replaces is
 * written by the transferor about its own dialog, and phones disagree on the order: both
 * orientations are tried. Tags are random, so the two can never name different dialogs of ours.
 */
export function replacesDialogKeys(r: ReplacesTarget): string[] {
  return [
    dialogKey({ callId: r.callId, localTag: r.toTag, remoteTag: r.fromTag }),
    dialogKey({ callId: r.callId, localTag: r.fromTag, remoteTag: r.toTag }),
  ];
}
