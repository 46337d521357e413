import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createResponse, type SipRequest } from '../../sip/index.ts';
import { flush, memoryStack, parsed } from '../../sip/transactions/test-helpers.ts';
import type { LegEndReason } from './leg-events.ts';
import { SessionState } from './session-state.ts';
import { UacBranch } from './uac-branch.ts';

/** A UAC leg as its owner sees it once answered: its dialog's requests by kind, its end once. */

const CALLEE = { transport: 'udp' as const, address: '10.0.0.8', port: 5070 };

async function answeredBranch() {
  const env = await memoryStack();
  const forgotten: string[] = [];
  const failures: number[] = [];
  const branch = new UacBranch({
    stack: env.stack, logger: pino({ level: 'silent' }),
    localContact: () => '<sip:patchbay@10.0.0.1:5060>',
    rememberAck: () => undefined,
    forgetAck: (callId) => forgotten.push(callId),
  }, { requestUri: { scheme: 'sip', user: 'bob', host: '10.0.0.8', port: 5070, params: {}, headers: {} }, flow: CALLEE, label: 'bob' }, {
    provisional: () => undefined, answered: () => undefined, failed: (_b, f) => failures.push(f.status),
  });
  const nameAddr = (user: string) => ({ uri: { scheme: 'sip' as const, user, host: 'example.com', params: {}, headers: {} }, params: {} });
  branch.start({ from: nameAddr('alice'), to: nameAddr('bob'), headers: [] });
  await flush();
  const invite = parsed(env.transport.sentStartingWith('INVITE')[0]!.text) as SipRequest;
  const ok = createResponse(invite, 200, 'OK', { toTag: 'btag', headers: { Contact: '<sip:bob@10.0.0.8:5070>' } });
  env.transport.inject(ok.toBuffer().toString(), CALLEE);
  await flush();
  const heard: string[] = [];
  const ends: LegEndReason[] = [];
  branch.attach({
    ack: () => heard.push('ack'),
    refer: () => heard.push('refer'),
    reinvite: () => heard.push('reinvite'),
    bye: (req, tx) => { heard.push('bye'); tx.respond(createResponse(req, 200)); },
    request: () => heard.push('request'),
    terminated: (reason) => { heard.push('terminated'); ends.push(reason); },
  });
  env.stack.onRequest = (req, tx) => branch.receive(req, tx);
  /** A request from the callee in the branch's dialog. */
  const fromCallee = (method: string, cseq: number): void => {
    env.transport.inject([
      `${method} sip:patchbay@10.0.0.1:5060 SIP/2.0`,
      `Via: SIP/2.0/UDP 10.0.0.8:5070;branch=z9hG4bK${method}${cseq}`,
      'From: <sip:bob@example.com>;tag=btag',
      `To: <sip:alice@example.com>;tag=${invite.from.params['tag']}`,
      `Call-ID: ${invite.callId}`,
      `CSeq: ${cseq} ${method}`,
      'Contact: <sip:bob@10.0.0.8:5070>',
      'Content-Length: 0', '', '',
    ].join('\r\n'), CALLEE);
  };
  return { env, branch, heard, ends, forgotten, failures, invite, fromCallee };
}

describe('UacBranch as a leg', () => {
  it('hands a REFER of its dialog to the owner as refer, then a BYE as bye and terminated once', async () => {
    const { branch, heard, ends, forgotten, failures, invite, fromCallee, env } = await answeredBranch();
    expect(branch.state).toBe(SessionState.Confirmed);
    fromCallee('REFER', 1);
    await flush();
    fromCallee('BYE', 2);
    await flush();
    branch.bye();
    expect(heard).toEqual(['refer', 'bye', 'terminated']);
    expect(ends).toEqual(['bye-received']);
    // The far end hung up: its retransmitted 2xx need no ACK from us any more.
    expect(forgotten).toEqual([invite.callId]);
    expect(branch.state).toBe(SessionState.Terminated);
    expect(env.transport.sentStartingWith('BYE')).toHaveLength(0);
    expect(failures).toEqual([]);
  });
});
