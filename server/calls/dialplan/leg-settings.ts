/**
 * What `sys.SetFromHeader` / `sys.SetCustomSIPHeader` leave for the legs a dialplan dials
 * afterwards. Per dialplan execution; a nested (local account) dialplan starts from a copy.
 */

export interface FromOverride { displayName?: string; user?: string; host?: string }

/** Headers the switch writes itself; a script may not set or replace them. */
const SWITCH_OWNED_HEADERS = new Set([
  'via', 'v', 'from', 'f', 'to', 't', 'call-id', 'i', 'cseq', 'contact', 'm', 'max-forwards', 'content-length', 'l',
  'content-type', 'c', 'route', 'record-route', 'proxy-authorization', 'authorization', 'www-authenticate',
  'proxy-authenticate', 'expires', 'refer-to', 'r', 'replaces', 'require', 'proxy-require',
]);
const HEADER_NAME_RE = /^[A-Za-z0-9\-.!%*_+`'~]{1,64}$/;
const HEADER_VALUE_RE = /^[^\r\n\u0000]{0,512}$/;

/** Why a custom header is refused, or undefined if it may be sent. */
export function customHeaderProblem(name: string, value: string): string | undefined {
  if (!HEADER_NAME_RE.test(name)) return `"${name.slice(0, 64)}" is not a valid header name`;
  if (SWITCH_OWNED_HEADERS.has(name.toLowerCase())) return `${name} is set by the switch and cannot be changed`;
  if (!HEADER_VALUE_RE.test(value)) return `the value of ${name} must be one line of at most 512 characters`;
  return undefined;
}

export class LegSettings {
  from: FromOverride = {};
  /** By lower-case name → [name as written, value]. */
  private readonly headers = new Map<string, [string, string]>();

  setHeader(name: string, value: string): void {
    const problem = customHeaderProblem(name, value);
    if (problem) throw new Error(`SetCustomSIPHeader: ${problem}`);
    this.headers.set(name.toLowerCase(), [name, value]);
  }

  removeHeader(name: string): void {
    this.headers.delete(name.toLowerCase());
  }

  customHeaders(): Array<[string, string]> {
    return [...this.headers.values()].map(([n, v]): [string, string] => [n, v]);
  }

  copy(): LegSettings {
    const c = new LegSettings();
    c.from = { ...this.from };
    for (const [k, v] of this.headers) c.headers.set(k, [v[0], v[1]]);
    return c;
  }
}
