import { describe, expect, it } from 'vitest';
import { dialogKey } from '../../sip/index.ts';
import { parseReferTo } from './refer-to.ts';
import { replacesDialogKeys } from './replaces-dialog.ts';

describe('Replaces mapping onto our dialogs', () => {
  it('maps an escaped Replaces in Refer-To to both readings of our dialog key', () => {
    const parsed = parseReferTo('<sip:1003@acme.test?Replaces=abc%40host%3Bto-tag%3Dt1%3Bfrom-tag%3Df1>');
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.target.uri.headers).toEqual({});
    const keys = replacesDialogKeys(parsed.target.replaces!);
    // Our side of the transferor's dialog: our tag is one of the two, the phone's the other.
    expect(keys).toContain(dialogKey({ callId: 'abc@host', localTag: 'f1', remoteTag: 't1' }));
    expect(keys).toContain(dialogKey({ callId: 'abc@host', localTag: 't1', remoteTag: 'f1' }));
  });

  it('refuses a Replaces without both tags', () => {
    expect(parseReferTo('<sip:1003@acme.test?Replaces=abc%3Bto-tag%3Dt1>')).toEqual({ ok: false, reason: 'Malformed Replaces in Refer-To' });
  });
});
