import type { Logger } from 'pino';
import { createResponse, dialogKey, newTag, reasonHeader, type SipRequest } from '../../sip/index.ts';
import type { ServerTransaction, SipStack } from '../../sip/index.ts';
import { otherSide, relayedBody, type Bridge, type BridgeParty, type BridgeSide } from '../bridge/index.ts';
import type { CallAccount, CallServiceEvent } from '../call-service-deps.ts';
import { UasLeg } from '../legs/index.ts';
import type { CdrHistoryItem, HangupSide } from '../records/index.ts';

/** What a takeover needs of the call whose side a phone takes (the Call implements it). */
export interface TakeoverHost {
  readonly id: string;
  readonly tenant: { id: number };
  readonly stack: SipStack;
  readonly log: Logger;
  readonly history: CdrHistoryItem[];
  emit(event: CallServiceEvent): void;
  readonly bridge: Bridge | undefined;
  readonly answered: boolean;
  readonly ended: boolean;
  readonly parked: boolean;
  readonly mangleSdp: boolean;
  /** A change of the call's parties is under way (one at a time). */
  transferring: boolean;
  localContactFor(req: SipRequest): string;
  /** `party` takes `side` of the bridge with its dialog routed here (the side's old dialog goes). */
  adopt(side: BridgeSide, party: BridgeParty, key: string, sentSdp: Buffer): void;
  /** The taking phone's account (its maxCalls slot already taken) sits on `side`; the replaced party's accounts leave. */
  seatTaker(side: BridgeSide, taker?: CallAccount): void;
  hangup(by: HangupSide, status: number, reason: string): void;
  /** The phone dialled the slot this call is parked in and now has the vacant side. */
  retrievedByPhone(by: string): void;
}

/**
 * An INVITE with Replaces (RFC 3891) from an authenticated phone of this tenant naming our
 * dialog on `side`: the phone takes that party's place. The party staying is re-INVITEd with
 * the phone's offer, the phone gets the answer in our 2xx, and the replaced party gets BYE.
 * A confirmed dialog only (an early one is a pickup); the INVITE must carry an offer. `retrieved`:
 * the same for a phone dialling the park slot (the vacant side has nobody to replace).
 */
export async function takeOver(
  host: TakeoverHost, side: BridgeSide, req: SipRequest, tx: ServerTransaction, by: string,
  kind: 'replaced' | 'retrieved' = 'replaced', taker?: CallAccount,
): Promise<boolean> {
  const reply = (status: number, reason?: string): false => {
    tx.respond(createResponse(req, status, reason, { toTag: newTag() }));
    return false;
  };
  if (kind === 'replaced' && host.parked) return reply(481);
  if (!host.bridge || !host.answered) return reply(481);
  if (host.transferring || host.bridge.busy) return reply(491);
  if (!req.body.length || !req.headers.get('Content-Type')?.toLowerCase().startsWith('application/sdp')) {
    return reply(488, 'INVITE with Replaces needs an SDP offer');
  }
  const bridge = host.bridge;
  const stay = otherSide(side);
  const mangle = host.mangleSdp;
  host.transferring = true;
  try {
    const offer = relayedBody(req, mangle);
    const r = await bridge.send(stay, { method: 'INVITE', body: offer, contentType: 'application/sdp' });
    const answer = r.response && r.status < 300 && r.response.body.length ? relayedBody(r.response, mangle) : undefined;
    if (host.ended) return reply(481);
    if (!answer) {
      // The staying party refused the new session: it keeps the one it had with the replaced party.
      const before = bridge.sdpSentTo(side);
      if (before && r.status < 300) void bridge.send(stay, { method: 'INVITE', body: before, contentType: 'application/sdp' });
      return reply(r.status >= 300 ? r.status : 488, r.status >= 300 ? r.reason : 'No SDP answer');
    }
    const leg = new UasLeg({ request: req, tx, stack: host.stack, log: host.log, localContactFor: (r) => host.localContactFor(r) });
    leg.answer(answer, () => host.hangup('system', 408, 'No ACK for the INVITE/Replaces'));
    const replaced = bridge.party(side);
    host.adopt(side, leg, dialogKey(leg.dialog.id), answer);
    host.seatTaker(side, taker);
    if (kind === 'retrieved') {
      host.retrievedByPhone(by);
      return true;
    }
    replaced.bye([reasonHeader(200, 'Call replaced')]);
    const at = Date.now();
    const party = side === 'a' ? 'caller' : 'callee';
    host.history.push({ type: 'replaced', at, party, by });
    host.log.info({ party, by }, 'party replaced (INVITE/Replaces)');
    host.emit({ type: 'call.replaced', tenantId: host.tenant.id, callId: host.id, at, party, by });
    return true;
  } finally {
    host.transferring = false;
  }
}
