import { holdSdp, otherSide, unholdSdp, type Bridge, type BridgeSide } from '../bridge/index.ts';
import { controlSide } from './control-side.ts';
import type { ControlParty, ControlResult } from './control-types.ts';

/** A call on hold: who, and both sessions as they were before (what unhold restores). */
export interface HoldState {
  party: ControlParty;
  before: Record<BridgeSide, Buffer>;
}

/**
 * Puts `party` on hold: both parties are re-INVITEd with their current session made `sendonly`
 * (the held one first), so neither sends media and the held party hears silence — until a media
 * server plays music on hold into its session (holdSdp is where it plugs in). `nextSdpStep`
 * numbers our own re-descriptions of a side's session (its SDP version goes up each time).
 */
export async function holdParty(bridge: Bridge, party: ControlParty, nextSdpStep: (side: BridgeSide) => number):
  Promise<{ ok: true; state: HoldState } | Extract<ControlResult, { ok: false }>> {
  const first = controlSide(party);
  const before = { a: bridge.sdpSentTo('a'), b: bridge.sdpSentTo('b') };
  if (!before.a || !before.b) return { ok: false, status: 409, reason: 'The call has no session to hold' };
  const state: HoldState = { party, before: { a: before.a, b: before.b } };
  for (const side of [first, otherSide(first)]) {
    const r = await bridge.send(side, { method: 'INVITE', body: holdSdp(state.before[side], nextSdpStep(side)), contentType: 'application/sdp' });
    if (r.status >= 300) return { ok: false, status: 502, reason: `Hold re-INVITE answered ${r.status} ${r.reason}` };
  }
  return { ok: true, state };
}

/** Takes the held call off hold: both sessions as they were before the hold, with newer SDP versions. */
export async function unholdParty(bridge: Bridge, held: HoldState, nextSdpStep: (side: BridgeSide) => number): Promise<ControlResult> {
  const first = controlSide(held.party);
  for (const side of [first, otherSide(first)]) {
    const r = await bridge.send(side, { method: 'INVITE', body: unholdSdp(held.before[side], nextSdpStep(side)), contentType: 'application/sdp' });
    if (r.status >= 300) return { ok: false, status: 502, reason: `Unhold re-INVITE answered ${r.status} ${r.reason}` };
  }
  return { ok: true };
}
