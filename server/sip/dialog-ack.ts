import { newBranch, type Endpoint, type SipRequest } from './message.ts';
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
