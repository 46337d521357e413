import { describe, expect, it } from 'vitest';
import { callText, compileFilter, EMPTY_FILTER, rowOf, summary, type ConsoleRow, type SipRow } from './console-model.ts';

const invite = 'INVITE sip:1002@acme.test SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1\r\nFrom: "Ann" <sip:1001@acme.test>;tag=a\r\nTo: <sip:1002@acme.test>\r\nCall-ID: abc@x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n';
const busy = 'SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1\r\nf: <sip:1001@acme.test>;tag=a\r\nt: <sip:1002@acme.test>;tag=b\r\ni: abc@x\r\nCSeq: 1 INVITE\r\n\r\n';

function trace(seq: number, text: string, extra: Record<string, unknown> = {}): ConsoleRow {
  return rowOf({
    seq, time: 1_000 + seq, type: 'sip.trace', tenant: 1, direction: 'in', transport: 'udp',
    src: { address: '10.0.0.5', port: 5060 }, dst: { address: '192.0.2.1', port: 5060 }, text, sipCallId: 'abc@x', callId: 'call-1', leg: 'a', ...extra,
  })!;
}

describe('console rows and filters', () => {
  it('reads requests and responses (compact headers too)', () => {
    const req = trace(1, invite) as SipRow;
    expect(req).toMatchObject({ method: 'INVITE', fromUser: '1001', toUser: '1002', callId: 'call-1', leg: 'a' });
    expect(req.status).toBeUndefined();
    expect(summary(req)).toBe('INVITE sip:1002@acme.test');
    const res = trace(2, busy) as SipRow;
    expect(res).toMatchObject({ method: 'INVITE', status: 486, fromUser: '1001', toUser: '1002' });
    expect(summary(res)).toBe('486 Busy Here');
    expect(rowOf({ seq: 3, time: 1, type: 'call.created', tenant: 1 })).toBeNull();
  });

  it('filters by method, status class, account, call id and text; an invalid regex is a field error', () => {
    const rows = [trace(1, invite), trace(2, busy), rowOf({ seq: 3, time: 1003, type: 'dialplan.log', tenant: 1, callId: 'call-1', level: 'info', dialplan: 'out', message: 'routing to 1002' })!];
    const pick = (f: Partial<typeof EMPTY_FILTER>, accounts: Record<string, string[]> = {}) => {
      const c = compileFilter({ ...EMPTY_FILTER, ...f });
      if (!c.ok) throw new Error(c.message);
      return rows.filter((r) => c.test(r, (id) => accounts[id] ?? [])).map((r) => r.seq);
    };
    expect(pick({ statusClass: '4' })).toEqual([2]);
    expect(pick({ statusClass: 'request' })).toEqual([1]);
    expect(pick({ method: 'INVITE' })).toEqual([1, 2]);
    expect(pick({ account: '1001' })).toEqual([1, 2]);
    expect(pick({ account: '1001' }, { 'call-1': ['1001'] })).toEqual([1, 2, 3]);
    expect(pick({ account: '1003' })).toEqual([]);
    expect(pick({ callId: 'ABC@' })).toEqual([1, 2]);
    expect(pick({ text: 'routing' })).toEqual([3]);
    expect(pick({ text: 'busy|routing', regex: true })).toEqual([2, 3]);
    const bad = compileFilter({ ...EMPTY_FILTER, text: 'a(b', regex: true });
    expect(bad).toMatchObject({ ok: false, field: 'text' });
  });

  it('exports a call as text with every message in full and the log lines', () => {
    const text = callText('call-1', [trace(1, invite), trace(2, busy)]);
    expect(text).toContain('received UDP 10.0.0.5:5060 -> 192.0.2.1:5060 leg a');
    expect(text).toContain('SIP/2.0 486 Busy Here\nVia:');
  });
});
