import { xmlText } from './xml-text.ts';

export const PIDF_TYPE = 'application/pidf+xml';

/**
 * A PIDF document (RFC 3863) with one tuple: `open` when the account has a live registration and
 * do-not-disturb is off, `closed` otherwise; the note says what the lamp shows.
 */
export function renderPidf(entity: string, open: boolean, note: string): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="${xmlText(entity)}">`,
    '  <tuple id="patchbay">',
    `    <status><basic>${open ? 'open' : 'closed'}</basic></status>`,
    `    <contact>${xmlText(entity)}</contact>`,
    `    <note>${xmlText(note)}</note>`,
    '  </tuple>',
    '</presence>',
    '',
  ].join('\r\n');
}
