import type { ProviderSettings } from '../../db/index.ts';

/** Separators people type in numbers; they never reach a provider. */
const SEPARATORS = /[\s().\-/]/g;

/**
 * The E.164 form (`+` and digits) of a dialled number under a provider's numbering rules, for the
 * destination policy and for providers that want E.164. A number with neither the international
 * nor the national prefix is read as inside the provider's country (with `countryCode`) or as
 * an international number without its `+` (without): the policy then errs towards checking
 * `882…` as `+882…`, never the other way. Undefined for a user that is not a number (`alice`).
 */
export function toE164(dialled: string, s: ProviderSettings): string | undefined {
  const d = dialled.replace(SEPARATORS, '');
  if (/^\+[0-9]{1,20}$/.test(d)) return d;
  if (!/^[0-9]{1,24}$/.test(d)) return undefined;
  const intl = s.internationalPrefix ?? '00';
  if (d.startsWith(intl) && d.length > intl.length) return `+${d.slice(intl.length)}`;
  const national = s.nationalPrefix ?? '0';
  if (s.countryCode) {
    if (national && d.startsWith(national)) return `+${s.countryCode}${d.slice(national.length)}`;
    return `+${s.countryCode}${d}`;
  }
  return `+${d}`;
}

/** The user part sent to the provider (Request-URI and To), per its `numberFormat`. */
export function formatForProvider(dialled: string, e164: string | undefined, s: ProviderSettings): string {
  const plain = dialled.replace(SEPARATORS, '');
  if (!e164) return plain;
  switch (s.numberFormat ?? 'as-dialled') {
    case 'e164': return e164;
    case 'e164-no-plus': return e164.slice(1);
    case 'national': {
      const cc = s.countryCode;
      if (cc && e164.startsWith(`+${cc}`)) return `${s.nationalPrefix ?? '0'}${e164.slice(1 + cc.length)}`;
      return `${s.internationalPrefix ?? '00'}${e164.slice(1)}`;
    }
    default: return plain;
  }
}
