import pino from 'pino';
import type { ServerTransaction, SipRequest, SipResponse, SipStack } from '../../sip/index.ts';
import { UasLeg } from './uas-leg.ts';

/** A UAS leg for `invite` over a fake server transaction that keeps what the leg answered. */
export function uasLegFor(invite: SipRequest, stack: SipStack): { leg: UasLeg; answered: SipResponse[] } {
  const answered: SipResponse[] = [];
  const tx: ServerTransaction = { request: invite, state: 'proceeding', respond: (res) => { answered.push(res); } };
  const leg = new UasLeg({
    request: invite, tx, stack, log: pino({ level: 'silent' }), localContactFor: () => '<sip:patchbay@10.0.0.1:5060>',
  });
  return { leg, answered };
}

/** A UAS leg that answered `invite` 200 (with `sdp`): a bridge party for tests of what comes after. */
export function answeredUasLeg(invite: SipRequest, stack: SipStack, sdp?: Buffer): UasLeg {
  const { leg } = uasLegFor(invite, stack);
  leg.answer(sdp, () => {});
  return leg;
}
