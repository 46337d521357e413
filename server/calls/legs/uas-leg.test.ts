import { describe, expect, it } from 'vitest';
import { parseMessage, type ServerTransaction, type SipRequest, type SipResponse, type SipStack } from '../../sip/index.ts';
import { memoryStack, parsed, requestText } from '../../sip/transactions/test-helpers.ts';
import { rawInvite } from '../call-test-support.ts';
import type { LegEndReason, LegOwner } from './leg-events.ts';
import { SessionState } from './session-state.ts';
import { answeredUasLeg, uasLegFor } from './uas-leg-test-support.ts';

// TCP: no 2xx retransmission timers run unless a test asks for UDP.
const PHONE = { transport: 'tcp' as const, address: '10.0.0.9', port: 5062 };

/** A caller's leg before it is answered, over a fake transaction that keeps what was answered. */
function unanswered() {
  const req = parseMessage(Buffer.from(rawInvite({ from: '1001@example.com', to: '1002@example.com', host: '192.0.2.10', port: 5060 }))) as SipRequest;
  req.source = { transport: 'tcp', address: '192.0.2.10', port: 5060 };
  const { leg, answered } = uasLegFor(req, {} as SipStack);
  return { leg, sent: answered, statuses: () => answered.map((r) => r.status) };
}

/** An answered UAS leg over a fake stack that keeps the requests it sends, with an owner that keeps what it heard. */
function setup() {
  const invite = parseMessage(Buffer.from(requestText({ callId: 'leg-1' }))) as SipRequest;
  invite.source = PHONE;
  const sent: SipRequest[] = [];
  const stack = { sendRequest: (req: SipRequest) => { sent.push(req); } } as unknown as SipStack;
  const leg = answeredUasLeg(invite, stack);
  const heard: string[] = [];
  const ends: LegEndReason[] = [];
  const owner: LegOwner = {
    ack: () => heard.push('ack'),
    refer: (req) => heard.push(`refer ${req.method}`),
    reinvite: (req) => heard.push(`reinvite ${req.method}`),
    bye: (_req, tx) => {
      heard.push('bye');
      // The owner ends the call: our BYE toward this leg must not go out, its dialog is over.
      leg.bye();
      tx.respond({} as SipResponse);
    },
    request: (req) => heard.push(`request ${req.method}`),
    terminated: (reason) => {
      heard.push('terminated');
      ends.push(reason);
    },
  };
  leg.attach(owner);
  return { leg, owner, heard, ends, sent };
}

/** A request from the phone in the leg's dialog, and the responses our side gave it. */
function inDialog(method: string, cseq: number, toTag = 'ours') {
  const req = parseMessage(Buffer.from(requestText({ method, callId: 'leg-1', cseq, toTag, branch: `z9hG4bK${method}${cseq}` }))) as SipRequest;
  req.source = PHONE;
  const responses: SipResponse[] = [];
  const tx: ServerTransaction = { request: req, state: 'trying', respond: (res) => { responses.push(res); } };
  return { req, tx, responses };
}

describe('UasLeg answering the INVITE', () => {
  it('rings once with 180, sends each early media as 183, and no 180 after early media', () => {
    const { leg, statuses } = unanswered();
    leg.alert(undefined);
    leg.alert(undefined);
    leg.alert('v=0\r\n');
    leg.alert(undefined);
    expect(statuses()).toEqual([180, 183]);
  });

  it('answers one final response only; nothing is sent after it; its dialog carries our To tag', () => {
    const { leg, sent, statuses } = unanswered();
    expect(() => leg.dialog).toThrow(/not answered/);
    const ok = leg.answer(Buffer.from('v=0\r\n'), () => {});
    expect(ok?.headers.get('Supported')).toBe('replaces');
    expect(ok?.headers.get('Contact')).toBe('<sip:patchbay@10.0.0.1:5060>');
    expect(leg.final).toBe(true);
    expect(leg.respond(486)).toBeUndefined();
    expect(leg.answer(undefined, () => {})).toBeUndefined();
    leg.alert(undefined);
    expect(statuses()).toEqual([200]);
    expect(leg.dialog.localTag).toBe(leg.toTag);
    expect(leg.sentSdp?.toString()).toBe('v=0\r\n');
    expect(sent[0]!.headers.get('To')).toContain(`tag=${leg.toTag}`);
  });

  it('refuses to send a 2xx by respond(): only answer() makes the dialog', () => {
    expect(() => unanswered().leg.respond(200)).toThrow(/answer/);
  });

  it('a CANCEL stops the legs while nothing is final yet, then answers nothing more and hides the caller\'s BLF dialog', () => {
    const { leg, statuses } = unanswered();
    leg.alert(undefined);
    expect(leg.phoneDialog('c1', '1001', false, { uri: 'sip:1002@example.com' }, 0)).toMatchObject({ state: 'early', direction: 'initiator', remoteTag: leg.toTag });
    let finalWhileStopping: boolean | undefined;
    leg.cancel(() => { finalWhileStopping = leg.final; });
    expect(finalWhileStopping).toBe(false);
    expect(leg.cancelled).toBe(true);
    expect(leg.respond(487)).toBeUndefined();
    expect(leg.phoneDialog('c1', '1001', false, { uri: 'sip:1002@example.com' }, 0)).toBeUndefined();
    expect(statuses()).toEqual([180]);
  });

  it('has no BLF dialog before it rang or was answered', () => {
    const { leg } = unanswered();
    expect(leg.phoneDialog('c1', '1001', false, { uri: 'sip:1002@example.com' }, 0)).toBeUndefined();
    expect(leg.phoneDialog('c1', '1001', true, { uri: 'sip:1002@example.com' }, 0)).toMatchObject({ state: 'confirmed', localTag: 'atag1' });
  });

  it('moves Trying → Early on its 180 → Confirmed on its 2xx → Terminated on BYE, or straight to Terminated on a failure', () => {
    const answered = unanswered().leg;
    expect(answered.state).toBe(SessionState.Trying);
    answered.alert(undefined);
    expect(answered.state).toBe(SessionState.Early);
    answered.answer(undefined, () => {});
    expect(answered.state).toBe(SessionState.Confirmed);
    const failed = unanswered().leg;
    failed.respond(486);
    expect(failed.state).toBe(SessionState.Terminated);
    const cancelled = unanswered().leg;
    cancelled.cancel(() => undefined);
    expect(cancelled.state).toBe(SessionState.Terminated);
  });

  it('resends its 2xx over UDP until the ACK of that INVITE (not of another CSeq), and gives up with onNoAck', async () => {
    const env = await memoryStack();
    const phone = { transport: 'udp' as const, address: '10.0.0.9', port: 40000 };
    const invite = parsed(requestText({ callId: 'udp-1', cseq: 1 })) as SipRequest;
    invite.source = phone;
    const okSent = () => env.transport.sentStartingWith('SIP/2.0 200').length;
    const acked = uasLegFor(invite, env.stack).leg;
    acked.answer(Buffer.from('v=0\r\n'), () => {});
    env.clock.advance(500);
    expect(okSent()).toBe(1);
    const otherAck = parsed(requestText({ method: 'ACK', callId: 'udp-1', cseq: 7, toTag: acked.toTag })) as SipRequest;
    acked.receive(otherAck, undefined);
    env.clock.advance(1000);
    expect(okSent()).toBe(2);
    const ack = parsed(requestText({ method: 'ACK', callId: 'udp-1', cseq: 1, toTag: acked.toTag })) as SipRequest;
    acked.receive(ack, undefined);
    env.clock.advance(4000);
    expect(okSent()).toBe(2);

    // A BYE that overtakes a lost ACK ends the dialog: nothing more is resent, no 408 follows.
    let byeGaveUp = 0;
    const hungUp = parsed(requestText({ callId: 'udp-3' })) as SipRequest;
    hungUp.source = phone;
    const early = uasLegFor(hungUp, env.stack).leg;
    early.attach({ ack: () => {}, refer: () => {}, reinvite: () => {}, request: () => {}, bye: (_req, tx) => tx.respond({} as SipResponse) });
    early.answer(undefined, () => { byeGaveUp++; });
    const sentBefore = okSent();
    const bye = parsed(requestText({ method: 'BYE', callId: 'udp-3', cseq: 2, toTag: early.toTag })) as SipRequest;
    early.receive(bye, { request: bye, state: 'trying', respond: () => {} });
    env.clock.advance(64 * 500 + 1000);
    expect(okSent()).toBe(sentBefore);
    expect(byeGaveUp).toBe(0);

    let gaveUp = 0;
    const unacked = parsed(requestText({ callId: 'udp-2' })) as SipRequest;
    unacked.source = phone;
    const silent = uasLegFor(unacked, env.stack).leg;
    silent.answer(undefined, () => { gaveUp++; });
    env.clock.advance(64 * 500 + 1000);
    expect(gaveUp).toBe(1);
  });
});

describe('UasLeg in its dialog', () => {
  it('reports a BYE in its dialog as bye, then terminated exactly once; no BYE of ours follows', () => {
    const { leg, heard, ends, sent } = setup();
    const bye = inDialog('BYE', 2);
    leg.receive(bye.req, bye.tx);
    leg.bye();
    expect(heard).toEqual(['bye', 'terminated']);
    expect(ends).toEqual(['bye-received']);
    expect(leg.state).toBe(SessionState.Terminated);
    expect(sent).toEqual([]);
  });

  it('ends once when we hang up: BYE sent, terminated as bye-sent, a second hangup sends nothing', () => {
    const { leg, ends, sent } = setup();
    leg.bye();
    leg.bye();
    expect(sent.map((r) => r.method)).toEqual(['BYE']);
    expect(ends).toEqual(['bye-sent']);
  });

  it('hands a REFER of its dialog to the owner as refer, re-INVITE and UPDATE as reinvite, INFO as request', () => {
    const { leg, heard } = setup();
    for (const [method, seq] of [['REFER', 2], ['INVITE', 3], ['UPDATE', 4], ['INFO', 5]] as const) {
      const r = inDialog(method, seq);
      leg.receive(r.req, r.tx);
    }
    expect(heard).toEqual(['refer REFER', 'reinvite INVITE', 'reinvite UPDATE', 'request INFO']);
  });

  it('answers itself what no owner should see: an old CSeq 500, an unknown method 405, anything once its owner left 481', () => {
    const { leg, owner, heard } = setup();
    const first = inDialog('INFO', 5);
    leg.receive(first.req, first.tx);
    const old = inDialog('INFO', 4);
    leg.receive(old.req, old.tx);
    const unknown = inDialog('PUBLISH', 6);
    leg.receive(unknown.req, unknown.tx);
    leg.detach(owner);
    const orphan = inDialog('REFER', 7);
    leg.receive(orphan.req, orphan.tx);
    expect(heard).toEqual(['request INFO']);
    expect([old, unknown, orphan].map((r) => r.responses.map((res) => res.status))).toEqual([[500], [405], [481]]);
  });
});
