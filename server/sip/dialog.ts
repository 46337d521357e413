import { SipHeaders } from './headers.ts';
import { newCallId, newTag, SipRequest, type Endpoint, type SipResponse } from './message.ts';
import { formatNameAddr, parseNameAddr, type NameAddr } from './name-addr.ts';
import { cloneUri } from './message.ts';
import type { SipUri } from './uri.ts';

/**
 * RFC 3261 §12 dialog state of one side of a B2BUA leg. `flow` is where in-dialog requests are
 * really sent: for a phone behind NAT that is the packet source of its requests/responses, not the
 * (private) Contact — the Request-URI still carries the remote target as the RFC requires.
 */
export interface DialogId { callId: string; localTag: string; remoteTag: string }

export type DialogRole = 'uas' | 'uac';

export interface InDialogRequestOptions {
  body?: Buffer;
  contentType?: string;
  /** Extra headers appended in order (name, value). */
  headers?: Array<[string, string]>;
}

export class Dialog {
  readonly role: DialogRole;
  readonly callId: string;
  readonly localTag: string;
  remoteTag: string;
  /** Next CSeq we use is localSeq + 1 (§12.2.1.1). */
  localSeq: number;
  /** Highest CSeq seen from the peer; undefined until its first request (§12.2.2). */
  remoteSeq: number | undefined;
  /** From/To values (with tags) as they appear in requests we send. */
  readonly localParty: NameAddr;
  readonly remoteParty: NameAddr;
  remoteTarget: SipUri;
  /** Route set in the order to put into Route headers (§12.1.1 / §12.1.2). */
  readonly routeSet: string[];
  flow: Endpoint;
  /** Our Contact for this dialog. */
  readonly localContact: string;
  terminated = false;

  private constructor(init: {
    role: DialogRole; callId: string; localTag: string; remoteTag: string; localSeq: number; remoteSeq: number | undefined;
    localParty: NameAddr; remoteParty: NameAddr; remoteTarget: SipUri; routeSet: string[]; flow: Endpoint; localContact: string;
  }) {
    this.role = init.role;
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.remoteTag = init.remoteTag;
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.localParty = init.localParty;
    this.remoteParty = init.remoteParty;
    this.remoteTarget = init.remoteTarget;
    this.routeSet = init.routeSet;
    this.flow = init.flow;
    this.localContact = init.localContact;
  }

  /** §12.1.1: the UAS side, created when we answer `req` (INVITE) with a To tag `localTag`. */
  static asUas(req: SipRequest, opts: { localTag: string; localContact: string; flow?: Endpoint }): Dialog {
    const contact = firstContact(req);
    const flow = opts.flow ?? req.source;
    if (!flow) throw new Error('UAS dialog needs the request source');
    return new Dialog({
      role: 'uas',
      callId: req.callId,
      localTag: opts.localTag,
      remoteTag: req.from.params['tag'] ?? '',
      localSeq: 0,
      remoteSeq: req.cseq.seq,
      localParty: withTag(req.to, opts.localTag),
      remoteParty: req.from,
      remoteTarget: contact ?? cloneUri(req.from.uri),
      routeSet: req.headers.getAll('Record-Route'),
      flow,
      localContact: opts.localContact,
    });
  }

  /** §12.1.2: the UAC side, from the INVITE we sent and its 2xx (or 1xx with a To tag). */
  static asUac(invite: SipRequest, res: SipResponse, opts: { flow: Endpoint; localContact: string }): Dialog {
    const contact = firstContactOfResponse(res);
    return new Dialog({
      role: 'uac',
      callId: invite.callId,
      localTag: invite.from.params['tag'] ?? '',
      remoteTag: res.to.params['tag'] ?? '',
      localSeq: invite.cseq.seq,
      remoteSeq: undefined,
      localParty: invite.from,
      remoteParty: res.to,
      remoteTarget: contact ?? cloneUri(invite.uri),
      routeSet: res.headers.getAll('Record-Route').reverse(),
      flow: opts.flow,
      localContact: opts.localContact,
    });
  }

  /** A new initial INVITE for a UAC leg: fresh Call-ID and From tag, CSeq 1 (§8.1.1). */
  static newInvite(opts: {
    requestUri: SipUri; from: NameAddr; to: NameAddr; localContact: string; callIdHost: string;
    body?: Buffer; contentType?: string; headers?: Array<[string, string]>; maxForwards?: number;
  }): SipRequest {
    const h = new SipHeaders();
    h.append('From', formatNameAddr(withTag(opts.from, newTag())));
    h.append('To', formatNameAddr({ ...opts.to, params: Object.fromEntries(Object.entries(opts.to.params).filter(([k]) => k !== 'tag')) }));
    h.append('Call-ID', newCallId(opts.callIdHost));
    h.append('CSeq', '1 INVITE');
    h.append('Contact', opts.localContact);
    h.append('Max-Forwards', String(opts.maxForwards ?? 70));
    for (const [k, v] of opts.headers ?? []) h.append(k, v);
    if (opts.body && opts.body.length) h.append('Content-Type', opts.contentType ?? 'application/sdp');
    return new SipRequest({ method: 'INVITE', uri: cloneUri(opts.requestUri), headers: h, body: opts.body ?? Buffer.alloc(0) });
  }

  get id(): DialogId {
    return { callId: this.callId, localTag: this.localTag, remoteTag: this.remoteTag };
  }

  /** §12.2.1.1: a request inside the dialog; the CSeq goes up by one (except ACK/CANCEL). */
  createRequest(method: string, opts: InDialogRequestOptions = {}): SipRequest {
    const seq = method === 'ACK' || method === 'CANCEL' ? this.localSeq : ++this.localSeq;
    return this.buildRequest(method, seq, opts);
  }

  /** §13.2.2.4: ACK for a 2xx carries the CSeq number of the INVITE it acknowledges. */
  createAck(inviteSeq: number, opts: InDialogRequestOptions = {}): SipRequest {
    return this.buildRequest('ACK', inviteSeq, opts);
  }

  /** True when `req` is a request of this dialog: Call-ID, our tag in To, the peer's in From. */
  matches(req: SipRequest): boolean {
    return req.callId === this.callId && req.to.params['tag'] === this.localTag && (req.from.params['tag'] ?? '') === this.remoteTag;
  }

  /**
   * §12.2.2: a request with a CSeq lower than (or equal to, for a new transaction) the last one
   * is out of order → 500. ACK and CANCEL reuse their INVITE's number and are not checked.
   */
  acceptRemoteCSeq(req: SipRequest): boolean {
    if (req.method === 'ACK' || req.method === 'CANCEL') return true;
    const seq = req.cseq.seq;
    if (this.remoteSeq !== undefined && seq <= this.remoteSeq) return false;
    this.remoteSeq = seq;
    return true;
  }

  /** Target refresh (§12.2): a re-INVITE/UPDATE or its 2xx may carry a new Contact. */
  refreshTarget(msg: SipRequest | SipResponse): void {
    const c = msg instanceof SipRequest ? firstContact(msg) : firstContactOfResponse(msg);
    if (c) this.remoteTarget = c;
  }

  private buildRequest(method: string, seq: number, opts: InDialogRequestOptions): SipRequest {
    const h = new SipHeaders();
    let uri = cloneUri(this.remoteTarget);
    const routes = [...this.routeSet];
    if (routes.length > 0) {
      const first = safeNameAddr(routes[0]!);
      if (first && !('lr' in first.uri.params)) {
        // §12.2.1.1 strict router: its URI becomes the Request-URI, the remote target the last Route.
        uri = cloneUri(first.uri);
        routes.shift();
        routes.push(`<${formatUriText(this.remoteTarget)}>`);
      }
    }
    for (const r of routes) h.append('Route', r);
    h.append('From', formatNameAddr(this.localParty));
    h.append('To', formatNameAddr(this.remoteParty));
    h.append('Call-ID', this.callId);
    h.append('CSeq', `${seq} ${method}`);
    h.append('Max-Forwards', '70');
    if (method !== 'BYE' && method !== 'CANCEL' && method !== 'ACK' && method !== 'INFO') h.append('Contact', this.localContact);
    for (const [k, v] of opts.headers ?? []) h.append(k, v);
    const body = opts.body ?? Buffer.alloc(0);
    if (body.length && opts.contentType) h.append('Content-Type', opts.contentType);
    return new SipRequest({ method, uri, headers: h, body });
  }
}

function withTag(na: NameAddr, tag: string): NameAddr {
  return { ...na, params: { ...na.params, tag } };
}

function safeNameAddr(text: string): NameAddr | undefined {
  try {
    return parseNameAddr(text);
  } catch {
    return undefined;
  }
}

function formatUriText(uri: SipUri): string {
  return formatNameAddr({ uri, params: {} }).replace(/^<|>$/g, '');
}

function firstContact(msg: SipRequest | SipResponse): SipUri | undefined {
  try {
    const c = msg.contacts;
    return c === '*' || c.length === 0 ? undefined : cloneUri(c[0]!.uri);
  } catch {
    return undefined;
  }
}

function firstContactOfResponse(res: SipResponse): SipUri | undefined {
  return firstContact(res);
}

/** Dialog id seen from our side of an incoming request: To tag is ours. */
export function dialogKeyOfRequest(req: SipRequest): string {
  return `${req.callId}|${req.to.params['tag'] ?? ''}|${req.from.params['tag'] ?? ''}`;
}

export function dialogKey(d: DialogId): string {
  return `${d.callId}|${d.localTag}|${d.remoteTag}`;
}
