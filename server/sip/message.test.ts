import { describe, expect, it } from 'vitest';
import { parseMessage } from './parser.ts';
import { SipHeaders } from './headers.ts';
import { parseUri } from './uri.ts';
import { SipRequest, SipResponse, createResponse, newBranch, newCallId, newTag, reasonPhrase } from './message.ts';

const REGISTER = Buffer.from([
  'REGISTER sip:registrar.biloxi.com SIP/2.0',
  'Via: SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bKnashds7;rport',
  'v: SIP/2.0/UDP relay.biloxi.com;branch=z9hG4bKrelay',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.com>',
  'From: Bob <sip:bob@biloxi.com>;tag=456248',
  'Call-ID: 843817637684230@998sdasdh09',
  'CSeq: 1826 REGISTER',
  'Contact: <sip:bob@192.0.2.4>;expires=7200',
  'Timestamp: 54',
  'Content-Length: 0',
  '', '',
].join('\r\n'));

function register(): SipRequest {
  const m = parseMessage(REGISTER);
  if (!(m instanceof SipRequest)) throw new Error('not a request');
  return m;
}

describe('createResponse (RFC 3261 §8.2.6)', () => {
  it('copies Via (all, in order), From, To, Call-ID, CSeq and adds the To tag', () => {
    const req = register();
    const res = createResponse(req, 200, undefined, { toTag: 'srv1', headers: { Expires: '7200' } });
    expect(res.reason).toBe('OK');
    expect(res.headers.getAll('Via')).toEqual(req.headers.getAll('Via'));
    expect(res.headers.entries().filter(([n]) => n.toLowerCase() === 'v' || n === 'Via').map(([n]) => n)).toEqual(['Via', 'v']);
    expect(res.from).toEqual(req.from);
    expect(res.to.params['tag']).toBe('srv1');
    expect(res.to.displayName).toBe('Bob');
    expect(res.callId).toBe(req.callId);
    expect(res.cseq).toEqual({ seq: 1826, method: 'REGISTER' });
    expect(res.headers.get('Expires')).toBe('7200');
    expect(res.headers.has('Timestamp')).toBe(false);
    const wire = parseMessage(res.toBuffer());
    expect(wire instanceof SipResponse && wire.status).toBe(200);
    expect(wire.headers.get('Content-Length')).toBe('0');
  });

  it('keeps an existing To tag and echoes Timestamp on 100', () => {
    const req = register();
    req.headers.set('To', 'Bob <sip:bob@biloxi.com>;tag=existing');
    const res = createResponse(req, 100, undefined, { toTag: 'new' });
    expect(res.to.params['tag']).toBe('existing');
    expect(res.headers.get('Timestamp')).toBe('54');
    expect(res.reason).toBe('Trying');
  });

  it('adds the tag correctly to an addr-spec To', () => {
    const req = register();
    req.headers.set('To', 'sip:bob@biloxi.com');
    const res = createResponse(req, 486, 'Busy', { toTag: 't1' });
    expect(res.to.params).toEqual({ tag: 't1' });
    expect(res.to.uri.params).toEqual({});
    expect(res.reason).toBe('Busy');
  });

  it('carries a body with its type', () => {
    const res = createResponse(register(), 200, 'OK', { body: Buffer.from('hello'), contentType: 'text/plain' });
    const wire = parseMessage(res.toBuffer());
    expect(wire.body.toString()).toBe('hello');
    expect(wire.headers.get('content-type')).toBe('text/plain');
  });
});

describe('messages built in code', () => {
  it('serialize with a correct Content-Length and parse back', () => {
    const h = new SipHeaders();
    h.append('Via', `SIP/2.0/UDP [2001:db8::1]:5060;branch=${newBranch()}`);
    h.append('From', `<sip:a@example.com>;tag=${newTag()}`);
    h.append('To', '<sip:b@example.com>');
    h.append('Call-ID', newCallId('example.com'));
    h.append('CSeq', '1 OPTIONS');
    const req = new SipRequest({ method: 'OPTIONS', uri: parseUri('sip:b@[2001:db8::2]:5070'), headers: h, body: Buffer.from('x') });
    const wire = req.toBuffer().toString();
    expect(wire.startsWith('OPTIONS sip:b@[2001:db8::2]:5070 SIP/2.0\r\n')).toBe(true);
    expect(wire).toContain('\r\nContent-Length: 1\r\n\r\nx');
    const back = parseMessage(req.toBuffer());
    expect(back instanceof SipRequest && back.uri.host).toBe('2001:db8::2');
  });

  it('clone is deep for headers and uri', () => {
    const req = register();
    const copy = req.clone();
    copy.headers.prepend('Via', 'SIP/2.0/TCP p;branch=z9hG4bKp');
    copy.uri.params['lr'] = null;
    expect(req.via).toHaveLength(2);
    expect(copy.via).toHaveLength(3);
    expect(req.uri.params).toEqual({});
    expect(copy.toBuffer().length).toBeGreaterThan(req.toBuffer().length);
  });

  it('contacts getter', () => {
    const c = register().contacts;
    expect(c !== '*' && c[0]!.params['expires']).toBe('7200');
  });
});

describe('helpers', () => {
  it('reasonPhrase', () => {
    expect(reasonPhrase(404)).toBe('Not Found');
    expect(reasonPhrase(505)).toBe('Version Not Supported');
    expect(reasonPhrase(499)).toBe('Client Error');
  });
  it('newBranch / newTag / newCallId', () => {
    const b = newBranch();
    expect(b.startsWith('z9hG4bK')).toBe(true);
    expect(b).not.toBe(newBranch());
    expect(newTag()).toMatch(/^[A-Za-z0-9_-]{8,}$/);
    expect(newCallId('pbx.example.com')).toMatch(/^[A-Za-z0-9_-]+@pbx\.example\.com$/);
  });
});
