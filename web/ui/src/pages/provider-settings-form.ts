import type { Provider, UpdateProviderInput } from '../api/index.ts';
import type { FieldErrors } from '../app/form-errors.ts';
// The server's own list (db/index.ts re-exports it), imported by file: db's index pulls in the database drivers.
import { isProtectedProviderHeader } from '../../../../db/protected-provider-headers.ts';

/**
 * The provider form's call settings and custom headers as text fields, and back to the API's
 * `settings` / `customHeaders`: an empty field means the default (create: left out; edit: null,
 * which clears the stored setting).
 */

export type ProviderSettings = NonNullable<Provider['settings']>;
export type NumberFormat = NonNullable<ProviderSettings['numberFormat']>;

export const NUMBER_FORMAT_LABELS: Record<NumberFormat, string> = {
  'as-dialled': 'As dialled (default)',
  e164: 'E.164 (+4930123456)',
  'e164-no-plus': 'E.164 without + (4930123456)',
  national: 'National (030123456)',
};

export interface SettingsForm {
  fromHost: string;
  displayName: string;
  assertIdentity: boolean;
  privacy: string;
  numberFormat: NumberFormat;
  countryCode: string;
  nationalPrefix: string;
  internationalPrefix: string;
  provisionalTimeoutMs: string;
  pingIntervalSeconds: string;
  sourceNetworks: string;
  /** `Name: value`, one a line. */
  customHeaders: string;
}

export type SettingsField = keyof SettingsForm;

export function settingsFormOf(provider: Provider | null): SettingsForm {
  const s: ProviderSettings = provider?.settings ?? {};
  return {
    fromHost: s.fromHost ?? '',
    displayName: s.displayName ?? '',
    assertIdentity: s.assertIdentity ?? false,
    privacy: s.privacy ?? '',
    numberFormat: s.numberFormat ?? 'as-dialled',
    countryCode: s.countryCode ?? '',
    nationalPrefix: s.nationalPrefix ?? '',
    internationalPrefix: s.internationalPrefix ?? '',
    provisionalTimeoutMs: s.provisionalTimeoutMs === undefined ? '' : String(s.provisionalTimeoutMs),
    pingIntervalSeconds: s.pingIntervalSeconds === undefined ? '' : String(s.pingIntervalSeconds),
    sourceNetworks: (s.sourceNetworks ?? []).join(', '),
    customHeaders: Object.entries(provider?.customHeaders ?? {}).map(([name, value]) => `${name}: ${value}`).join('\n'),
  };
}

const HEADER_NAME = /^[A-Za-z0-9!%*_+`'~.-]+$/;

function parseHeaders(text: string): { headers: Record<string, string> } | { error: string } {
  const headers: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon).trim();
    if (colon < 0 || !HEADER_NAME.test(name)) return { error: `Line ${i + 1}: write Name: value (a header name is letters, digits and - . ! % * _ + \` ' ~).` };
    if (isProtectedProviderHeader(name)) return { error: `Line ${i + 1}: ${name} is set by the switch and cannot be configured.` };
    const value = line.slice(colon + 1).trim();
    if (value.length > 1024) return { error: `Line ${i + 1}: at most 1024 characters.` };
    headers[name] = value;
  }
  return { headers };
}

function integer(text: string, min: number, max: number): number | null | undefined {
  const t = text.trim();
  if (!t) return null;
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return n >= min && n <= max ? n : undefined;
}

export interface SettingsPayload {
  settings: NonNullable<UpdateProviderInput['settings']>;
  customHeaders: Record<string, string>;
}

/**
 * Checks what the browser can (numbers, header lines; the API checks the rest and names the
 * field) and builds the payload: every setting, null where the field is empty or the default.
 */
export function settingsPayload(f: SettingsForm): { ok: true; payload: SettingsPayload } | { ok: false; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const provisional = integer(f.provisionalTimeoutMs, 0, 32_000);
  if (provisional === undefined) errors['provisionalTimeoutMs'] = 'Milliseconds, 0 to 32000 (0 waits for Timer B), or empty for 5000.';
  const ping = integer(f.pingIntervalSeconds, 0, 3600);
  if (ping === undefined) errors['pingIntervalSeconds'] = 'Seconds, 0 to 3600, or empty for no pings.';
  const headers = parseHeaders(f.customHeaders);
  if ('error' in headers) errors['customHeaders'] = headers.error;
  if (Object.keys(errors).length || 'error' in headers) return { ok: false, errors };
  const text = (value: string): string | null => value.trim() || null;
  const networks = f.sourceNetworks.split(/[\s,]+/).filter(Boolean);
  return {
    ok: true,
    payload: {
      settings: {
        fromHost: text(f.fromHost),
        displayName: text(f.displayName),
        assertIdentity: f.assertIdentity ? true : null,
        privacy: text(f.privacy),
        numberFormat: f.numberFormat === 'as-dialled' ? null : f.numberFormat,
        countryCode: text(f.countryCode),
        nationalPrefix: text(f.nationalPrefix),
        internationalPrefix: text(f.internationalPrefix),
        provisionalTimeoutMs: provisional ?? null,
        pingIntervalSeconds: ping ?? null,
        sourceNetworks: networks.length ? networks : null,
      },
      customHeaders: headers.headers,
    },
  };
}

/** A new provider: only the settings given (the create body takes no nulls). */
export function createSettings(settings: SettingsPayload['settings']): ProviderSettings {
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== null)) as ProviderSettings;
}

/** The API names a setting `settings.fromHost` (schema) or `fromHost` (repository), a header `customHeaders` or `customHeaders.X-Name`. */
export function settingsFieldOf(field: string): string {
  if (field.startsWith('settings.')) return field.slice('settings.'.length).split('.')[0]!;
  if (field.startsWith('customHeaders')) return 'customHeaders';
  return field;
}
