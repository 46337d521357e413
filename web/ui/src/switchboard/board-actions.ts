import { callControl } from '../api/index.ts';
import { CallPhase, customerParty, otherParty, phaseOf, type BoardCall } from './board-state.ts';

/** An extension of the tenant as the control API takes it (a sip: URI or number is not one). */
const EXTENSION = /^[A-Za-z0-9._+-]{1,64}$/;

export class BoardActionError extends Error {}

function needMine(mine: string | null): string {
  if (!mine) throw new BoardActionError('Choose “My extension” first: that phone is rung to take the call.');
  return mine;
}

/**
 * What each switchboard action asks of the call-control API. Nothing here changes what the page
 * shows: the switch's events do that once the change has happened.
 */
export const boardActions = {
  answer(call: BoardCall, mine: string | null) {
    if (phaseOf(call) !== CallPhase.Ringing && phaseOf(call) !== CallPhase.Dialing) throw new BoardActionError('Only a ringing call can be answered.');
    return callControl.pickup({ callId: call.id }, needMine(mine));
  },
  /** A ringing call is answered at the destination (pickup); an answered one is blind-transferred. */
  transfer(call: BoardCall, destination: string, mine: string | null) {
    const dest = destination.trim();
    if (!dest) throw new BoardActionError('Give an extension or a number to transfer to.');
    const phase = phaseOf(call);
    if (phase === CallPhase.Parked && call.parkedIn) return callControl.retrieve(call.parkedIn, dest);
    if ((phase === CallPhase.Ringing || phase === CallPhase.Dialing) && EXTENSION.test(dest)) return callControl.pickup({ callId: call.id }, dest);
    return callControl.transfer(call.id, customerParty(call, mine), dest);
  },
  consult(call: BoardCall, destination: string, mine: string | null) {
    const dest = destination.trim();
    if (!EXTENSION.test(dest)) throw new BoardActionError('An attended transfer consults an extension of the company.');
    return callControl.consult(call.id, otherParty(customerParty(call, mine)), dest);
  },
  completeConsult(call: BoardCall) {
    if (!call.consult) throw new BoardActionError('No attended transfer is under way on this call.');
    return callControl.completeConsult(call.id);
  },
  cancelConsult(call: BoardCall) {
    if (!call.consult) throw new BoardActionError('No attended transfer is under way on this call.');
    return callControl.cancelConsult(call.id);
  },
  toggleHold(call: BoardCall, mine: string | null) {
    return call.held ? callControl.unhold(call.id) : callControl.hold(call.id, customerParty(call, mine));
  },
  park(call: BoardCall, mine: string | null, slot?: string) {
    return callControl.park(call.id, customerParty(call, mine), slot);
  },
  retrieve(slot: string, destination: string | null) {
    return callControl.retrieve(slot, needMine(destination));
  },
  pickupExtension(extension: string, mine: string | null) {
    const ext = extension.trim();
    if (!EXTENSION.test(ext)) throw new BoardActionError('Give the extension that rings.');
    return callControl.pickup({ extension: ext }, needMine(mine));
  },
  hangup(call: BoardCall) {
    return callControl.hangup(call.id);
  },
};
