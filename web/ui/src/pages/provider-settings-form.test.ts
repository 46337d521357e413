import { describe, expect, it } from 'vitest';
import { PROTECTED_PROVIDER_HEADER_PREFIX, PROTECTED_PROVIDER_HEADERS } from '../../../../db/protected-provider-headers.ts';
import { validateCustomHeaders } from '../../../../db/repositories/providers-repository.ts';
import type { Provider } from '../api/index.ts';
import { createSettings, settingsFieldOf, settingsFormOf, settingsPayload } from './provider-settings-form.ts';

const provider = {
  id: 1, name: 'gizmo', serverUri: 'sip:sip.gizmo.example', outboundProxy: null, username: null, authUser: null, hasPassword: false,
  register: false, registerExpiry: 3600, fromUser: null, customHeaders: { 'X-Account': '4930123456' }, createdAt: 0,
  settings: { fromHost: 'gizmo.example', assertIdentity: true, numberFormat: 'e164', provisionalTimeoutMs: 0, sourceNetworks: ['192.0.2.0/24', '2001:db8::/32'] },
} satisfies Provider;

describe('provider settings form', () => {
  it('round-trips stored settings; empty fields become null (the default)', () => {
    const form = settingsFormOf(provider);
    expect(form).toMatchObject({ fromHost: 'gizmo.example', provisionalTimeoutMs: '0', sourceNetworks: '192.0.2.0/24, 2001:db8::/32', customHeaders: 'X-Account: 4930123456', privacy: '' });
    const result = settingsPayload(form);
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.payload.settings).toEqual({
      fromHost: 'gizmo.example', displayName: null, assertIdentity: true, privacy: null, numberFormat: 'e164', countryCode: null, nationalPrefix: null,
      internationalPrefix: null, provisionalTimeoutMs: 0, pingIntervalSeconds: null, sourceNetworks: ['192.0.2.0/24', '2001:db8::/32'],
    });
    expect(result.payload.customHeaders).toEqual({ 'X-Account': '4930123456' });
    // A new provider sends only what was given.
    expect(createSettings(result.payload.settings)).toEqual({ fromHost: 'gizmo.example', assertIdentity: true, numberFormat: 'e164', provisionalTimeoutMs: 0, sourceNetworks: ['192.0.2.0/24', '2001:db8::/32'] });
    // The default number format is not stored.
    const blank = settingsPayload(settingsFormOf(null));
    expect(blank.ok && createSettings(blank.payload.settings)).toEqual({});
  });

  it('refuses bad numbers and header lines, naming the field', () => {
    const form = { ...settingsFormOf(null), provisionalTimeoutMs: '40000', pingIntervalSeconds: '-1', customHeaders: 'X-Ok: 1\n\nVia: SIP/2.0/UDP evil' };
    const result = settingsPayload(form);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors).toEqual({
      provisionalTimeoutMs: expect.stringContaining('0 to 32000'),
      pingIntervalSeconds: expect.stringContaining('0 to 3600'),
      customHeaders: 'Line 3: Via is set by the switch and cannot be configured.',
    });
    expect(settingsPayload({ ...form, provisionalTimeoutMs: '', pingIntervalSeconds: '', customHeaders: 'no colon here' })).toEqual({ ok: false, errors: { customHeaders: expect.stringContaining('Line 1: write Name: value') } });
  });

  it('refuses before sending exactly the header names the server refuses', () => {
    const serverRefuses = (name: string): boolean => {
      try {
        validateCustomHeaders({ [name]: 'x' });
        return false;
      } catch {
        return true;
      }
    };
    const formRefuses = (name: string): boolean => {
      const result = settingsPayload({ ...settingsFormOf(null), customHeaders: `${name}: x` });
      if (!result.ok) expect(result.errors).toEqual({ customHeaders: `Line 1: ${name} is set by the switch and cannot be configured.` });
      return !result.ok;
    };
    const protectedNames = [...PROTECTED_PROVIDER_HEADERS, `${PROTECTED_PROVIDER_HEADER_PREFIX}type`, `${PROTECTED_PROVIDER_HEADER_PREFIX}disposition`];
    const caseVariants = protectedNames.flatMap((name) => [name, name.toUpperCase(), name.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase())]);
    // Near misses and the headers a trunk really wants: both sides must let them through.
    const allowed = ['X-Account', 'P-Asserted-Identity', 'P-Preferred-Identity', 'User-Agent', 'Supported', 'k', 'X-Via', 'Via-Extra', 'Routes', 'Contact-Info', 'Contents', 'Call-Info'];
    expect(PROTECTED_PROVIDER_HEADERS.length).toBeGreaterThan(0);
    for (const name of caseVariants) expect({ name, form: formRefuses(name), server: serverRefuses(name) }).toEqual({ name, form: true, server: true });
    for (const name of allowed) expect({ name, form: formRefuses(name), server: serverRefuses(name) }).toEqual({ name, form: false, server: false });
  });

  it('maps the API field names of settings and headers onto the form fields', () => {
    expect(settingsFieldOf('settings.provisionalTimeoutMs')).toBe('provisionalTimeoutMs');
    expect(settingsFieldOf('settings.sourceNetworks.3')).toBe('sourceNetworks');
    expect(settingsFieldOf('customHeaders.X-Long')).toBe('customHeaders');
    expect(settingsFieldOf('privacy')).toBe('privacy');
  });
});
