import { isUtf8 } from 'node:buffer';
import { SipParseError } from './parse-error.ts';
import { SipHeaders, headerKey, trimLws } from './headers.ts';
import { parseUri } from './uri.ts';
import { parseContactList, parseNameAddr, type NameAddr } from './name-addr.ts';
import { parseVia, type Via } from './via.ts';
import { SipRequest, SipResponse, parseCSeq, parseMaxForwards, type SipMessage } from './message.ts';

/** RFC 3261 §18.1.1 leaves the limit to us; 64 KiB covers any sane SIP message. */
export const MAX_MESSAGE_SIZE = 65536;

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const CRLFCRLF = Buffer.from('\r\n\r\n');
const LFLF = Buffer.from('\n\n');


/** Finds the end of the header section: returns [index of the blank line, start of body] or undefined. */
export function findHeaderEnd(data: Buffer, from: number): [number, number] | undefined {
  const crlf = data.indexOf(CRLFCRLF, from);
  // bare-LF peers are rare: look for LFLF only before the CRLFCRLF, never through the body
  const lf = crlf >= 0 ? data.subarray(0, crlf).indexOf(LFLF, from) : data.indexOf(LFLF, from);
  if (lf >= 0) return [lf, lf + 2];
  if (crlf >= 0) return [crlf, crlf + 4];
  return undefined;
}

/** What the parser learns about routing headers while splitting lines (saves rescans). */
interface HeaderSummary {
  via: string[];
  contact: string[];
  from?: string;
  to?: string;
  callId?: string;
  cseq?: string;
  maxForwards?: string;
  contentLength?: string;
  /** Name of a header that must occur once but occurred more often. */
  duplicate?: string;
}

function headerError(name: string, err: unknown): SipParseError {
  if (err instanceof SipParseError && err.status !== 400) return err;
  return new SipParseError(`Invalid ${name} header`);
}

/**
 * Parses one whole SIP message (a datagram or a frame cut by StreamFramer) — RFC 3261 §7.
 * The start line, Via, From, To, Call-ID, CSeq, Max-Forwards and Content-Length are validated
 * here (so a bad message is refused before it reaches a transaction); everything else is kept
 * as text. Throws SipParseError; `err.status` says which response a server should give.
 */
export function parseMessage(data: Buffer): SipMessage {
  if (data.length > MAX_MESSAGE_SIZE) throw new SipParseError('Message Too Large', 513);
  let start = 0;
  // RFC 3261 §7.5: CRLFs before the start line are ignored.
  while (start < data.length && (data[start] === 0x0d || data[start] === 0x0a)) start++;
  if (start >= data.length) throw new SipParseError('Empty message');
  const end = findHeaderEnd(data, start);
  if (!end) throw new SipParseError('Incomplete header section');
  const [headEnd, bodyStart] = end;
  const headBytes = data.subarray(start, headEnd);
  const encoding = isUtf8(headBytes) ? 'utf8' : 'latin1';
  const head = headBytes.toString(encoding);

  let lineEnd = head.indexOf('\n');
  if (lineEnd < 0) lineEnd = head.length;
  const startLine = head.charCodeAt(lineEnd - 1) === 0x0d ? head.slice(0, lineEnd - 1) : head.slice(0, lineEnd);

  const headers = new SipHeaders();
  const summary: HeaderSummary = { via: [], contact: [] };
  parseHeaderLines(head, lineEnd + 1, headers, summary);
  try {
    return parseWithHeaders(data, startLine, headers, summary, bodyStart, encoding);
  } catch (err) {
    if (err instanceof SipParseError) {
      err.headers = headers;
      if (!startLine.startsWith('SIP/')) {
        const sp = startLine.indexOf(' ');
        const method = sp > 0 ? startLine.slice(0, sp) : '';
        if (TOKEN.test(method)) err.method = method;
      }
    }
    throw err;
  }
}

function parseWithHeaders(
  data: Buffer,
  startLine: string,
  headers: SipHeaders,
  summary: HeaderSummary,
  bodyStart: number,
  encoding: 'utf8' | 'latin1',
): SipMessage {
  const msg: SipMessage = startLine.startsWith('SIP/')
    ? parseStatusLine(startLine, headers)
    : parseRequestLine(startLine, headers);

  // Mandatory headers (RFC 3261 §8.1.1); Max-Forwards may be absent.
  const viaLines = summary.via;
  if (viaLines.length === 0) throw new SipParseError('Missing Via header');
  const fromText = summary.from;
  if (fromText === undefined) throw new SipParseError('Missing From header');
  const toText = summary.to;
  if (toText === undefined) throw new SipParseError('Missing To header');
  const callId = summary.callId;
  if (callId === undefined) throw new SipParseError('Missing Call-ID header');
  const cseqText = summary.cseq;
  if (cseqText === undefined) throw new SipParseError('Missing CSeq header');
  if (summary.duplicate) throw new SipParseError(`Multiple ${summary.duplicate} headers`);
  let via: Via[];
  let from: NameAddr;
  let to: NameAddr;
  let contacts: NameAddr[] | '*' | undefined;
  try {
    via = viaLines.length === 1 ? parseVia(viaLines[0]!) : viaLines.flatMap((l) => parseVia(l));
  } catch (err) {
    throw headerError('Via', err);
  }
  try {
    from = parseNameAddr(fromText);
  } catch (err) {
    throw headerError('From', err);
  }
  try {
    to = parseNameAddr(toText);
  } catch (err) {
    throw headerError('To', err);
  }
  if (!/^[\x21-\x7e\x80-\u{10ffff}]+$/u.test(callId)) throw new SipParseError('Invalid Call-ID header');
  const cseq = parseCSeq(cseqText);
  if (msg instanceof SipRequest && cseq.method !== msg.method) {
    throw new SipParseError('CSeq method does not match request method');
  }
  if (summary.maxForwards !== undefined) parseMaxForwards(summary.maxForwards);
  // Contact feeds dialogs and registrations, so a malformed one is refused here rather than later.
  const contactLines = summary.contact;
  if (contactLines.length > 0) {
    try {
      contacts = parseContactLines(contactLines);
    } catch (err) {
      throw headerError('Contact', err);
    }
  }

  // Body: Content-Length framing; on a datagram a missing Content-Length means "the rest".
  const available = data.length - bodyStart;
  const cl = summary.contentLength;
  let bodyLength = available;
  if (cl !== undefined) {
    if (!/^\d{1,10}$/.test(cl)) throw new SipParseError('Invalid Content-Length header');
    bodyLength = Number(cl);
    if (bodyLength > available) throw new SipParseError('Content-Length mismatch');
  }
  // §18.3: bytes past Content-Length on a datagram are discarded. The slice shares memory.
  msg.body = data.subarray(bodyStart, bodyStart + bodyLength);
  msg.primeCache({ via, from, to, cseq, contacts }, encoding);
  return msg;
}

function parseContactLines(lines: string[]): NameAddr[] | '*' {
  if (lines.length === 1) return parseContactList(lines[0]!);
  const out: NameAddr[] = [];
  for (const line of lines) {
    const c = parseContactList(line);
    if (c === '*') throw new SipParseError('Invalid Contact header');
    out.push(...c);
  }
  return out;
}


/** Splits the header section into lines, joins folded continuation lines (RFC 3261 §7.3.1). */
function parseHeaderLines(head: string, pos: number, headers: SipHeaders, summary: HeaderSummary): void {
  const n = head.length;
  while (pos < n) {
    const lineStart = pos;
    const first = head.charCodeAt(pos);
    if (first === 0x20 || first === 0x09) throw new SipParseError('Continuation line without header');
    // find the end of this header including continuation lines
    let nl = head.indexOf('\n', pos);
    let folded = false;
    for (;;) {
      if (nl < 0) { nl = n; break; }
      const next = head.charCodeAt(nl + 1);
      if (next === 0x20 || next === 0x09) {
        folded = true;
        nl = head.indexOf('\n', nl + 1);
        continue;
      }
      break;
    }
    const lineEnd = nl < n && head.charCodeAt(nl - 1) === 0x0d ? nl - 1 : nl;
    const raw = head.slice(lineStart, lineEnd);
    pos = nl + 1;
    const colon = raw.indexOf(':');
    if (colon <= 0) throw new SipParseError('Malformed header line');
    let nameEnd = colon;
    while (nameEnd > 0 && (raw.charCodeAt(nameEnd - 1) === 0x20 || raw.charCodeAt(nameEnd - 1) === 0x09)) nameEnd--;
    const name = raw.slice(0, nameEnd);
    if (!TOKEN.test(name)) throw new SipParseError('Malformed header name');
    let value = raw.slice(colon + 1);
    if (folded) {
      value = value.replace(/\r?\n[ \t]+/g, ' ');
      if (value.indexOf('\n') >= 0) throw new SipParseError('Malformed header line');
    }
    if (value.indexOf('\r') >= 0) throw new SipParseError('Malformed header line');
    value = trimLws(value);
    const key = headerKey(name);
    headers.appendParsed(name, key, value, raw);
    switch (key) {
      case 'via': summary.via.push(value); break;
      case 'contact': summary.contact.push(value); break;
      case 'from': if (summary.from === undefined) summary.from = value; else summary.duplicate ??= 'From'; break;
      case 'to': if (summary.to === undefined) summary.to = value; else summary.duplicate ??= 'To'; break;
      case 'call-id': if (summary.callId === undefined) summary.callId = value; else summary.duplicate ??= 'Call-ID'; break;
      case 'cseq': if (summary.cseq === undefined) summary.cseq = value; else summary.duplicate ??= 'CSeq'; break;
      case 'max-forwards':
        if (summary.maxForwards === undefined) summary.maxForwards = value; else summary.duplicate ??= 'Max-Forwards';
        break;
      case 'content-length':
        if (summary.contentLength === undefined) summary.contentLength = value; else summary.duplicate ??= 'Content-Length';
        break;
    }
  }
}

function parseRequestLine(line: string, headers: SipHeaders): SipRequest {
  // Request-Line = Method SP Request-URI SP SIP-Version (exactly one SP each, RFC 3261 §7.1)
  const sp1 = line.indexOf(' ');
  const sp2 = line.lastIndexOf(' ');
  if (sp1 <= 0 || sp2 <= sp1 + 1) throw new SipParseError('Invalid request line');
  const method = line.slice(0, sp1);
  const uriText = line.slice(sp1 + 1, sp2);
  const version = line.slice(sp2 + 1);
  if (!TOKEN.test(method)) throw new SipParseError('Invalid method');
  checkVersion(version);
  if (/[ \t]/.test(uriText)) throw new SipParseError('Invalid Request-URI');
  let uri;
  try {
    uri = parseUri(uriText);
  } catch (err) {
    if (err instanceof SipParseError && err.status !== 400) throw err;
    throw new SipParseError('Invalid Request-URI');
  }
  // RFC 3261 §19.1.5: URI headers are not allowed in a Request-URI (RFC 4475 escruri).
  for (const _ in uri.headers) throw new SipParseError('Headers not allowed in Request-URI');
  return new SipRequest({ method, uri, headers });
}

function checkVersion(version: string): void {
  if (version.length === 7 && version.toUpperCase() === 'SIP/2.0') return;
  if (/^SIP\/\d+\.\d+$/i.test(version)) throw new SipParseError('Version Not Supported', 505);
  throw new SipParseError('Invalid SIP version');
}

function parseStatusLine(line: string, headers: SipHeaders): SipResponse {
  // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (RFC 3261 §7.2)
  const sp1 = line.indexOf(' ');
  if (sp1 < 0) throw new SipParseError('Invalid status line');
  checkVersion(line.slice(0, sp1));
  let sp2 = line.indexOf(' ', sp1 + 1);
  if (sp2 < 0) sp2 = line.length;
  const code = line.slice(sp1 + 1, sp2);
  if (!/^[1-6]\d\d$/.test(code)) throw new SipParseError('Invalid status code');
  const reason = line.slice(sp2 + 1);
  return new SipResponse({ status: Number(code), reason, headers });
}
