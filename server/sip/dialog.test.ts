import { describe, expect, it } from 'vitest';
import { Dialog, dialogKey, dialogKeyOfRequest } from './dialog.ts';
import { Invite2xxRetransmitter } from './dialog-2xx-retransmitter.ts';
import { createResponse, SipRequest, SipResponse, type Endpoint } from './message.ts';
import { parseMessage } from './parser.ts';
import { ManualClock, TimerWheel } from './timer-wheel.ts';

const FLOW: Endpoint = { transport: 'udp', address: '203.0.113.9', port: 40000 };

function invite(extra = ''): SipRequest {
  const text = [
    'INVITE sip:bob@example.com SIP/2.0',
    'Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKa1',
    'From: "Alice" <sip:alice@example.com>;tag=alicetag',
    'To: <sip:bob@example.com>',
    'Call-ID: c1@10.0.0.5',
    'CSeq: 10 INVITE',
    'Contact: <sip:alice@10.0.0.5:5060>',
    'Record-Route: <sip:p1.example.net;lr>, <sip:p2.example.net;lr>',
    extra,
    'Content-Length: 0',
    '',
    '',
  ].filter((l, i, a) => l !== '' || i >= a.length - 2).join('\r\n');
  const msg = parseMessage(Buffer.from(text));
  if (!(msg instanceof SipRequest)) throw new Error('not a request');
  msg.source = FLOW;
  return msg;
}

function inDialog(method: string, seq: number, toTag: string): SipRequest {
  const r = parseMessage(Buffer.from([
    `${method} sip:patchbay@192.0.2.1 SIP/2.0`,
    'Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKb' + seq,
    'From: <sip:alice@example.com>;tag=alicetag',
    `To: <sip:bob@example.com>;tag=${toTag}`,
    'Call-ID: c1@10.0.0.5',
    `CSeq: ${seq} ${method}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n')));
  return r as SipRequest;
}

describe('Dialog (RFC 3261 §12)', () => {
  it('UAS: route set in Record-Route order, remote target from Contact, requests to the flow', () => {
    const d = Dialog.asUas(invite(), { localTag: 'bobtag', localContact: '<sip:patchbay@192.0.2.1:5060>' });
    expect(d.routeSet).toEqual(['<sip:p1.example.net;lr>', '<sip:p2.example.net;lr>']);
    expect(d.flow).toEqual(FLOW);
    const bye = d.createRequest('BYE');
    expect(bye.uri.host).toBe('10.0.0.5');
    expect(bye.headers.getAll('Route')).toEqual(['<sip:p1.example.net;lr>', '<sip:p2.example.net;lr>']);
    expect(bye.from.params['tag']).toBe('bobtag');
    expect(bye.to.params['tag']).toBe('alicetag');
    expect(bye.cseq).toEqual({ seq: 1, method: 'BYE' });
    expect(d.createRequest('INFO').cseq.seq).toBe(2);
    expect(dialogKey(d.id)).toBe(dialogKeyOfRequest(inDialog('BYE', 11, 'bobtag')));
  });

  it('UAS: matches its requests and refuses an out-of-order CSeq', () => {
    const d = Dialog.asUas(invite(), { localTag: 'bobtag', localContact: '<sip:x@192.0.2.1>' });
    expect(d.matches(inDialog('BYE', 11, 'bobtag'))).toBe(true);
    expect(d.matches(inDialog('BYE', 11, 'othertag'))).toBe(false);
    expect(d.acceptRemoteCSeq(inDialog('INFO', 11, 'bobtag'))).toBe(true);
    expect(d.acceptRemoteCSeq(inDialog('INFO', 9, 'bobtag'))).toBe(false);
    expect(d.acceptRemoteCSeq(inDialog('ACK', 10, 'bobtag'))).toBe(true);
  });

  it('UAC: route set reversed, ACK for 2xx carries the INVITE CSeq, target refresh', () => {
    const inv = Dialog.newInvite({
      requestUri: { scheme: 'sip', user: 'carol', host: '198.51.100.7', port: 5070, params: {}, headers: {} },
      from: { displayName: 'Alice', uri: { scheme: 'sip', user: 'alice', host: 'example.com', params: {}, headers: {} }, params: {} },
      to: { uri: { scheme: 'sip', user: 'carol', host: 'example.com', params: {}, headers: {} }, params: {} },
      localContact: '<sip:patchbay@192.0.2.1>', callIdHost: '192.0.2.1', maxForwards: 12,
    });
    expect(inv.maxForwards).toBe(12);
    expect(inv.from.params['tag']).toBeTruthy();
    expect(inv.to.params['tag']).toBeUndefined();
    const ok = createResponse(inv, 200, 'OK', {
      toTag: 'carolTag',
      headers: { Contact: '<sip:carol@198.51.100.7:5070>', 'Record-Route': '<sip:a.example;lr>, <sip:b.example;lr>' },
    });
    const d = Dialog.asUac(inv, ok, { flow: FLOW, localContact: '<sip:patchbay@192.0.2.1>' });
    expect(d.routeSet).toEqual(['<sip:b.example;lr>', '<sip:a.example;lr>']);
    const ack = d.createAck(inv.cseq.seq);
    expect(ack.cseq).toEqual({ seq: 1, method: 'ACK' });
    expect(ack.to.params['tag']).toBe('carolTag');
    expect(d.createRequest('UPDATE').cseq.seq).toBe(2);
    const refresh = new SipResponse({ status: 200 });
    refresh.headers.append('Contact', '<sip:carol@198.51.100.8:5080>');
    d.refreshTarget(refresh);
    expect(d.createRequest('BYE').uri.host).toBe('198.51.100.8');
  });

  it('strict router: its URI becomes the Request-URI and the remote target the last Route', () => {
    const d = Dialog.asUas(invite().clone(), { localTag: 't', localContact: '<sip:x@192.0.2.1>' });
    d.routeSet.splice(0, d.routeSet.length, '<sip:strict.example.net>');
    const bye = d.createRequest('BYE');
    expect(bye.uri.host).toBe('strict.example.net');
    expect(bye.headers.getAll('Route')).toEqual(['<sip:alice@10.0.0.5:5060>']);
  });
});

describe('Invite2xxRetransmitter (§13.3.1.4)', () => {
  function setup() {
    const clock = new ManualClock();
    const wheel = new TimerWheel({ clock });
    const sentAt: number[] = [];
    let gaveUp = false;
    const r = new Invite2xxRetransmitter(new SipResponse({ status: 200 }), {
      wheel, T1: 500, T2: 4000, send: () => sentAt.push(clock.now()), onGiveUp: () => { gaveUp = true; },
    });
    r.start();
    return { clock, r, sentAt, gaveUp: () => gaveUp };
  }

  it('retransmits at T1 doubling up to T2 and gives up after 64·T1', () => {
    const { clock, sentAt, gaveUp } = setup();
    clock.advance(8000);
    expect(sentAt).toEqual([500, 1500, 3500, 7500]);
    clock.advance(24_000);
    expect(gaveUp()).toBe(true);
    const count = sentAt.length;
    clock.advance(10_000);
    expect(sentAt.length).toBe(count);
    expect(sentAt.every((t) => t < 32_000)).toBe(true);
  });

  it('stops when the ACK arrives', () => {
    const { clock, r, sentAt, gaveUp } = setup();
    clock.advance(600);
    r.stop();
    clock.advance(60_000);
    expect(sentAt).toEqual([500]);
    expect(gaveUp()).toBe(false);
  });
});
