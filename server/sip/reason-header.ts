/**
 * A `Reason` header (RFC 3326) as a [name, value] pair for a request's extra headers. The text is
 * a quoted-string, so quotes and backslashes in it are dropped rather than escaped: some UAs
 * mis-parse escaped quotes, and the text is for people only.
 */
export function reasonHeader(cause: number, text: string): [string, string] {
  return ['Reason', `SIP;cause=${cause};text="${text.replace(/["\\\r\n]/g, '')}"`];
}
