import { describe, expect, it } from 'vitest';
import { createResponse, type SipRequest, type SipResponse } from '../../sip/index.ts';
import { flush, memoryStack, parsed, requestText } from '../../sip/transactions/test-helpers.ts';
import type { UasLeg } from '../legs/index.ts';
import { answeredUasLeg } from '../legs/uas-leg-test-support.ts';
import { Bridge, type BridgeSide } from './bridge.ts';

/** The Bridge as the owner of its two legs: what their dialogs' requests become, across a replace. */

const A = { transport: 'udp' as const, address: '10.0.0.9', port: 40000 };
const B = { transport: 'udp' as const, address: '10.0.0.8', port: 40002 };
const C = { transport: 'udp' as const, address: '10.0.0.7', port: 40004 };

function legWith(env: Awaited<ReturnType<typeof memoryStack>>, source: typeof A, callId: string): UasLeg {
  const invite = parsed(requestText({ callId, branch: `z9hG4bK${callId}` })) as SipRequest;
  invite.source = source;
  return answeredUasLeg(invite, env.stack);
}

function inDialog(method: string, callId: string, cseq: number): string {
  return requestText({ method, callId, cseq, branch: `z9hG4bK${method}${callId}${cseq}`, toTag: `our-${callId}` });
}

describe('Bridge over its legs', () => {
  it('hears a REFER of either leg as refer from its side, and follows the leg that replaced one', async () => {
    const env = await memoryStack();
    const legs: Record<string, UasLeg> = { 'a-call': legWith(env, A, 'a-call'), 'b-call': legWith(env, B, 'b-call'), 'c-call': legWith(env, C, 'c-call') };
    const refers: BridgeSide[] = [];
    const bridge = new Bridge({
      stack: env.stack, mangleSdp: false,
      events: { bye: () => {}, refer: (side, req, tx) => { refers.push(side); tx.respond(createResponse(req, 202)); } },
    }, legs['a-call']!, legs['b-call']!);
    env.stack.onRequest = (req, tx) => legs[req.callId]!.receive(req, tx);
    env.transport.inject(inDialog('REFER', 'b-call', 2), B);
    await flush();
    bridge.replace('b', legs['c-call']!);
    env.transport.inject(inDialog('REFER', 'b-call', 3), B);
    env.transport.inject(inDialog('REFER', 'c-call', 2), C);
    await flush();
    expect(refers).toEqual(['b', 'b']);
    const toB = env.transport.sentStartingWith('SIP/2.0').filter((d) => d.target.address === B.address).map((d) => (parsed(d.text) as SipResponse).status);
    // The replaced leg has no owner any more: its dialog is gone as far as the call is concerned.
    expect(toB.filter((s) => s >= 200)).toEqual([202, 481]);
  });
});
