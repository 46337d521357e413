import { Invite2xxRetransmitter } from './dialog-2xx-retransmitter.ts';
import { newBranch, type Endpoint, type SipRequest, type SipResponse } from './message.ts';
import type { SipStack } from './sip-stack.ts';
import { formatHost } from './uri.ts';

/**
 * ACK for a 2xx is its own transaction-less request (RFC 3261 §13.2.2.4): sent statelessly, so the
 * Via a client transaction would add is added here.
 */
export function sendAck(stack: SipStack, ack: SipRequest, flow: Endpoint): void {
  if (!ack.headers.has('Via')) {
    const local = stack.localAddressFor(flow.transport);
    const host = local ? `${formatHost(local.host)}:${local.port}` : '127.0.0.1';
    ack.headers.prepend('Via', `SIP/2.0/${flow.transport.toUpperCase()} ${host};branch=${newBranch()};rport`);
  }
  stack.sendStateless(ack, flow);
}

/**
 * Our 2xx to an INVITE (initial or re-INVITE) resent until its ACK arrives (§13.3.1.4), straight
 * to `flow`: the server transaction is gone once a 2xx is sent (§17.2.1).
 */
export function retransmit2xxUntilAck(stack: SipStack, res: SipResponse, flow: Endpoint, onGiveUp: () => void): Invite2xxRetransmitter {
  const r = new Invite2xxRetransmitter(res, {
    wheel: stack.wheel, T1: stack.timers.T1, T2: stack.timers.T2,
    send: (msg) => {
      msg.source = flow;
      stack.sendResponseStateless(msg);
    },
    onGiveUp,
  });
  r.start();
  return r;
}
