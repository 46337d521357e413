import { createHash } from 'node:crypto';
import { xmlText } from './xml-text.ts';

export const DIALOG_INFO_TYPE = 'application/dialog-info+xml';

/** One dialog of the watched phone, as it sees it (local = the phone). */
export interface WatchedDialog {
  sipCallId: string;
  localTag: string;
  remoteTag: string;
  direction: 'initiator' | 'recipient';
  state: 'early' | 'confirmed' | 'terminated';
  remote: { uri: string; displayName?: string };
  since: number;
}

/** A stable, opaque dialog element id for one SIP dialog (RFC 4235 §4.1.2: unique within the entity). */
export function dialogElementId(d: Pick<WatchedDialog, 'sipCallId' | 'localTag'>): string {
  return createHash('sha256').update(`${d.sipCallId}\n${d.localTag}`).digest('hex').slice(0, 20);
}

/**
 * A full-state dialog-info document (RFC 4235 §4): every early/confirmed dialog of the entity,
 * plus the ones that ended since the previous NOTIFY (state terminated, once). The call-id and
 * tags are the watched phone's own leg, so a phone that offers pickup can write an
 * INVITE/Replaces from them; `remote` names who it talks to.
 */
export function renderDialogInfo(entity: string, version: number, dialogs: readonly WatchedDialog[]): string {
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="${version}" state="full" entity="${xmlText(entity)}">`,
  ];
  for (const d of dialogs) {
    const display = d.remote.displayName ? ` display="${xmlText(d.remote.displayName)}"` : '';
    lines.push(
      `  <dialog id="${dialogElementId(d)}" call-id="${xmlText(d.sipCallId)}" local-tag="${xmlText(d.localTag)}" remote-tag="${xmlText(d.remoteTag)}" direction="${d.direction}">`,
      `    <state>${d.state}</state>`,
      `    <duration>${Math.max(0, Math.floor((Date.now() - d.since) / 1000))}</duration>`,
      `    <local><identity>${xmlText(entity)}</identity><target uri="${xmlText(entity)}"/></local>`,
      `    <remote><identity${display}>${xmlText(d.remote.uri)}</identity><target uri="${xmlText(d.remote.uri)}"/></remote>`,
      '  </dialog>',
    );
  }
  lines.push('</dialog-info>', '');
  return lines.join('\r\n');
}
