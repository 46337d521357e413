import type { BridgeRequest } from '../bridge/index.ts';

/**
 * The NOTIFY that tells a referrer how its REFER is going (RFC 3515 §2.4.4): the status line of
 * the new call as a message/sipfrag body. The implicit subscription ends with the final status.
 */
export function referNotify(status: number, reason: string): BridgeRequest {
  const final = status >= 200;
  return {
    method: 'NOTIFY',
    headers: [
      ['Event', 'refer'],
      ['Subscription-State', final ? 'terminated;reason=noresource' : 'active;expires=60'],
    ],
    contentType: 'message/sipfrag;version=2.0',
    body: Buffer.from(`SIP/2.0 ${status} ${reason.replace(/[\r\n]/g, ' ')}\r\n`, 'utf8'),
  };
}
