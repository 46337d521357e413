import { isUtf8 } from 'node:buffer';
import { SipParseError } from './parse-error.ts';

/** RFC 3261 §19.1 SIP/SIPS URI and RFC 3966 tel URI (number in `user`, empty `host`). */
export interface SipUri {
  scheme: 'sip' | 'sips' | 'tel';
  /** Unescaped. */
  user?: string;
  password?: string;
  /** IPv6 WITHOUT brackets; host names lower-cased. */
  host: string;
  port?: number;
  /** Keys lower-cased; null = flag parameter (;lr). Values as written. */
  params: Record<string, string | null>;
  /** URI headers (?name=value), values unescaped. */
  headers: Record<string, string>;
}

const HEX = '0123456789ABCDEF';

/** Percent-decodes; bytes that are not valid UTF-8 are kept as Latin-1 code points. */
export function unescapeUriPart(s: string): string {
  if (s.indexOf('%') < 0) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 /* % */) {
      const h = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(h)) throw new SipParseError('Bad escape in URI');
      bytes.push(parseInt(h, 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      for (const b of Buffer.from(s[i]!, 'utf8')) bytes.push(b);
    }
  }
  const buf = Buffer.from(bytes);
  return buf.toString(isUtf8(buf) ? 'utf8' : 'latin1');
}


/** Characters allowed unescaped in the user part (RFC 3261 §25.1 unreserved / user-unreserved). */
const USER_SAFE = /[A-Za-z0-9\-_.!~*'()&=+$,;?/]/;
/** Characters allowed unescaped in password and header names/values. */
const PASSWORD_SAFE = /[A-Za-z0-9\-_.!~*'()&=+$,]/;
const HVALUE_SAFE = /[A-Za-z0-9\-_.!~*'()[\]/?:+$]/;

function escapeWith(s: string, safe: RegExp): string {
  let out = '';
  for (const ch of s) {
    if (ch.length === 1 && safe.test(ch)) {
      out += ch;
    } else {
      const bytes = ch.charCodeAt(0) < 0x100 && ch.length === 1 && ch.charCodeAt(0) >= 0x80
        ? Buffer.from([ch.charCodeAt(0)])
        : Buffer.from(ch, 'utf8');
      for (const b of bytes) out += '%' + HEX[b >> 4] + HEX[b & 15];
    }
  }
  return out;
}

export function escapeUser(user: string): string {
  return escapeWith(user, USER_SAFE);
}

/**
 * RFC 3261 hostname: labels of alphanum and '-', not starting or ending with '-', the top label
 * starting with a letter, optional trailing dot. A loop instead of a backtracking regex (hot path).
 */
function isHostname(s: string): boolean {
  const n = s.charCodeAt(s.length - 1) === 0x2e ? s.length - 1 : s.length;
  if (n === 0) return false;
  let labelStart = 0;
  for (let i = 0; i <= n; i++) {
    const c = i === n ? 0x2e : s.charCodeAt(i);
    if (c === 0x2e) {
      if (i === labelStart || s.charCodeAt(i - 1) === 0x2d || s.charCodeAt(labelStart) === 0x2d) return false;
      if (i === n) {
        const f = s.charCodeAt(labelStart) | 0x20;
        return f >= 0x61 && f <= 0x7a; // top label starts with a letter
      }
      labelStart = i + 1;
    } else if (!((c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c === 0x2d)) {
      return false;
    }
  }
  return false;
}
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const PARAM_CHARS = /^[A-Za-z0-9\-_.!~*'()[\]/:&+$%]+$/;

/** RFC 4291 §2.2 textual IPv6 address (with optional embedded IPv4), as RFC 5118 requires. */
export function isIPv6(s: string): boolean {
  if (s.length < 2 || s.length > 45) return false;
  let head = s;
  let groupsForV4 = 0;
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.') >= 0) {
    if (!IPV4.test(s.slice(lastColon + 1))) return false;
    head = s.slice(0, lastColon + 1);
    groupsForV4 = 2;
    // "::1.2.3.4" leaves "::" (kept); "a:...:f:1.2.3.4" leaves "a:...:f:" — drop the trailing ':'.
    if (!head.endsWith('::')) head = head.slice(0, -1);
  }
  const dbl = head.indexOf('::');
  if (dbl >= 0 && head.indexOf('::', dbl + 1) >= 0) return false;
  if (/:::/.test(head)) return false;
  const group = /^[0-9A-Fa-f]{1,4}$/;
  const countGroups = (part: string): number => {
    if (part === '') return 0;
    const gs = part.split(':');
    for (const g of gs) if (!group.test(g)) return -1;
    return gs.length;
  };
  if (dbl >= 0) {
    const left = countGroups(head.slice(0, dbl));
    const right = countGroups(head.slice(dbl + 2));
    if (left < 0 || right < 0) return false;
    return left + right + groupsForV4 <= 7;
  }
  const n = countGroups(head);
  return n >= 0 && n + groupsForV4 === 8;
}

/** Validates and normalizes a host (brackets removed from IPv6 references, names lower-cased). */
export function parseHost(text: string): string {
  if (text.charCodeAt(0) === 0x5b /* [ */) {
    if (text.charCodeAt(text.length - 1) !== 0x5d || !isIPv6(text.slice(1, -1))) {
      throw new SipParseError('Invalid IPv6 reference');
    }
    return text.slice(1, -1).toLowerCase();
  }
  if (!isHostname(text)) {
    if (IPV4.test(text)) return text;
    throw new SipParseError('Invalid host');
  }
  return text.toLowerCase();
}

/** Splits "host[:port]" (host possibly an IPv6 reference). */
export function parseHostPort(text: string): { host: string; port?: number } {
  let hostEnd: number;
  if (text.charCodeAt(0) === 0x5b) {
    hostEnd = text.indexOf(']') + 1;
    if (hostEnd === 0) throw new SipParseError('Invalid IPv6 reference');
  } else {
    hostEnd = text.indexOf(':');
    if (hostEnd < 0) hostEnd = text.length;
  }
  const host = parseHost(text.slice(0, hostEnd));
  if (hostEnd === text.length) return { host };
  if (text.charCodeAt(hostEnd) !== 0x3a) throw new SipParseError('Invalid host');
  return { host, port: parsePort(text.slice(hostEnd + 1)) };
}

export function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new SipParseError('Invalid port');
  const port = Number(text);
  if (port > 65535) throw new SipParseError('Invalid port');
  return port;
}

function parseUriParams(text: string, into: Record<string, string | null>): void {
  // text starts after the first ';'
  for (const part of text.split(';')) {
    if (part === '') throw new SipParseError('Invalid URI parameter');
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? null : part.slice(eq + 1);
    if (!PARAM_CHARS.test(name) || (value !== null && value !== '' && !PARAM_CHARS.test(value))) {
      throw new SipParseError('Invalid URI parameter');
    }
    into[name.toLowerCase()] = value;
  }
}

function parseUriHeaders(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new SipParseError('Invalid URI header');
    out[unescapeUriPart(part.slice(0, eq))] = unescapeUriPart(part.slice(eq + 1));
  }
  return out;
}

/** Parses a SIP, SIPS or tel URI (RFC 3261 §19.1, §25.1; RFC 5118). Throws SipParseError. */
export function parseUri(text: string): SipUri {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new SipParseError('Invalid URI');
  const schemeText = text.slice(0, colon);
  const scheme = schemeText.toLowerCase();
  if (scheme !== 'sip' && scheme !== 'sips' && scheme !== 'tel') {
    if (/^[A-Za-z][A-Za-z0-9+\-.]*$/.test(schemeText)) {
      throw new SipParseError('Unsupported URI Scheme', 416);
    }
    throw new SipParseError('Invalid URI');
  }
  const rest = text.slice(colon + 1);
  // Whitespace or control characters can only come from a bad Request-URI / unbracketed addr-spec.
  if (/[\x00-\x20\x7f<>"]/.test(rest)) throw new SipParseError('Invalid URI');

  if (scheme === 'tel') {
    const semi = rest.indexOf(';');
    const number = semi < 0 ? rest : rest.slice(0, semi);
    if (!/^\+?[0-9A-Fa-f*#\-.()pPwW]+$/.test(number)) throw new SipParseError('Invalid tel URI');
    const params: Record<string, string | null> = {};
    if (semi >= 0) parseUriParams(rest.slice(semi + 1), params);
    return { scheme, user: number, host: '', params, headers: {} };
  }

  let hostStart = 0;
  let user: string | undefined;
  let password: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const pc = userinfo.indexOf(':');
    const userText = pc < 0 ? userinfo : userinfo.slice(0, pc);
    if (userText === '') throw new SipParseError('Invalid URI user');
    user = unescapeUriPart(userText);
    if (pc >= 0) password = unescapeUriPart(userinfo.slice(pc + 1));
    hostStart = at + 1;
  }
  let hostEnd = rest.length;
  let paramsStart = -1;
  let headersStart = -1;
  for (let i = hostStart; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    if (c === 0x3b /* ; */) { paramsStart = i; hostEnd = i; break; }
    if (c === 0x3f /* ? */) { headersStart = i; hostEnd = i; break; }
  }
  if (paramsStart >= 0) {
    const q = rest.indexOf('?', paramsStart);
    if (q >= 0) headersStart = q;
  }
  const { host, port } = parseHostPort(rest.slice(hostStart, hostEnd));
  const params: Record<string, string | null> = {};
  if (paramsStart >= 0) {
    parseUriParams(rest.slice(paramsStart + 1, headersStart >= 0 ? headersStart : rest.length), params);
  }
  const headers = headersStart >= 0 ? parseUriHeaders(rest.slice(headersStart + 1)) : {};
  const uri: SipUri = { scheme, host, params, headers };
  if (user !== undefined) uri.user = user;
  if (password !== undefined) uri.password = password;
  if (port !== undefined) uri.port = port;
  return uri;
}

export function formatHost(host: string): string {
  return host.indexOf(':') >= 0 ? `[${host}]` : host;
}

/** Serializes a URI; IPv6 hosts are bracketed, the user part is escaped as needed. */
export function formatUri(uri: SipUri): string {
  let out = uri.scheme + ':';
  if (uri.scheme === 'tel') {
    out += uri.user ?? '';
  } else {
    if (uri.user !== undefined) {
      out += escapeUser(uri.user);
      if (uri.password !== undefined) out += ':' + escapeWith(uri.password, PASSWORD_SAFE);
      out += '@';
    }
    out += formatHost(uri.host);
    if (uri.port !== undefined) out += ':' + uri.port;
  }
  for (const k in uri.params) {
    const v = uri.params[k];
    out += v === null || v === undefined ? ';' + k : `;${k}=${v}`;
  }
  let first = true;
  for (const k in uri.headers) {
    out += (first ? '?' : '&') + escapeWith(k, HVALUE_SAFE) + '=' + escapeWith(uri.headers[k]!, HVALUE_SAFE);
    first = false;
  }
  return out;
}

export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

/** The transport a URI asks for (RFC 3261 §19.1.2/§26.2: `sips:` means TLS, or WSS over WebSocket). */
export function uriTransport(uri: SipUri): 'udp' | 'tcp' | 'tls' | 'ws' | 'wss' {
  const p = uri.params['transport']?.toLowerCase();
  if (uri.scheme === 'sips') return p === 'ws' || p === 'wss' ? 'wss' : 'tls';
  if (p === 'tcp' || p === 'tls' || p === 'ws' || p === 'wss' || p === 'udp') return p;
  return 'udp';
}
