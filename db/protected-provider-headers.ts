/**
 * Headers a provider's custom headers may never set: the B2BUA owns them (routing, dialog, auth,
 * body). The API, the CLI, the INVITE and the web form all ask isProtectedProviderHeader, so the
 * browser refuses exactly what the server refuses. This file imports nothing so that the browser
 * app can import it.
 */
export const PROTECTED_PROVIDER_HEADERS: readonly string[] = [
  'via', 'v', 'from', 'f', 'to', 't', 'call-id', 'i', 'cseq', 'contact', 'm', 'max-forwards',
  'route', 'record-route', 'authorization', 'proxy-authorization', 'c', 'l', 'e',
];

/** Every Content-* header is protected too: the switch writes the body. */
export const PROTECTED_PROVIDER_HEADER_PREFIX = 'content-';

const protectedNames = new Set(PROTECTED_PROVIDER_HEADERS);

/** Whether a provider's custom header would replace one the switch writes (header names are case-insensitive). */
export function isProtectedProviderHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return protectedNames.has(lower) || lower.startsWith(PROTECTED_PROVIDER_HEADER_PREFIX);
}
