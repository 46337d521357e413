import { reasonHeader } from '../../sip/index.ts';
import type { DialplanRequest } from '../../../sandbox/index.ts';
import { otherSide, rejectAllMedia, relayedBody, type Bridge, type BridgeSide } from '../bridge/index.ts';
import type { StoredDialplan } from '../call-service-deps.ts';
import { parseDialString, type DialPlan } from '../dial/index.ts';
import type { UacBranch } from '../legs/index.ts';
import type { ReferTarget } from './refer-to.ts';
import { TransferDialplanRun, type TransferHost, type TransferOutcome } from './transfer-dialplan-run.ts';

/** What a blind transfer needs of the call it changes. */
export interface TransferringCall {
  readonly bridge: Bridge;
  /** The call ended while the transfer was under way. */
  readonly ended: boolean;
  /** `ma=` of the call's bridge, for the staying party's answer to the new party. */
  readonly mangleSdp: boolean;
  dialplanHost(ringing: () => void): TransferHost;
  /** The new party takes `side` of the bridge (dialog routing follows it). */
  takeSide(side: BridgeSide, branch: UacBranch): void;
}

export interface BlindTransferRequest {
  /** The side that leaves the call (the referrer); the other side stays. */
  leave: BridgeSide;
  /** Places the new call: the tenant's transfer dialplan (transferByDialplan), or a direct dial (park retrieve and recall). */
  place(host: TransferHost): Promise<TransferOutcome>;
  /** Progress for whoever asked (sipfrag NOTIFYs for a REFER): 180 once, then 200 before the leaver's BYE. */
  progress(status: number, reason: string): void;
}

export type BlindTransferResult = { ok: true; newLegId: number } | { ok: false; status: number; reason: string };

/**
 * The tenant's transfer dialplan places the new call with a late offer; on answer the staying
 * party is re-INVITEd with the new party's offer, the new party gets the answer in its ACK and
 * takes the leaving side of the bridge, and the leaving party gets BYE. Anything short of that
 * leaves the bridge as it was (a new party that answered is released with an ACK refusing media
 * and a BYE).
 */
export async function blindTransfer(call: TransferringCall, t: BlindTransferRequest): Promise<BlindTransferResult> {
  const stay = otherSide(t.leave);
  let rang = false;
  const host = call.dialplanHost(() => {
    if (!rang) t.progress(180, 'Ringing');
    rang = true;
  });
  const outcome = await t.place(host);
  if (call.ended) {
    if (outcome.answered) outcome.branch.bye([reasonHeader(487, 'Transferred call gone')]);
    return { ok: false, status: 487, reason: 'Call ended' };
  }
  if (!outcome.answered) return { ok: false, status: outcome.status, reason: outcome.reason };
  const branch = outcome.branch;
  const offer = branch.answer?.body.length ? branch.answer : undefined;
  if (!offer) {
    branch.bye([reasonHeader(488, 'No SDP offer in 2xx')]);
    return { ok: false, status: 488, reason: 'Not Acceptable Here' };
  }
  const offerSdp = relayedBody(offer, outcome.mangleSdp);
  const r = await call.bridge.send(stay, { method: 'INVITE', body: offerSdp, contentType: 'application/sdp' });
  const answer = r.response && r.status < 300 && r.response.body.length ? r.response : undefined;
  if (call.ended || !answer) {
    branch.sendDeferredAck(Buffer.from(rejectAllMedia(offerSdp.toString('utf8')), 'utf8'));
    const status = r.status >= 300 ? r.status : 488;
    branch.bye([reasonHeader(status, 'Transfer failed')]);
    return { ok: false, status, reason: r.status >= 300 ? r.reason : 'No SDP answer' };
  }
  branch.sendDeferredAck(relayedBody(answer, call.mangleSdp));
  const leaving = call.bridge.party(t.leave);
  call.takeSide(t.leave, branch);
  t.progress(200, 'OK');
  leaving.bye([reasonHeader(200, 'Call transferred')]);
  return { ok: true, newLegId: outcome.legId };
}

/** The new call of a blind transfer placed by the tenant's `transfer` dialplan (REFER, REST transfer). */
export function transferByDialplan(stored: StoredDialplan, target: ReferTarget, req: DialplanRequest): (host: TransferHost) => Promise<TransferOutcome> {
  return (host) => new TransferDialplanRun(host, target).run(stored, req);
}

/**
 * The new call placed straight from a dial string the switch itself chose (a park retrieve to an
 * extension, a recall to the parker), late offer like a transfer dialplan's Dial, no script.
 */
export function transferByDial(dialString: string, ringTimeout = 30): (host: TransferHost) => Promise<TransferOutcome> {
  return async (host) => {
    let plan: DialPlan;
    try {
      plan = parseDialString(dialString, { dst: '', fromName: '', fromUriUser: host.account.username });
    } catch (err) {
      return { answered: false, status: 400, reason: (err as Error).message };
    }
    const { result, legOffset } = await host.forkLegs(plan, dialString, { ringTimeout }, { settings: host.settings.copy(), headers: [], chain: [], depth: 0, lateOffer: true }, () => host.ringing());
    const branch = result.winner?.handle.winner;
    if (result.answered && result.winner && branch?.dialog) {
      return { answered: true, branch, legId: result.winner.outcome.id + legOffset, mangleSdp: result.winner.handle.leg.options.mangleSdp };
    }
    return { answered: false, status: result.status, reason: result.reason };
  };
}
