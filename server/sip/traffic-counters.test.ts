import { describe, expect, it } from 'vitest';
import { COUNTED_SIP_METHODS, SIP_STATUS_CLASSES, SipTrafficCounters } from './traffic-counters.ts';

const bytes = (text: string) => Buffer.from(text, 'latin1');
const method = (name: string) => COUNTED_SIP_METHODS.indexOf(name as (typeof COUNTED_SIP_METHODS)[number]);
const other = COUNTED_SIP_METHODS.length;

describe('SipTrafficCounters', () => {
  it('counts requests by method and responses by status class, per direction', () => {
    const c = new SipTrafficCounters();
    c.count('in', bytes('INVITE sip:1002@acme.test SIP/2.0\r\nVia: x\r\n\r\n'));
    c.count('in', bytes('INVITE sip:1002@acme.test SIP/2.0\r\n\r\n'));
    c.count('in', bytes('INFO sip:x SIP/2.0\r\n\r\n'));
    c.count('out', bytes('SIP/2.0 407 Proxy Authentication Required\r\n\r\n'));
    c.count('out', bytes('SIP/2.0 100 Trying\r\n\r\n'));
    c.count('in', bytes('SIP/2.0 200 OK\r\n\r\n'));
    c.count('out', bytes('REGISTER sip:acme.test SIP/2.0\r\n\r\n'));
    expect(c.in.requests[method('INVITE')]).toBe(2);
    expect(c.in.requests[method('INFO')]).toBe(1);
    expect(c.out.requests[method('REGISTER')]).toBe(1);
    expect(c.in.requests[method('REGISTER')]).toBe(0);
    expect(c.out.responses[SIP_STATUS_CLASSES.indexOf('4xx')]).toBe(1);
    expect(c.out.responses[SIP_STATUS_CLASSES.indexOf('1xx')]).toBe(1);
    expect(c.in.responses[SIP_STATUS_CLASSES.indexOf('2xx')]).toBe(1);
  });

  it('puts unknown methods and odd statuses under other, and ignores keep-alives and garbage', () => {
    const c = new SipTrafficCounters();
    c.count('in', bytes('FOO sip:x SIP/2.0\r\n\r\n'));
    c.count('in', bytes('INVITEX sip:x SIP/2.0\r\n\r\n'));
    c.count('in', bytes('PRACKS sip:x SIP/2.0\r\n\r\n'));
    c.count('in', bytes('ABCDEFGHIJKLMNOPQRSTUVWXYZ sip:x SIP/2.0\r\n\r\n'));
    c.count('in', bytes('SIP/2.0 999 Odd\r\n\r\n'));
    c.count('in', bytes('\r\n\r\n'));
    c.count('in', bytes(' INVITE sip:x SIP/2.0'));
    c.count('in', bytes('\x00\x01\x02 junk'));
    c.count('in', bytes(''));
    expect(c.in.requests[other]).toBe(4);
    expect(c.in.responses[0]).toBe(1);
    const total = (a: Float64Array) => a.reduce((s, v) => s + v, 0);
    expect(total(c.in.requests)).toBe(4);
    expect(total(c.in.responses)).toBe(1);
  });
});
