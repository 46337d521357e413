import { describe, expect, it } from 'vitest';
import { Dialog, parseMessage, type ServerTransaction, type SipRequest, type SipResponse, type SipStack } from '../../sip/index.ts';
import { requestText } from '../../sip/transactions/test-helpers.ts';
import type { LegEndReason, LegOwner } from './leg-events.ts';
import { SessionState } from './session-state.ts';
import { UasLeg } from './uas-leg.ts';

const PHONE = { transport: 'udp' as const, address: '10.0.0.9', port: 5062 };

/** A UAS leg over a fake stack that keeps the requests it sends, with an owner that keeps what it heard. */
function setup() {
  const invite = parseMessage(Buffer.from(requestText({ callId: 'leg-1' }))) as SipRequest;
  invite.source = PHONE;
  const dialog = Dialog.asUas(invite, { localTag: 'ours', localContact: '<sip:patchbay@10.0.0.1:5060>', flow: PHONE });
  const sent: SipRequest[] = [];
  const stack = { sendRequest: (req: SipRequest) => { sent.push(req); } } as unknown as SipStack;
  const leg = new UasLeg(dialog, stack);
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
function inDialog(method: string, cseq: number) {
  const req = parseMessage(Buffer.from(requestText({ method, callId: 'leg-1', cseq, toTag: 'ours', branch: `z9hG4bK${method}${cseq}` }))) as SipRequest;
  req.source = PHONE;
  const responses: SipResponse[] = [];
  const tx: ServerTransaction = { request: req, state: 'trying', respond: (res) => { responses.push(res); } };
  return { req, tx, responses };
}

describe('UasLeg', () => {
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
