import { SipParseError } from './parse-error.ts';
import { splitHeaderList } from './headers.ts';
import { formatUri, parseUri, type SipUri } from './uri.ts';

/** From, To, Contact, Route, Record-Route, Refer-To … (RFC 3261 §20.10, §25.1). */
export interface NameAddr {
  /** Unquoted and unescaped; undefined when absent ('' for `""`). */
  displayName?: string;
  uri: SipUri;
  /** Header parameters (after the URI); keys lower-cased, values as written (quotes kept). */
  params: Record<string, string | null>;
}

/** token chars (RFC 3261 §25.1) as a lookup table — per-character regex tests are slow. */
const TOKEN_CHARS = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~") TOKEN_CHARS[c.charCodeAt(0)] = 1;
/** Characters of an unquoted parameter value: token plus ':' '[' ']' for hosts and IPv6. */
const VALUE_CHARS = TOKEN_CHARS.slice();
for (const c of ':[]') VALUE_CHARS[c.charCodeAt(0)] = 1;

function isIn(table: Uint8Array, c: number): boolean {
  return c < 128 && table[c] === 1;
}

function isLws(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/** Reads a quoted-string starting at `start` (on the opening quote); returns unescaped text and end. */
export function readQuotedString(text: string, start: number): { value: string; end: number } {
  let value = '';
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c /* \ */) {
      if (i + 1 >= text.length) break;
      const next = text.charCodeAt(i + 1);
      // quoted-pair excludes CR and LF (RFC 3261 §25.1)
      if (next === 0x0a || next === 0x0d) throw new SipParseError('Invalid quoted string');
      value += text[i + 1];
      i++;
    } else if (c === 0x22) {
      return { value, end: i + 1 };
    } else {
      value += text[i];
    }
  }
  throw new SipParseError('Unterminated quoted string');
}

/**
 * Parses `;name=value` header parameters starting at `pos` (at a ';' or LWS). Values may be
 * tokens, quoted strings (kept with their quotes) or host-like text; LWS around ';' and '=' is
 * allowed (RFC 3261 SEMI / EQUAL).
 */
export function parseHeaderParams(text: string, pos: number, into: Record<string, string | null>): void {
  let i = pos;
  const n = text.length;
  for (;;) {
    while (i < n && isLws(text.charCodeAt(i))) i++;
    if (i >= n) return;
    if (text.charCodeAt(i) !== 0x3b /* ; */) throw new SipParseError('Invalid header parameter');
    i++;
    while (i < n && isLws(text.charCodeAt(i))) i++;
    const nameStart = i;
    while (i < n && isIn(TOKEN_CHARS, text.charCodeAt(i))) i++;
    if (i === nameStart) throw new SipParseError('Invalid header parameter');
    const name = text.slice(nameStart, i).toLowerCase();
    let j = i;
    while (j < n && isLws(text.charCodeAt(j))) j++;
    if (j < n && text.charCodeAt(j) === 0x3d /* = */) {
      j++;
      while (j < n && isLws(text.charCodeAt(j))) j++;
      if (j < n && text.charCodeAt(j) === 0x22) {
        const q = readQuotedString(text, j);
        into[name] = text.slice(j, q.end);
        i = q.end;
      } else {
        const vStart = j;
        // token / host / IPv6 reference
        while (j < n && isIn(VALUE_CHARS, text.charCodeAt(j))) j++;
        if (j === vStart) throw new SipParseError('Invalid header parameter');
        into[name] = text.slice(vStart, j);
        i = j;
      }
    } else {
      into[name] = null;
    }
  }
}

/** Parses a name-addr (`"Bob" <sip:b@h>;tag=1`) or addr-spec (`sip:b@h;tag=1`). */
export function parseNameAddr(text: string): NameAddr {
  const n = text.length;
  let i = 0;
  while (i < n && isLws(text.charCodeAt(i))) i++;
  let displayName: string | undefined;
  let uriText: string;
  let after: number;
  if (text.charCodeAt(i) === 0x22 /* " */) {
    const q = readQuotedString(text, i);
    displayName = q.value;
    i = q.end;
    while (i < n && isLws(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) !== 0x3c) throw new SipParseError('Invalid name-addr');
  }
  const lt = text.charCodeAt(i) === 0x3c ? i : displayName === undefined ? text.indexOf('<', i) : -1;
  if (lt >= 0) {
    if (displayName === undefined && lt > i) {
      const dn = text.slice(i, lt).trim();
      // unquoted display-name = *(token LWS)
      if (dn && !/^[A-Za-z0-9\-.!%*_+`'~]+(?:[ \t\r\n]+[A-Za-z0-9\-.!%*_+`'~]+)*$/.test(dn)) {
        throw new SipParseError('Invalid display name');
      }
      displayName = dn.replace(/[ \t\r\n]+/g, ' ');
    }
    const gt = text.indexOf('>', lt);
    if (gt < 0) throw new SipParseError('Invalid name-addr');
    uriText = text.slice(lt + 1, gt);
    after = gt + 1;
  } else {
    // addr-spec: everything up to the first ';' (or LWS) is the URI; the rest are header params.
    let j = i;
    while (j < n && text.charCodeAt(j) !== 0x3b && !isLws(text.charCodeAt(j))) j++;
    uriText = text.slice(i, j);
    after = j;
    // RFC 3261 §20: a URI with a comma, question mark or semicolon must be in <> (name-addr).
    if (uriText.indexOf('?') >= 0) throw new SipParseError('URI with headers must be in <>');
  }
  const uri = parseUri(uriText);
  const params: Record<string, string | null> = {};
  parseHeaderParams(text, after, params);
  const na: NameAddr = { uri, params };
  if (displayName !== undefined) na.displayName = displayName;
  return na;
}

function formatDisplayName(name: string): string {
  if (/^[A-Za-z0-9\-.!%*_+`'~]+(?: [A-Za-z0-9\-.!%*_+`'~]+)*$/.test(name)) return name;
  return '"' + name.replace(/(["\\])/g, '\\$1') + '"';
}

/** Always emits the name-addr form (<uri>) so URI parameters can never be mistaken for header ones. */
export function formatNameAddr(na: NameAddr): string {
  let out = na.displayName !== undefined ? formatDisplayName(na.displayName) + ' ' : '';
  out += '<' + formatUri(na.uri) + '>';
  for (const k in na.params) {
    const v = na.params[k];
    out += v === null || v === undefined ? ';' + k : `;${k}=${v}`;
  }
  return out;
}

/** Contact header value(s): a list of name-addrs, or the wildcard `*` (REGISTER removal). */
export function parseContactList(value: string): NameAddr[] | '*' {
  if (value.trim() === '*') return '*';
  return splitHeaderList(value).map(parseNameAddr);
}
