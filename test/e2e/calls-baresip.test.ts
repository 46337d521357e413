import { describe, expect, it } from 'vitest';
import type { BaresipClient } from './harness/index.ts';
import { DOMAIN } from './calls-support.ts';
import { bitRates, useBaresipCalls } from './baresip-calls-support.ts';

/**
 * Two real softphones (baresip 1.0) registered to the real server: 1001 dials 1002 through its
 * outgoing dialplan, 1002 answers by itself, and media flows peer to peer (the B2BUA passes the
 * SDP through) — proven by each phone's own RTP counters from `/callstat`.
 */

const fx = useBaresipCalls(['1001', '1002']);
const phone = (user: string, autoAnswer: boolean): Promise<BaresipClient> => fx.phone(user, autoAnswer);

describe('two baresip phones through a dialplan', () => {
  it('1001 dials 1002 via sys.Dial("1002@local"); 1002 auto-answers; RTP flows both ways', async () => {
    await fx.sw.useOutDialplan('1001', 'sys.Log("to " + req.uri.user); await sys.Dial("1002@local");');
    const callee = await phone('1002', true);
    const caller = await phone('1001', false);
    const before = (await fx.sw.running.db.cdrs.list({ tenantId: fx.sw.tenantId })).length;
    const callerMark = caller.output.length;
    const calleeMark = callee.output.length;
    caller.send(`/dial sip:1002@${DOMAIN}`);
    await caller.waitFor(/Call established/, 20_000, callerMark).catch((err: unknown) => {
      throw new Error(`${String(err)}\nCALLEE:\n${callee.output.slice(calleeMark)}`);
    });
    // Each phone logs this when the first RTP packet from its peer arrives.
    await caller.waitFor(/incoming rtp for 'audio' established/, 10_000, callerMark);
    await callee.waitFor(/incoming rtp for 'audio' established/, 10_000, calleeMark);
    // Let a few seconds of media run, then read each phone's own bit rates (`/callstat`: audio=<tx>/<rx>).
    await new Promise((r) => setTimeout(r, 2500));
    const [callerTx, callerRx] = await bitRates(caller);
    const [calleeTx, calleeRx] = await bitRates(callee);
    // G.711 at 20 ms: 64 kbit/s each way when packets really flow.
    expect({ callerTx, callerRx, calleeTx, calleeRx }).toEqual({
      callerTx: expect.any(Number), callerRx: expect.any(Number), calleeTx: expect.any(Number), calleeRx: expect.any(Number),
    });
    for (const rate of [callerTx, callerRx, calleeTx, calleeRx]) expect(rate).toBeGreaterThan(32_000);

    const hangupMark = callee.output.length;
    caller.send('/hangup');
    await callee.waitFor(/terminated/, 10_000, hangupMark);
    const rows = await fx.sw.waitForCdrs(before + 1);
    const cdr = rows[0]!;
    expect(cdr.direction).toBe('outbound');
    expect(cdr.caller).toContain(`1001@${DOMAIN}`);
    expect(cdr.callee).toContain(`1002@${DOMAIN}`);
    expect(cdr.hangupSide).toBe('caller');
    expect(cdr.answeredAt).not.toBeNull();
    expect(cdr.durationSec).toBeGreaterThanOrEqual(2);
  });
});

