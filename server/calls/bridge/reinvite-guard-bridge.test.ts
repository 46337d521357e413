import { describe, expect, it } from 'vitest';
import type { SipRequest, SipResponse, SipStack } from '../../sip/index.ts';
import { flush, memoryStack, parsed, requestText } from '../../sip/transactions/test-helpers.ts';
import type { UasLeg } from '../legs/index.ts';
import { answeredUasLeg } from '../legs/uas-leg-test-support.ts';
import { Bridge } from './bridge.ts';

/** Bridge's re-INVITEs of our own against the per-dialog ReinviteGuard (RFC 3261 §14.1/§14.2), over the in-memory transport. */

const A = { transport: 'udp' as const, address: '10.0.0.9', port: 40000 };
const B = { transport: 'udp' as const, address: '10.0.0.8', port: 40002 };

function legWith(stack: SipStack, source: typeof A, callId: string): UasLeg {
  const invite = parsed(requestText({ callId, branch: `z9hG4bK${callId}` })) as SipRequest;
  invite.source = source;
  return answeredUasLeg(invite, stack);
}

/** A re-INVITE from the party of `callId`'s dialog. */
function reinviteFrom(callId: string, cseq: number, branch: string): string {
  return requestText({ callId, cseq, branch: `z9hG4bK${branch}`, toTag: `our-${callId}` });
}

async function bridged() {
  const env = await memoryStack();
  const legs = { a: legWith(env.stack, A, 'a-call'), b: legWith(env.stack, B, 'b-call') };
  const bridge = new Bridge({ stack: env.stack, mangleSdp: false, events: { bye: () => {}, refer: () => {} } }, legs.a, legs.b);
  // Requests arrive at the leg of their dialog, which reports them to the bridge.
  env.stack.onRequest = (req, tx) => (req.callId === 'a-call' ? legs.a : legs.b).receive(req, tx);
  const answers = (to: typeof A) => env.transport.sentStartingWith('SIP/2.0')
    .filter((d) => d.target.address === to.address).map((d) => parsed(d.text) as SipResponse).filter((r) => r.status >= 200);
  return { ...env, bridge, answers };
}

describe('Bridge and the re-INVITE guard', () => {
  it('our second re-INVITE to a party while the first is pending is answered 491 here, never sent (§14.1)', async () => {
    const { bridge, transport } = await bridged();
    void bridge.send('b', { method: 'INVITE' });
    await flush();
    expect(bridge.busy).toBe(true);
    const second = await bridge.send('b', { method: 'INVITE' });
    expect(second.status).toBe(491);
    expect(transport.sentStartingWith('INVITE')).toHaveLength(1);
  });

  it('while ours to B is pending: B’s re-INVITE is glare (491), A’s cannot be relayed into B yet (500 Retry-After)', async () => {
    const { bridge, transport, answers } = await bridged();
    void bridge.send('b', { method: 'INVITE' });
    await flush();
    transport.inject(reinviteFrom('b-call', 2, 'breinv'), B);
    transport.inject(reinviteFrom('a-call', 2, 'areinv'), A);
    await flush();
    expect(answers(B).map((r) => r.status)).toEqual([491]);
    const toA = answers(A);
    expect(toA.map((r) => r.status)).toEqual([500]);
    expect(Number(toA[0]!.headers.get('Retry-After'))).toBeGreaterThanOrEqual(0);
    expect(Number(toA[0]!.headers.get('Retry-After'))).toBeLessThanOrEqual(10);
    expect(transport.sentStartingWith('INVITE')).toHaveLength(1);
  });

  it('once our re-INVITE is answered the dialogs are free again', async () => {
    const { bridge, transport } = await bridged();
    const done = bridge.send('b', { method: 'INVITE' });
    await flush();
    const ours = parsed(transport.sentStartingWith('INVITE')[0]!.text) as SipRequest;
    const failure = `SIP/2.0 488 Not Here\r\n${ours.headers.getAll('Via').map((v) => `Via: ${v}\r\n`).join('')}From: ${ours.headers.get('From')}\r\nTo: ${ours.headers.get('To')}\r\nCall-ID: ${ours.callId}\r\nCSeq: ${ours.headers.get('CSeq')}\r\nContent-Length: 0\r\n\r\n`;
    transport.inject(failure, B);
    expect((await done).status).toBe(488);
    expect(bridge.busy).toBe(false);
    transport.inject(reinviteFrom('a-call', 2, 'areinv'), A);
    await flush();
    expect(transport.sentStartingWith('INVITE').map((d) => (parsed(d.text) as SipRequest).callId)).toEqual(['b-call', 'b-call']);
    expect(bridge.busy).toBe(true);
  });
});
