import { SipParseError } from './parse-error.ts';
import { SipHeaders } from './headers.ts';
import { formatUri, type SipUri } from './uri.ts';
import { parseContactList, parseNameAddr, type NameAddr } from './name-addr.ts';
import { parseVia, type Via } from './via.ts';
import { sharedRandomPool } from './random-pool.ts';

export { SipParseError } from './parse-error.ts';

export interface Endpoint {
  transport: 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';
  address: string;
  port: number;
  connectionId?: string;
  /**
   * TLS: the name the server's certificate must carry — the SIP URI's host, not the SRV target
   * or the address (RFC 5922 §7.2); also sent as SNI. Absent: the address is checked.
   */
  serverName?: string;
}

export interface CSeq {
  seq: number;
  method: string;
}

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const MAX_CSEQ = 0xffffffff;

/** CSeq = 1*DIGIT LWS Method (RFC 3261 §20.16); the number must fit 32 bits (§8.1.1.5). */
export function parseCSeq(value: string): CSeq {
  const m = /^(\d+)[ \t\r\n]+([^ \t\r\n]+)$/.exec(value.trim());
  if (!m || m[1]!.length > 10 || !TOKEN.test(m[2]!)) throw new SipParseError('Invalid CSeq header');
  const seq = Number(m[1]);
  if (seq > MAX_CSEQ) throw new SipParseError('Invalid CSeq header');
  return { seq, method: m[2]! };
}

interface ParsedCache {
  headers: SipHeaders | undefined;
  version: number;
  via?: Via[];
  from?: NameAddr;
  to?: NameAddr;
  cseq?: CSeq;
  contacts?: NameAddr[] | '*';
}

type HeaderEncoding = 'utf8' | 'latin1';

/** Shared behaviour of requests and responses: cached accessors of routing headers, serialization. */
abstract class SipMessageBase {
  headers: SipHeaders;
  body: Buffer;
  /** Set by the transport on receipt. */
  source?: Endpoint;
  /** The listener the message arrived on. */
  localEndpoint?: Endpoint;
  /** Encoding the header text was decoded with; reused on output so untouched bytes survive. */
  protected headerEncoding: HeaderEncoding = 'utf8';
  private cache: ParsedCache = { headers: undefined, version: -1 };

  constructor(headers: SipHeaders | undefined, body: Buffer | undefined) {
    this.headers = headers ?? new SipHeaders();
    this.body = body ?? Buffer.alloc(0);
  }

  private fresh(): ParsedCache {
    const c = this.cache;
    if (c.headers !== this.headers || c.version !== this.headers.version) {
      this.cache = { headers: this.headers, version: this.headers.version };
    }
    return this.cache;
  }

  private required(name: string): string {
    const v = this.headers.get(name);
    if (v === undefined) throw new SipParseError(`Missing ${name} header`);
    return v;
  }

  /** Every Via value, top first. */
  get via(): Via[] {
    const c = this.fresh();
    if (!c.via) {
      const out: Via[] = [];
      for (const line of this.headers.getLines('via')) for (const v of parseVia(line)) out.push(v);
      if (out.length === 0) throw new SipParseError('Missing Via header');
      c.via = out;
    }
    return c.via;
  }

  get topVia(): Via {
    return this.via[0]!;
  }

  get from(): NameAddr {
    const c = this.fresh();
    if (!c.from) c.from = parseNameAddrHeader(this.required('From'), 'From');
    return c.from;
  }

  get to(): NameAddr {
    const c = this.fresh();
    if (!c.to) c.to = parseNameAddrHeader(this.required('To'), 'To');
    return c.to;
  }

  get callId(): string {
    return this.required('Call-ID');
  }

  get cseq(): CSeq {
    const c = this.fresh();
    if (!c.cseq) c.cseq = parseCSeq(this.required('CSeq'));
    return c.cseq;
  }

  /** Every Contact value in order (empty if none), or '*' (REGISTER wildcard). Not in the contract; additive. */
  get contacts(): NameAddr[] | '*' {
    const c = this.fresh();
    if (!c.contacts) {
      const lines = this.headers.getLines('contact');
      if (lines.length === 1) {
        c.contacts = parseContactList(lines[0]!);
      } else {
        const out: NameAddr[] = [];
        for (const line of lines) {
          const l = parseContactList(line);
          if (l === '*') throw new SipParseError('Invalid Contact header');
          out.push(...l);
        }
        c.contacts = out;
      }
    }
    return c.contacts;
  }

  get maxForwards(): number | undefined {
    const v = this.headers.get('Max-Forwards');
    if (v === undefined) return undefined;
    return parseMaxForwards(v);
  }

  /** Used by the parser to seed the cache with the values it already validated. */
  primeCache(
    values: { via: Via[]; from: NameAddr; to: NameAddr; cseq: CSeq; contacts: NameAddr[] | '*' | undefined },
    encoding: HeaderEncoding,
  ): void {
    this.headerEncoding = encoding;
    this.cache = { headers: this.headers, version: this.headers.version, via: values.via, from: values.from, to: values.to, cseq: values.cseq };
    if (values.contacts !== undefined) this.cache.contacts = values.contacts;
  }

  protected abstract startLine(): string;

  /** Wire form; Content-Length always matches the body. */
  toBuffer(): Buffer {
    const head = this.startLine() + '\r\n' + this.headers.serializeWithContentLength(this.body.length) + '\r\n';
    let enc = this.headerEncoding;
    // A latin1 message whose headers were edited with non-Latin-1 text must go out as UTF-8.
    if (enc === 'latin1' && /[^\x00-\xff]/.test(head)) enc = 'utf8';
    const headBuf = Buffer.from(head, enc);
    return this.body.length === 0 ? headBuf : Buffer.concat([headBuf, this.body], headBuf.length + this.body.length);
  }

  toString(): string {
    return this.toBuffer().toString('utf8');
  }
}

function parseNameAddrHeader(value: string, name: string): NameAddr {
  try {
    return parseNameAddr(value);
  } catch (err) {
    if (err instanceof SipParseError && err.status !== 400) throw err;
    throw new SipParseError(`Invalid ${name} header`);
  }
}

export function parseMaxForwards(value: string): number {
  const t = value.trim();
  if (!/^\d{1,10}$/.test(t)) throw new SipParseError('Invalid Max-Forwards header');
  const n = Number(t);
  if (n > 255) throw new SipParseError('Invalid Max-Forwards header');
  return n;
}

export class SipRequest extends SipMessageBase {
  method: string;
  uri: SipUri;

  constructor(init: { method: string; uri: SipUri; headers?: SipHeaders; body?: Buffer }) {
    super(init.headers, init.body);
    this.method = init.method;
    this.uri = init.uri;
  }

  protected startLine(): string {
    return `${this.method} ${formatUri(this.uri)} SIP/2.0`;
  }

  clone(): SipRequest {
    const r = new SipRequest({ method: this.method, uri: cloneUri(this.uri), headers: this.headers.clone(), body: this.body });
    r.headerEncoding = this.headerEncoding;
    if (this.source) r.source = { ...this.source };
    if (this.localEndpoint) r.localEndpoint = { ...this.localEndpoint };
    return r;
  }
}

export class SipResponse extends SipMessageBase {
  status: number;
  reason: string;

  constructor(init: { status: number; reason?: string; headers?: SipHeaders; body?: Buffer }) {
    super(init.headers, init.body);
    this.status = init.status;
    this.reason = init.reason ?? reasonPhrase(init.status);
  }

  protected startLine(): string {
    return `SIP/2.0 ${this.status} ${this.reason}`;
  }

  clone(): SipResponse {
    const r = new SipResponse({ status: this.status, reason: this.reason, headers: this.headers.clone(), body: this.body });
    r.headerEncoding = this.headerEncoding;
    if (this.source) r.source = { ...this.source };
    if (this.localEndpoint) r.localEndpoint = { ...this.localEndpoint };
    return r;
  }
}

export type SipMessage = SipRequest | SipResponse;

export function cloneUri(uri: SipUri): SipUri {
  const c: SipUri = { ...uri, params: { ...uri.params }, headers: { ...uri.headers } };
  return c;
}

/**
 * RFC 3261 §8.2.6.2: the response copies every Via (in order), From, To, Call-ID and CSeq of the
 * request; a To tag is added when the request's To has none (§8.2.6.2, §12.1.1). For 100 Trying
 * the Timestamp is echoed (§8.2.6.1); a dialog-making response echoes Record-Route (§12.1.1).
 */
export function createResponse(
  req: SipRequest,
  status: number,
  reason?: string,
  opts?: { toTag?: string; headers?: Record<string, string>; body?: Buffer; contentType?: string },
): SipResponse {
  const h = new SipHeaders();
  h.copyLinesFrom(req.headers, 'Via');
  h.copyLinesFrom(req.headers, 'From');
  const to = req.headers.get('To');
  if (to !== undefined) {
    if (opts?.toTag && !hasToTag(req)) h.append('To', `${to};tag=${opts.toTag}`);
    else h.copyLinesFrom(req.headers, 'To');
  }
  h.copyLinesFrom(req.headers, 'Call-ID');
  h.copyLinesFrom(req.headers, 'CSeq');
  // §12.1.1: a UAS answering with a response that makes a dialog copies the Record-Route, so the
  // caller's in-dialog requests take the same proxies (a carrier in front of the switch).
  if (opts?.toTag && !hasToTag(req) && status > 100 && status < 300) h.copyLinesFrom(req.headers, 'Record-Route');
  if (status === 100) h.copyLinesFrom(req.headers, 'Timestamp');
  if (opts?.headers) for (const [k, v] of Object.entries(opts.headers)) h.append(k, v);
  const body = opts?.body ?? Buffer.alloc(0);
  if (opts?.contentType) h.set('Content-Type', opts.contentType);
  h.set('Content-Length', String(body.length));
  return new SipResponse({ status, reason: reason ?? reasonPhrase(status), headers: h, body });
}

function hasToTag(req: SipRequest): boolean {
  try {
    return req.to.params['tag'] !== undefined;
  } catch {
    return false;
  }
}

const REASONS: Record<number, string> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress',
  199: 'Early Dialog Terminated',
  200: 'OK', 202: 'Accepted', 204: 'No Notification',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Moved Temporarily', 305: 'Use Proxy',
  380: 'Alternative Service',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required',
  408: 'Request Timeout', 410: 'Gone', 412: 'Conditional Request Failed', 413: 'Request Entity Too Large',
  414: 'Request-URI Too Long', 415: 'Unsupported Media Type', 416: 'Unsupported URI Scheme',
  417: 'Unknown Resource-Priority', 420: 'Bad Extension', 421: 'Extension Required',
  422: 'Session Interval Too Small', 423: 'Interval Too Brief', 428: 'Use Identity Header',
  429: 'Provide Referrer Identity', 433: 'Anonymity Disallowed', 436: 'Bad Identity-Info',
  437: 'Unsupported Certificate', 438: 'Invalid Identity Header', 439: 'First Hop Lacks Outbound Support',
  440: 'Max-Breadth Exceeded', 469: 'Bad Info Package', 470: 'Consent Needed',
  480: 'Temporarily Unavailable', 481: 'Call/Transaction Does Not Exist', 482: 'Loop Detected',
  483: 'Too Many Hops', 484: 'Address Incomplete', 485: 'Ambiguous', 486: 'Busy Here',
  487: 'Request Terminated', 488: 'Not Acceptable Here', 489: 'Bad Event', 491: 'Request Pending',
  493: 'Undecipherable', 494: 'Security Agreement Required',
  500: 'Server Internal Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Server Time-out', 505: 'Version Not Supported', 513: 'Message Too Large',
  580: 'Precondition Failure',
  600: 'Busy Everywhere', 603: 'Decline', 604: 'Does Not Exist Anywhere', 606: 'Not Acceptable',
  607: 'Unwanted', 608: 'Rejected',
};

/** Default reason phrase (RFC 3261 §21 and later registrations); class name for unknown codes. */
export function reasonPhrase(status: number): string {
  const r = REASONS[status];
  if (r) return r;
  if (status < 200) return 'Provisional';
  if (status < 300) return 'Success';
  if (status < 400) return 'Redirection';
  if (status < 500) return 'Client Error';
  if (status < 600) return 'Server Error';
  return 'Global Failure';
}

function randomToken(bytes: number): string {
  return sharedRandomPool.token(bytes);
}

/** RFC 3261 §8.1.1.7: branch starts with the magic cookie z9hG4bK. */
export function newBranch(): string {
  return 'z9hG4bK' + randomToken(12);
}

/** RFC 3261 §19.3: at least 32 bits of randomness. */
export function newTag(): string {
  return randomToken(8);
}

export function newCallId(host: string): string {
  return `${randomToken(15)}@${host}`;
}

/** The request's Call-ID for a log line, or undefined when the header is missing or broken (the log must not throw). */
export function callIdForLog(req: SipRequest): string | undefined {
  try {
    return req.callId;
  } catch {
    return undefined;
  }
}
