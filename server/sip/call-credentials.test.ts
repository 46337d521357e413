import { describe, expect, it } from 'vitest';
import { CallCredentialStore } from './call-credentials.ts';
import { SipHeaders } from './headers.ts';
import { createResponse, SipRequest } from './message.ts';
import type { ClientTransaction, ClientTransactionHandler } from './transactions/transaction.ts';

function request(method: string, seq: number, toTag?: string): SipRequest {
  const h = new SipHeaders();
  h.append('From', '<sip:pbx@carrier.example>;tag=f1');
  h.append('To', `<sip:+4930123@carrier.example>${toTag ? `;tag=${toTag}` : ''}`);
  h.append('Call-ID', 'call-1@pb');
  h.append('CSeq', `${seq} ${method}`);
  return new SipRequest({ method, uri: { scheme: 'sip', user: '+4930123', host: 'carrier.example', params: {}, headers: {} }, headers: h, body: Buffer.alloc(0) });
}

/** A "network" that records each send and lets the test answer it. */
function wire() {
  const sent: Array<{ req: SipRequest; cseq: string; auth?: string; handler: ClientTransactionHandler }> = [];
  const send = (req: SipRequest, handler: ClientTransactionHandler): ClientTransaction => {
    sent.push({ req, cseq: req.headers.get('CSeq')!, auth: req.headers.get('Proxy-Authorization'), handler });
    return { request: req, state: 'Calling', cancel: () => {} };
  };
  return { sent, send };
}

const challenge = (req: SipRequest, realm: string, nonce = 'n1') =>
  createResponse(req, 407, undefined, { toTag: 'x', headers: { 'Proxy-Authenticate': `Digest realm="${realm}", nonce="${nonce}", qop="auth", algorithm=MD5` } });

describe('CallCredentialStore', () => {
  it('answers the provider\'s 407 with a new CSeq, numbers later requests past it, and stops after two tries', () => {
    const store = new CallCredentialStore();
    const { sent, send } = wire();
    const finals: number[] = [];
    const invite = request('INVITE', 1);
    store.register('call-1@pb', { username: 'pbx', password: 'pw' }, 1);
    store.send(invite, { onFinal: (r) => finals.push(r.status) }, send);
    sent[0]!.handler.onFinal!(challenge(invite, 'carrier.example'));
    expect(sent[1]!.cseq).toBe('2 INVITE');
    expect(sent[1]!.auth).toMatch(/^Digest username="pbx", ?realm="carrier.example"/);
    expect(finals).toEqual([]);
    sent[1]!.handler.onFinal!(createResponse(invite, 200, undefined, { toTag: 't' }));
    expect(finals).toEqual([200]);
    // The dialog's own count says 2 for its BYE; the far end already saw 2.
    const byeFinals: number[] = [];
    const bye = request('BYE', 2, 't');
    store.send(bye, { onFinal: (r) => byeFinals.push(r.status) }, send);
    expect(sent[2]!.cseq).toBe('3 BYE');
    // Wrong password: challenged again after each answer; after two answers the 407 is passed up.
    sent[2]!.handler.onFinal!(challenge(bye, 'carrier.example', 'n2'));
    sent[3]!.handler.onFinal!(challenge(bye, 'carrier.example', 'n3'));
    expect(sent[4]!.cseq).toBe('5 BYE');
    sent[4]!.handler.onFinal!(challenge(bye, 'carrier.example', 'n4'));
    expect(sent).toHaveLength(5);
    expect(byeFinals).toEqual([407]);
    expect(store.has('call-1@pb')).toBe(false);
  });

  it('never answers a challenge in another realm than the provider\'s (no digest for a far end to crack)', () => {
    const store = new CallCredentialStore();
    const { sent, send } = wire();
    const invite = request('INVITE', 1);
    store.register('call-1@pb', { username: 'pbx', password: 'pw' }, 1);
    store.send(invite, {}, send);
    sent[0]!.handler.onFinal!(challenge(invite, 'carrier.example'));
    sent[1]!.handler.onFinal!(createResponse(invite, 200, undefined, { toTag: 't' }));
    const finals: number[] = [];
    const reinvite = request('INVITE', 2, 't');
    store.send(reinvite, { onFinal: (r) => finals.push(r.status) }, send);
    sent[2]!.handler.onFinal!(challenge(reinvite, 'evil.example'));
    expect(sent).toHaveLength(3);
    expect(finals).toEqual([407]);
  });

  it('a cancelled INVITE is not re-sent after its challenge', () => {
    const store = new CallCredentialStore();
    const { sent, send } = wire();
    const finals: number[] = [];
    const invite = request('INVITE', 1);
    store.register('call-1@pb', { username: 'pbx', password: 'pw' }, 1);
    const tx = store.send(invite, { onFinal: (r) => finals.push(r.status) }, send)!;
    tx.cancel();
    sent[0]!.handler.onFinal!(challenge(invite, 'carrier.example'));
    expect(sent).toHaveLength(1);
    expect(finals).toEqual([407]);
    expect(store.has('call-1@pb')).toBe(false);
  });
});
