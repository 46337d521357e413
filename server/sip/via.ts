import { SipParseError } from './parse-error.ts';
import { splitHeaderList } from './headers.ts';
import { parseHeaderParams } from './name-addr.ts';
import { formatHost, parseHost, parsePort } from './uri.ts';

/** One via-parm (RFC 3261 §20.42, RFC 3581 rport). */
export interface Via {
  /** 'SIP/2.0' */
  protocol: string;
  /** Upper-case: UDP TCP TLS WS WSS SCTP. */
  transport: string;
  host: string;
  port?: number;
  branch?: string;
  received?: string;
  /** null = present without value; undefined = absent. */
  rport?: number | null;
  /** Every parameter in wire order (branch/received/rport included), keys lower-cased. */
  params: Record<string, string | null>;
}

// sent-protocol = protocol-name SLASH protocol-version SLASH transport, then LWS sent-by
const VIA_HEAD = /^([A-Za-z0-9\-.!%*_+`'~]+)[ \t\r\n]*\/[ \t\r\n]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t\r\n]*\/[ \t\r\n]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t\r\n]+/;

function isHostChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c === 0x2d || c === 0x2e;
}

function isLws(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

function parseViaParm(text: string): Via {
  const m = VIA_HEAD.exec(text);
  if (!m) throw new SipParseError('Invalid Via header');
  let i = m[0].length;
  const n = text.length;
  // sent-by = host [ COLON port ]; COLON may be surrounded by LWS
  let hostEnd: number;
  if (text.charCodeAt(i) === 0x5b) {
    hostEnd = text.indexOf(']', i) + 1;
    if (hostEnd === 0) throw new SipParseError('Invalid Via header');
  } else {
    hostEnd = i;
    while (hostEnd < n && isHostChar(text.charCodeAt(hostEnd))) hostEnd++;
  }
  let host: string;
  try {
    host = parseHost(text.slice(i, hostEnd));
  } catch {
    throw new SipParseError('Invalid Via sent-by');
  }
  i = hostEnd;
  let j = i;
  while (j < n && isLws(text.charCodeAt(j))) j++;
  let port: number | undefined;
  if (text.charCodeAt(j) === 0x3a) {
    j++;
    while (j < n && isLws(text.charCodeAt(j))) j++;
    const ps = j;
    while (j < n && text.charCodeAt(j) >= 0x30 && text.charCodeAt(j) <= 0x39) j++;
    try {
      port = parsePort(text.slice(ps, j));
    } catch {
      throw new SipParseError('Invalid Via sent-by');
    }
    i = j;
  }
  const params: Record<string, string | null> = {};
  try {
    parseHeaderParams(text, i, params);
  } catch {
    throw new SipParseError('Invalid Via parameter');
  }
  const via: Via = {
    protocol: `${m[1]!.toUpperCase()}/${m[2]}`,
    transport: m[3]!.toUpperCase(),
    host,
    params,
  };
  if (port !== undefined) via.port = port;
  const branch = params['branch'];
  if (branch) via.branch = branch;
  const received = params['received'];
  if (received) via.received = received;
  if ('rport' in params) {
    const r = params['rport'];
    if (r === null || r === undefined || r === '') {
      via.rport = null;
    } else {
      if (!/^\d{1,5}$/.test(r)) throw new SipParseError('Invalid Via rport');
      via.rport = Number(r);
    }
  }
  return via;
}

/** Parses one Via header value (possibly several comma-separated via-parms). */
export function parseVia(value: string): Via[] {
  const parts = splitHeaderList(value);
  if (parts.length === 0) throw new SipParseError('Invalid Via header');
  return parts.map(parseViaParm);
}

export function formatVia(v: Via): string {
  let out = `${v.protocol}/${v.transport} ${formatHost(v.host)}`;
  if (v.port !== undefined) out += ':' + v.port;
  const fields: Record<string, string | null | undefined> = {
    branch: v.branch,
    received: v.received,
    rport: v.rport === undefined ? undefined : v.rport === null ? null : String(v.rport),
  };
  const emitted = new Set<string>();
  for (const k in v.params) {
    let val: string | null | undefined = v.params[k];
    if (k in fields) {
      val = fields[k];
      if (val === undefined) continue;
    }
    emitted.add(k);
    out += val === null || val === undefined ? ';' + k : `;${k}=${val}`;
  }
  for (const k of ['branch', 'received', 'rport']) {
    if (emitted.has(k)) continue;
    const val = fields[k];
    if (val === undefined) continue;
    out += val === null ? ';' + k : `;${k}=${val}`;
  }
  return out;
}
