import { otherSide, relayedBody, type Bridge, type BridgeParty, type BridgeSide } from '../bridge/index.ts';
import type { PartyAccount } from '../legs/index.ts';

/** A call as an attended transfer joins it: one gives a party away, the other adopts it. */
export interface JoinableCall {
  readonly id: string;
  readonly bridge: Bridge;
  /** The call ended while the join was under way. */
  readonly ended: boolean;
  /** `ma=` of the call's bridge. */
  readonly mangleSdp: boolean;
  /** Gives `side`'s party away: its dialog stops routing to this call (which then only ends the rest). */
  handOff(side: BridgeSide): { party: BridgeParty; dialogKey: string; accounts?: PartyAccount[] };
  /** `party` takes `side` of this call's bridge, its dialog routes here; the previous party is the caller's to end. */
  adopt(side: BridgeSide, party: BridgeParty, dialogKey: string, sentSdp: Buffer, accounts?: PartyAccount[]): void;
}

export type JoinResult = { ok: true } | { ok: false; status: number; reason: string };

/**
 * Attended transfer inside the B2BUA: `stay` of `call` (the transferee) and `far` of `other`
 * (the transfer target) are joined directly, no new leg is dialled. RFC 3725 flow I over the two
 * existing dialogs: an offerless re-INVITE to the transferee brings its offer, the target is
 * re-INVITEd with it, and its answer goes back in the transferee's ACK. Then the target's dialog
 * moves into `call` in place of the transferor, whose two legs the caller ends. On any failure
 * the transferee gets the session it had (the ACK carries its previous answer) and nothing moves.
 */
export async function joinFarParties(call: JoinableCall, stay: BridgeSide, other: JoinableCall, far: BridgeSide): Promise<JoinResult> {
  const previous = call.bridge.sdpSentTo(stay);
  const offer = await call.bridge.requestOffer(stay);
  if (offer.status >= 300) return { ok: false, status: offer.status, reason: offer.reason };
  if (!offer.offer) {
    offer.ack(previous);
    return { ok: false, status: 488, reason: 'No SDP offer from the transferee' };
  }
  if (call.ended || other.ended) {
    offer.ack(previous);
    return { ok: false, status: 487, reason: 'Call ended' };
  }
  const r = await other.bridge.send(far, { method: 'INVITE', body: offer.offer, contentType: 'application/sdp' });
  const answer = r.response && r.status < 300 && r.response.body.length ? relayedBody(r.response, other.mangleSdp) : undefined;
  if (!answer || call.ended || other.ended) {
    offer.ack(previous);
    return { ok: false, status: r.status >= 300 ? r.status : 488, reason: r.status >= 300 ? r.reason : 'No SDP answer from the target' };
  }
  offer.ack(answer);
  const moved = other.handOff(far);
  call.adopt(otherSide(stay), moved.party, moved.dialogKey, offer.offer, moved.accounts ?? []);
  return { ok: true };
}
