import { reasonHeader } from '../../sip/index.ts';
import { holdSdp, otherSide, relayedBody, sendInDialog, type Bridge, type BridgeSide } from '../bridge/index.ts';
import type { UacBranch } from '../legs/index.ts';
import type { TransferOutcome } from '../transfer/index.ts';

/** What a consult transfer needs of the call it works on. */
export interface ConsultingCall {
  readonly bridge: Bridge;
  readonly ended: boolean;
  readonly mangleSdp: boolean;
  /** The SDP version step for our own re-descriptions of `side`'s session. */
  nextSdpStep(side: BridgeSide): number;
  /** Places the consult call to the destination (late offer, like a transfer's new party). */
  place(): Promise<TransferOutcome>;
}

/** A consult in progress: `consultant` talks to `target`, the other party waits on hold. */
export interface Consult {
  consultant: BridgeSide;
  target: UacBranch;
  legId: number;
}

export type ConsultResult<T> = { ok: true; value: T } | { ok: false; status: 409 | 502; reason: string };

/**
 * Starts a consult (switchboard attended transfer, step 1): the party on the other side of
 * `consultant` is put on hold, the destination is dialled with a late offer, and on answer the
 * consultant's session is moved to it (re-INVITE with the destination's offer, the answer in
 * the destination's ACK). On any failure the consultant and the held party are joined again.
 */
export async function startConsult(call: ConsultingCall, consultant: BridgeSide): Promise<ConsultResult<Consult>> {
  const held = otherSide(consultant);
  const bridge = call.bridge;
  const before = bridge.sdpSentTo(held);
  if (!before) return { ok: false, status: 409, reason: 'The call has no session to hold' };
  const hold = await bridge.send(held, { method: 'INVITE', body: holdSdp(before, call.nextSdpStep(held)), contentType: 'application/sdp' });
  if (hold.status >= 300) return { ok: false, status: 502, reason: `Hold re-INVITE answered ${hold.status} ${hold.reason}` };
  const outcome = await call.place();
  if (!outcome.answered || call.ended) {
    if (outcome.answered) outcome.branch.bye([reasonHeader(487, 'Call ended')]);
    if (!call.ended) await rejoin(call, consultant);
    return { ok: false, status: 502, reason: outcome.answered ? 'Call ended' : `Consult call failed: ${outcome.status} ${outcome.reason}` };
  }
  const branch = outcome.branch;
  const offer = branch.answer?.body.length ? relayedBody(branch.answer, outcome.mangleSdp) : undefined;
  const r = offer ? await bridge.send(consultant, { method: 'INVITE', body: offer, contentType: 'application/sdp' }) : undefined;
  const answer = r?.response && r.status < 300 && r.response.body.length ? relayedBody(r.response, call.mangleSdp) : undefined;
  if (!answer || call.ended) {
    branch.bye([reasonHeader(488, 'Consult failed')]);
    if (!call.ended) await rejoin(call, consultant);
    return { ok: false, status: 502, reason: 'The consultant did not take the consult call' };
  }
  branch.sendDeferredAck(answer);
  return { ok: true, value: { consultant, target: branch, legId: outcome.legId } };
}

/**
 * Completes a consult: the held party and the consult target are joined (offerless re-INVITE to
 * the held party, its offer to the target, the target's answer in the held party's ACK), the
 * target takes the consultant's side and the consultant gets BYE.
 */
export async function completeConsult(call: ConsultingCall, consult: Consult, takeSide: (side: BridgeSide, branch: UacBranch) => void): Promise<ConsultResult<void>> {
  const held = otherSide(consult.consultant);
  const bridge = call.bridge;
  const previous = bridge.sdpSentTo(held);
  const offer = await bridge.requestOffer(held);
  if (!offer.offer) {
    offer.ack(previous);
    return { ok: false, status: 502, reason: `The held party gave no offer (${offer.status} ${offer.reason})` };
  }
  const dialog = consult.target.dialog!;
  const r = await sendInDialog(bridge.stack, dialog, { method: 'INVITE', body: offer.offer, contentType: 'application/sdp' });
  const answer = r.response && r.status < 300 && r.response.body.length ? relayedBody(r.response, call.mangleSdp) : undefined;
  if (!answer || call.ended) {
    offer.ack(previous);
    return { ok: false, status: 502, reason: `The consult target refused the transfer (${r.status} ${r.reason})` };
  }
  offer.ack(answer);
  const consultant = bridge.party(consult.consultant);
  takeSide(consult.consultant, consult.target);
  bridge.replace(consult.consultant, bridge.party(consult.consultant), offer.offer);
  consultant.bye([reasonHeader(200, 'Call transferred')]);
  return { ok: true, value: undefined };
}

/** Cancels a consult: the target gets BYE, the consultant and the held party talk again. */
export async function cancelConsult(call: ConsultingCall, consult: Consult): Promise<ConsultResult<void>> {
  consult.target.bye([reasonHeader(200, 'Consult cancelled')]);
  return (await rejoin(call, consult.consultant)) ? { ok: true, value: undefined } : { ok: false, status: 502, reason: 'The parties could not be joined again' };
}

/** Joins the consultant and the held party again (3PCC over the two existing dialogs). */
async function rejoin(call: ConsultingCall, consultant: BridgeSide): Promise<boolean> {
  const held = otherSide(consultant);
  const bridge = call.bridge;
  const previous = bridge.sdpSentTo(held);
  const offer = await bridge.requestOffer(held);
  if (!offer.offer) {
    offer.ack(previous);
    return false;
  }
  const r = await bridge.send(consultant, { method: 'INVITE', body: offer.offer, contentType: 'application/sdp' });
  const answer = r.response && r.status < 300 && r.response.body.length ? relayedBody(r.response, call.mangleSdp) : undefined;
  offer.ack(answer ?? previous);
  return answer !== undefined;
}
