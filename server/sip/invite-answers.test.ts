import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Dialog } from './dialog.ts';
import { sendAck } from './dialog-ack.ts';
import { InviteAnswers, type Further2xx } from './invite-answers.ts';
import type { SipRequest, SipResponse } from './message.ts';
import { flush, memoryStack, outgoingInvite, parsed, responseText } from './transactions/test-helpers.ts';

const TARGET = { transport: 'udp' as const, address: '10.0.0.2', port: 5060 };

/** An INVITE whose TU takes the first 2xx (ACKs it) and hands the later ones to InviteAnswers. */
async function answeredInvite() {
  const env = await memoryStack();
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  const invite = outgoingInvite();
  invite.headers.append('Contact', '<sip:patchbay@10.0.0.1:5060>');
  const answers = new InviteAnswers(invite, { stack: env.stack, flow: TARGET, logger });
  const outcomes: Further2xx[] = [];
  env.stack.sendRequest(invite, {
    target: TARGET,
    handler: {
      onFinal: (res) => {
        const ack = Dialog.asUac(invite, res, { flow: TARGET, localContact: '' }).createAck(invite.cseq.seq);
        sendAck(env.stack, ack, TARGET);
        answers.answered(res, ack);
      },
      onAccepted2xx: (res) => outcomes.push(answers.receive(res)),
    },
  });
  await flush();
  const sentInvite = env.transport.sent[0]!.text;
  return { ...env, lines, outcomes, sentInvite };
}

function sent(transport: { sentStartingWith(p: string): Array<{ text: string }> }, method: string): SipRequest[] {
  return transport.sentStartingWith(method).map((d) => parsed(d.text) as SipRequest);
}

describe('InviteAnswers: the further 2xx of an INVITE (RFC 6026 §7.2, RFC 3261 §13.2.2.4)', () => {
  it('a retransmitted 2xx gets the very same ACK again', async () => {
    const { transport, outcomes, sentInvite } = await answeredInvite();
    transport.inject(responseText(sentInvite, 200), TARGET);
    transport.inject(responseText(sentInvite, 200), TARGET);
    await flush();
    const acks = transport.sentStartingWith('ACK');
    expect(acks).toHaveLength(2);
    expect(acks[1]!.text).toBe(acks[0]!.text);
    expect(outcomes).toEqual(['retransmission']);
    expect(transport.sentStartingWith('BYE')).toHaveLength(0);
  });

  it("another fork's 2xx is ACKed and ended with BYE in its own dialog, logged once; its retransmission is only ACKed", async () => {
    const { transport, outcomes, sentInvite, lines } = await answeredInvite();
    transport.inject(responseText(sentInvite, 200), TARGET);
    transport.inject(responseText(sentInvite, 200, 'forktag'), TARGET);
    await flush();
    transport.inject(responseText(sentInvite, 200, 'forktag'), TARGET);
    await flush();
    expect(outcomes).toEqual(['fork', 'fork']);
    const acks = sent(transport, 'ACK');
    expect(acks.map((a) => a.to.params['tag'])).toEqual(['bobtag', 'forktag', 'forktag']);
    expect(acks[1]!.cseq).toEqual({ seq: 7, method: 'ACK' });
    const byes = sent(transport, 'BYE');
    expect(byes).toHaveLength(1);
    expect(byes[0]!.to.params['tag']).toBe('forktag');
    expect(byes[0]!.from.params['tag']).toBe('a1');
    expect(byes[0]!.callId).toBe('out-1@patchbay');
    expect(byes[0]!.cseq.seq).toBe(8);
    expect(byes[0]!.headers.get('Reason')).toContain('cause=200');
    expect(lines.filter((l) => l['event'] === 'sip.fork_2xx')).toHaveLength(1);
  });

  it('a late-offer 2xx is ACKed again only once the TU has sent its ACK', async () => {
    const env = await memoryStack();
    const invite = outgoingInvite();
    const answers = new InviteAnswers(invite, { stack: env.stack, flow: TARGET, logger: pino({ level: 'silent' }) });
    const res = parsed(responseText(invitedText(), 200)) as SipResponse;
    answers.answered(res);
    expect(answers.receive(res)).toBe('retransmission');
    expect(env.transport.sentStartingWith('ACK')).toHaveLength(0);
    const ack = Dialog.asUac(invite, res, { flow: TARGET, localContact: '' }).createAck(7);
    sendAck(env.stack, ack, TARGET);
    answers.acked(ack);
    answers.receive(res);
    await flush();
    expect(env.transport.sentStartingWith('ACK')).toHaveLength(2);
  });

  it('a 2xx before the TU took one is left alone', async () => {
    const env = await memoryStack();
    const answers = new InviteAnswers(outgoingInvite(), { stack: env.stack, flow: TARGET, logger: pino({ level: 'silent' }) });
    const res = parsed(responseText(invitedText(), 200)) as SipResponse;
    expect(answers.receive(res)).toBe('unanswered');
    expect(env.transport.sent).toHaveLength(0);
  });
});

function invitedText(): string {
  const i = outgoingInvite();
  i.headers.prepend('Via', 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx');
  return i.toBuffer().toString();
}
