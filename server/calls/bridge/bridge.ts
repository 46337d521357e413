import {
  createResponse, ReinviteGuard, reinviteRefusalResponse, retransmit2xxUntilAck,
  type Dialog, type Invite2xxRetransmitter, type ReinviteTurn, type ServerTransaction, type SipRequest, type SipResponse, type SipStack,
} from '../../sip/index.ts';
import type { DialogLeg, LegOwner } from '../legs/index.ts';
import { ReinviteAck } from './reinvite-ack.ts';
import { relayedBody } from './relayed-body.ts';

export type BridgeSide = 'a' | 'b';

export function otherSide(side: BridgeSide): BridgeSide {
  return side === 'a' ? 'b' : 'a';
}

/** One party of a bridge: a leg whose dialog's requests the bridge hears as its owner. */
export type BridgeParty = DialogLeg;

/** What the bridge leaves to the call that owns it. */
export interface BridgeEvents {
  /** A BYE from `side` was answered 200: the call is over. */
  bye(side: BridgeSide): void;
  /** A REFER from `side`: the owner applies the leg's transfer policy and answers `tx`. */
  refer(side: BridgeSide, req: SipRequest, tx: ServerTransaction): void;
  /**
   * `side`'s phone changed its session through us: a relayed re-INVITE or UPDATE of its with an
   * SDP offer was answered 2xx, or (an offerless re-INVITE of its) its ACK answered the other
   * party's offer. `sdp` is what the phone asked for: a phone putting the call on hold says
   * `sendonly`/`inactive`, in its offer or, when it asked for an offer, in its answer.
   */
  sessionChanged?(side: BridgeSide, sdp: Buffer): void;
}

export interface BridgeOptions {
  stack: SipStack;
  /** `ma=` of the answered leg: rewrite private addresses in relayed SDP. */
  mangleSdp: boolean;
  events: BridgeEvents;
}

/** A request of ours into one party's dialog (NOTIFY, REFER, a re-INVITE of a transfer). */
export interface BridgeRequest {
  method: string;
  body?: Buffer;
  contentType?: string;
  headers?: Array<[string, string]>;
}

/** An offerless re-INVITE's outcome: the party's offer (2xx) and the ACK that answers it (a no-op for a failure). */
export interface OfferRequest {
  status: number;
  reason: string;
  offer?: Buffer;
  ack(answer: Buffer | undefined): void;
}

/** Our requests' outcome when no response came: timeout (408) or transport error (503). */
export type BridgeResponse = Pick<SipResponse, 'status' | 'reason'> & { response?: SipResponse };

/** Headers an in-dialog request keeps when relayed; everything else is the B2BUA's own. */
const RELAYED_HEADERS = ['Event', 'Subscription-State', 'Info-Package', 'Content-Disposition', 'Subject'];

/**
 * Two dialogs of the B2BUA joined into one conversation: in-dialog requests from one party are
 * re-issued in the other party's dialog and their final responses returned. It owns what that
 * needs: re-INVITE glare (RFC 3261 §14.2, by each dialog's ReinviteGuard), 2xx retransmission of
 * relayed re-INVITEs until the originator's ACK, the held-back ACK of delayed-offer re-INVITEs
 * (§13.2.1: the answer comes in the originator's ACK), and NAT rewriting of relayed SDP. A
 * transfer swaps one party for another.
 */
export class Bridge {
  private readonly parties: Record<BridgeSide, BridgeParty>;
  /**
   * §14.1/§14.2 per side's dialog. A relayed re-INVITE holds both: the originator's (Receiving)
   * and the other's (Sending). Kept per side across `replace`: a replaced party's unanswered
   * re-INVITE still holds its side until it settles, as its answer is still relayed.
   */
  private guards: Record<BridgeSide, ReinviteGuard> = { a: new ReinviteGuard(), b: new ReinviteGuard() };
  /** The relayed re-INVITE awaiting its final response: close() answers it 487. */
  private relayedReinvite?: { req: SipRequest; tx: ServerTransaction };
  /** 2xx to relayed re-INVITEs awaiting ACK, by side and CSeq. */
  private readonly retransmitters = new Map<string, Invite2xxRetransmitter>();
  /** ACKs toward the answering party of an offerless re-INVITE, held until the originator's ACK. */
  private readonly deferredAcks = new Map<string, { dialog: Dialog; seq: number; ack: ReinviteAck }>();
  /**
   * The session description each party last got from us (the other party's media, rewritten):
   * what a hold re-INVITE modifies and an unhold restores.
   */
  private readonly sdpTo: Record<BridgeSide, Buffer | undefined>;
  /** What the bridge listens to each side's leg with; the same across `replace`. */
  private readonly owners: Record<BridgeSide, LegOwner>;
  private closed = false;

  constructor(private readonly opts: BridgeOptions, a: BridgeParty, b: BridgeParty) {
    this.parties = { a, b };
    this.sdpTo = { a: a.sentSdp, b: b.sentSdp };
    this.owners = { a: new Bridge.SideOwner(this, 'a'), b: new Bridge.SideOwner(this, 'b') };
    a.attach(this.owners.a);
    b.attach(this.owners.b);
  }

  /** The stack the bridge's dialogs send on. */
  get stack(): SipStack {
    return this.opts.stack;
  }

  /** The SDP `side` last got from us, if any. */
  sdpSentTo(side: BridgeSide): Buffer | undefined {
    return this.sdpTo[side];
  }

  party(side: BridgeSide): BridgeParty {
    return this.parties[side];
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** A re-INVITE (relayed or ours) is in progress; a transfer waits for it to settle. */
  get busy(): boolean {
    return this.guards.a.state !== 'Idle' || this.guards.b.state !== 'Idle';
  }

  /** How the bridge hears `side`'s leg (a class: two per call, so their methods are shared, not closures per call). */
  private static readonly SideOwner = class implements LegOwner {
    constructor(private readonly bridge: Bridge, private readonly side: BridgeSide) {}

    /** Once the bridge is closed, whatever still comes in the dialog gets 481. */
    private open(req: SipRequest, tx: ServerTransaction): boolean {
      if (this.bridge.closed) tx.respond(createResponse(req, 481));
      return !this.bridge.closed;
    }

    ack(req: SipRequest): void {
      const bridge = this.bridge;
      const key = `${this.side}:${req.cseq.seq}`;
      bridge.retransmitters.get(key)?.stop();
      bridge.retransmitters.delete(key);
      bridge.releaseDeferredAck(key, req);
    }

    bye(req: SipRequest, tx: ServerTransaction): void {
      if (!this.open(req, tx)) return;
      tx.respond(createResponse(req, 200));
      this.bridge.opts.events.bye(this.side);
    }

    refer(req: SipRequest, tx: ServerTransaction): void {
      if (this.open(req, tx)) this.bridge.opts.events.refer(this.side, req, tx);
    }

    reinvite(req: SipRequest, tx: ServerTransaction): void {
      if (this.open(req, tx)) this.bridge.reinvite(req, tx, this.side);
    }

    request(req: SipRequest, tx: ServerTransaction): void {
      if (!this.open(req, tx)) return;
      const parties = this.bridge.parties;
      this.bridge.relay(req, tx, this.side, parties[this.side].dialog, parties[otherSide(this.side)].dialog);
    }
  };

  /** A re-INVITE or UPDATE from `side`, relayed into the other dialog (a re-INVITE once both dialogs' guards admit it). */
  private reinvite(req: SipRequest, tx: ServerTransaction, side: BridgeSide): void {
    const own = this.parties[side].dialog;
    const other = this.parties[otherSide(side)].dialog;
    if (req.method === 'UPDATE') {
      own.refreshTarget(req);
      this.relay(req, tx, side, own, other);
      return;
    }
    // §14.2 on `side`'s dialog: crossing ours → 491, a second of its own → 500 Retry-After.
    const admitted = this.guards[side].receive();
    if (!admitted.ok) {
      tx.respond(reinviteRefusalResponse(req, admitted.refusal));
      return;
    }
    // §14.1 on the other dialog: ours there is still pending, so this one cannot be relayed yet.
    const relayed = this.guards[otherSide(side)].send();
    if (!relayed) {
      admitted.turn.end();
      tx.respond(reinviteRefusalResponse(req, this.guards[side].retryLater()));
      return;
    }
    own.refreshTarget(req);
    this.relay(req, tx, side, own, other, [admitted.turn, relayed]);
  }

  /**
   * Sends a request of ours into `side`'s dialog and resolves with its final response. An INVITE
   * holds the bridge like a relayed one (crossing re-INVITEs get 491) and its 2xx is ACKed here.
   */
  send(side: BridgeSide, request: BridgeRequest): Promise<BridgeResponse> {
    let turn: ReinviteTurn | undefined;
    if (request.method === 'INVITE') {
      turn = this.guards[side].send();
      // §14.1: not while another INVITE is in progress on that dialog; answered as the peer would.
      if (!turn) return Promise.resolve({ status: 491, reason: 'Request Pending' });
    }
    if (request.body?.length && isSdp(request.contentType)) this.sdpTo[side] = request.body;
    return sendInDialog(this.opts.stack, this.parties[side].dialog, request).then((r) => {
      turn?.end();
      return r;
    });
  }

  /** `owner` hears `side`'s leg instead of the bridge until `reclaim` (a parked party talks to the switch). */
  lend(side: BridgeSide, owner: LegOwner): void {
    this.parties[side].detach(this.owners[side]);
    this.parties[side].attach(owner);
  }

  /** The bridge hears `side`'s leg again. */
  reclaim(side: BridgeSide): void {
    this.parties[side].attach(this.owners[side]);
  }

  /** `side` is now `party` (a transfer completed); the old party is the caller's to end. `sentSdp`: what it last got from us, if not `party.sentSdp`. */
  replace(side: BridgeSide, party: BridgeParty, sentSdp?: Buffer): void {
    this.parties[side].detach(this.owners[side]);
    this.parties[side] = party;
    // A party moved from another call (attended transfer) was talking, not held, once it joins here.
    party.held = false;
    party.attach(this.owners[side]);
    this.sdpTo[side] = sentSdp ?? party.sentSdp;
  }

  /**
   * An offerless re-INVITE to `side` (RFC 3725 flow I, §14.1): its 2xx carries the party's offer
   * (rewritten for NAT), and the ACK with our answer is sent by `ack` — which the caller must
   * call soon, the party retransmits its 2xx until it comes (§13.3.1.4). Holds the bridge like
   * any re-INVITE until the final response.
   */
  requestOffer(side: BridgeSide): Promise<OfferRequest> {
    const noAck = (): void => undefined;
    const turn = this.guards[side].send();
    if (!turn) return Promise.resolve({ status: 491, reason: 'Request Pending', ack: noAck });
    const dialog = this.parties[side].dialog;
    const out = dialog.createRequest('INVITE');
    const stack = this.opts.stack;
    const settle = (): void => turn.end();
    const sentAck = new ReinviteAck(stack, dialog);
    return new Promise((resolve) => {
      stack.sendRequest(out, {
        target: dialog.flow,
        handler: {
          onAccepted2xx: (res) => sentAck.resendFor(res),
          onFinal: (res) => {
            settle();
            if (res.status < 200 || res.status >= 300) {
              resolve({ status: res.status, reason: res.reason, ack: noAck });
              return;
            }
            dialog.refreshTarget(res);
            const offer = res.body.length && isSdp(res.headers.get('Content-Type')) ? relayedBody(res, this.opts.mangleSdp) : undefined;
            let acked = false;
            resolve({
              status: res.status, reason: res.reason, offer,
              ack: (answer) => {
                if (acked) return;
                acked = true;
                if (answer?.length) this.sdpTo[side] = answer;
                sentAck.send(dialog.createAck(out.cseq.seq, answer?.length ? { body: answer, contentType: 'application/sdp' } : {}));
              },
            });
          },
          onTimeout: () => { settle(); resolve({ status: 408, reason: 'Request Timeout', ack: noAck }); },
          onTransportError: () => { settle(); resolve({ status: 503, reason: 'Service Unavailable', ack: noAck }); },
        },
      });
    });
  }

  /** Ends the bridge: timers stopped, held ACKs released, a pending relayed re-INVITE answered 487 (§15.1.2). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.retransmitters.values()) r.stop();
    this.retransmitters.clear();
    for (const key of [...this.deferredAcks.keys()]) this.releaseDeferredAck(key);
    const pending = this.relayedReinvite;
    if (pending) pending.tx.respond(createResponse(pending.req, 487));
    this.relayedReinvite = undefined;
    // Whatever is still in flight ends its turns on guards nobody asks any more.
    this.guards = { a: new ReinviteGuard(), b: new ReinviteGuard() };
  }

  /** `turns`: a re-INVITE's hold on both dialogs, given back with its final response. */
  private relay(req: SipRequest, tx: ServerTransaction, side: BridgeSide, own: Dialog, other: Dialog, turns: ReinviteTurn[] = []): void {
    const mangle = this.opts.mangleSdp;
    const headers: Array<[string, string]> = [];
    for (const name of RELAYED_HEADERS) {
      const v = req.headers.get(name);
      if (v !== undefined) headers.push([name, v]);
    }
    const body = relayedBody(req, mangle);
    const contentType = req.headers.get('Content-Type');
    if (body.length && isSdp(contentType)) this.sdpTo[otherSide(side)] = body;
    const out = other.createRequest(req.method, { body, contentType, headers });
    const pending = req.method === 'INVITE' ? { req, tx } : undefined;
    if (pending) this.relayedReinvite = pending;
    const settle = (): boolean => {
      for (const t of turns) t.end();
      if (pending && this.relayedReinvite === pending) this.relayedReinvite = undefined;
      // The call ended meanwhile (BYE crossed the request): close() already answered it.
      return !this.closed;
    };
    const stack = this.opts.stack;
    const ack = new ReinviteAck(stack, other);
    stack.sendRequest(out, {
      target: other.flow,
      handler: {
        onAccepted2xx: (res) => ack.resendFor(res),
        onFinal: (res) => {
          if (out.method === 'INVITE' && res.status >= 200 && res.status < 300) {
            other.refreshTarget(res);
            if (req.body.length === 0 && !this.closed) this.deferredAcks.set(`${side}:${req.cseq.seq}`, { dialog: other, seq: out.cseq.seq, ack });
            else ack.send(other.createAck(out.cseq.seq));
          }
          if (!settle()) return;
          const resType = res.headers.get('Content-Type');
          const resBody = relayedBody(res, mangle);
          const hdrs: Record<string, string> = {};
          if (res.status < 300 && (req.method === 'INVITE' || req.method === 'UPDATE')) hdrs['Contact'] = own.localContact;
          const answer = createResponse(req, res.status, res.reason, { headers: hdrs, body: resBody });
          if (resBody.length && resType) answer.headers.set('Content-Type', resType);
          if (resBody.length && isSdp(resType)) this.sdpTo[side] = resBody;
          tx.respond(answer);
          if ((req.method === 'INVITE' || req.method === 'UPDATE') && res.status >= 200 && res.status < 300 && req.body.length && isSdp(contentType)) {
            this.opts.events.sessionChanged?.(side, req.body);
          }
          if (req.method === 'INVITE' && res.status >= 200 && res.status < 300 && req.source?.transport === 'udp') {
            const key = `${side}:${req.cseq.seq}`;
            this.retransmitters.get(key)?.stop();
            this.retransmitters.set(key, retransmit2xxUntilAck(stack, answer, req.source, () => {
              this.retransmitters.delete(key);
              // No ACK from the originator: still end the answering side's 2xx retransmissions.
              this.releaseDeferredAck(key);
            }));
          }
        },
        onTimeout: () => {
          if (settle()) tx.respond(createResponse(req, 408));
        },
        onTransportError: () => {
          if (settle()) tx.respond(createResponse(req, 503));
        },
      },
    });
  }

  /** Sends the held ACK of a delayed-offer re-INVITE, with the SDP answer of the originator's ACK if there is one. */
  private releaseDeferredAck(key: string, ack?: SipRequest): void {
    const deferred = this.deferredAcks.get(key);
    if (!deferred) return;
    this.deferredAcks.delete(key);
    const contentType = ack?.headers.get('Content-Type');
    const body = ack ? relayedBody(ack, this.opts.mangleSdp) : Buffer.alloc(0);
    const side: BridgeSide = key.startsWith('a:') ? 'a' : 'b';
    const answered = ack !== undefined && body.length > 0 && isSdp(contentType);
    if (answered) this.sdpTo[otherSide(side)] = body;
    deferred.ack.send(deferred.dialog.createAck(deferred.seq, { body, contentType }));
    // After the ACK went on: what the phone's answer means (a hold) is the owner's, the relay is done.
    if (answered && !this.closed) this.opts.events.sessionChanged?.(side, ack.body);
  }
}

/** Sends a request of ours in `dialog` and resolves with its final response; a 2xx to an INVITE is ACKed. */
export function sendInDialog(stack: SipStack, dialog: Dialog, request: BridgeRequest): Promise<BridgeResponse> {
  const out = dialog.createRequest(request.method, { body: request.body, contentType: request.contentType, headers: request.headers });
  const ack = new ReinviteAck(stack, dialog);
  return new Promise((resolve) => {
    stack.sendRequest(out, {
      target: dialog.flow,
      handler: {
        onFinal: (res) => {
          if (out.method === 'INVITE' && res.status >= 200 && res.status < 300) {
            dialog.refreshTarget(res);
            ack.send(dialog.createAck(out.cseq.seq));
          }
          resolve({ status: res.status, reason: res.reason, response: res });
        },
        onAccepted2xx: (res) => ack.resendFor(res),
        onTimeout: () => resolve({ status: 408, reason: 'Request Timeout' }),
        onTransportError: () => resolve({ status: 503, reason: 'Service Unavailable' }),
      },
    });
  });
}

function isSdp(contentType: string | undefined): boolean {
  return contentType?.toLowerCase().startsWith('application/sdp') === true;
}
