import pino from 'pino';
import { parseMessage } from '../parser.ts';
import { SipRequest, SipResponse } from '../message.ts';
import { ManualClock } from '../timer-wheel.ts';
import { SipStack, type SipStackOptions } from '../sip-stack.ts';
import { MemoryTransport } from '../transports/memory-transport.ts';
import type { TransportKind } from '../transports/transport.ts';

export const PEER = { address: '10.0.0.9', port: 40000 };

export async function memoryStack(kind: TransportKind = 'udp', extra: Partial<SipStackOptions> = {}) {
  const clock = new ManualClock();
  const transport = new MemoryTransport({ kind, address: '10.0.0.1', port: 5060 });
  const stack = new SipStack({ listen: [], transports: [transport], clock, logger: pino({ level: 'silent' }), ...extra });
  await stack.start();
  return { clock, transport, stack };
}

/** Lets promise callbacks (target resolution, sends) run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface RequestText {
  method?: string;
  branch?: string;
  viaHost?: string;
  viaTransport?: string;
  rport?: boolean;
  callId?: string;
  cseq?: number;
  cseqMethod?: string;
  toTag?: string;
}

export function requestText(o: RequestText = {}): string {
  const method = o.method ?? 'INVITE';
  const via = `SIP/2.0/${o.viaTransport ?? 'UDP'} ${o.viaHost ?? 'phone.example.com:5062'};branch=${o.branch ?? 'z9hG4bKabc1'}${o.rport ? ';rport' : ''}`;
  return (
    `${method} sip:1001@example.com SIP/2.0\r\n` +
    `Via: ${via}\r\n` +
    'Max-Forwards: 70\r\n' +
    'From: <sip:1002@example.com>;tag=fromtag1\r\n' +
    `To: <sip:1001@example.com>${o.toTag ? `;tag=${o.toTag}` : ''}\r\n` +
    `Call-ID: ${o.callId ?? 'call-1@phone'}\r\n` +
    `CSeq: ${o.cseq ?? 1} ${o.cseqMethod ?? method}\r\n` +
    'Contact: <sip:1002@10.0.0.9:5062>\r\n' +
    'Content-Length: 0\r\n\r\n'
  );
}

export function outgoingInvite(method = 'INVITE'): SipRequest {
  const msg = parseMessage(
    Buffer.from(
      `${method} sip:bob@10.0.0.2:5060 SIP/2.0\r\n` +
        'From: <sip:alice@example.com>;tag=a1\r\n' +
        'To: <sip:bob@example.com>\r\n' +
        'Call-ID: out-1@patchbay\r\n' +
        `CSeq: 7 ${method}\r\n` +
        'Via: SIP/2.0/UDP placeholder.invalid;branch=z9hG4bKplaceholder\r\n' +
        'Content-Length: 0\r\n\r\n',
    ),
  ) as SipRequest;
  // The parser insists on a Via; outgoing requests start without one so the stack adds its own.
  msg.headers.remove('Via');
  return msg;
}

/** A response to a request we sent (copies its Via/From/To/Call-ID/CSeq). */
export function responseText(sentRequest: string, status: number, toTag = 'bobtag'): string {
  const req = parseMessage(Buffer.from(sentRequest)) as SipRequest;
  const lines = [`SIP/2.0 ${status} Whatever`];
  for (const v of req.headers.getAll('Via')) lines.push(`Via: ${v}`);
  lines.push(`From: ${req.headers.get('From')}`);
  lines.push(`To: ${req.headers.get('To')}${status > 100 && !/tag=/.test(req.headers.get('To') ?? '') ? `;tag=${toTag}` : ''}`);
  lines.push(`Call-ID: ${req.callId}`);
  lines.push(`CSeq: ${req.headers.get('CSeq')}`);
  lines.push('Content-Length: 0');
  return lines.join('\r\n') + '\r\n\r\n';
}

export function parsed(text: string): SipRequest | SipResponse {
  return parseMessage(Buffer.from(text));
}
