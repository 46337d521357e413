import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBaresip, type BaresipClient } from './harness/index.ts';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sineWav } from './fixtures/sine-wav.ts';
import { DOMAIN, PASSWORD, startSwitch, type Switch } from './calls-support.ts';

/**
 * Two real softphones (baresip 1.0) registered to the real server: 1001 dials 1002 through its
 * outgoing dialplan, 1002 answers by itself, and media flows peer to peer (the B2BUA passes the
 * SDP through) — proven by each phone's own RTP counters from `/callstat`.
 */

let sw: Switch;
let fixtures: string;
let toneFile: string;
const phones: BaresipClient[] = [];

beforeAll(async () => {
  sw = await startSwitch(['1001', '1002']);
  fixtures = await mkdtemp(join(tmpdir(), 'patchbay-calls-audio-'));
  toneFile = join(fixtures, 'tone-1k-8khz.wav');
  await writeFile(toneFile, sineWav({ hz: 1000, sampleRate: 8000, seconds: 10 }));
}, 60_000);

afterAll(async () => {
  await sw?.close();
  if (fixtures) await rm(fixtures, { recursive: true, force: true });
});

afterEach(async () => {
  await Promise.all(phones.splice(0).map((p) => p.stop()));
});

async function phone(user: string, autoAnswer: boolean): Promise<BaresipClient> {
  const p = await startBaresip({ user, password: PASSWORD, domain: DOMAIN, proxy: sw.target, autoAnswer });
  phones.push(p);
  await p.waitFor(/registered successfully/i, 15_000);
  // The harness's ausine source only runs at 48 kHz; G.711 needs 8 kHz: play a generated WAV instead.
  const mark = p.output.length;
  p.send('/insmod aufile');
  p.send(`/ausrc aufile,${toneFile}`);
  await p.waitFor(/aufile/, 5_000, mark);
  return p;
}

describe('two baresip phones through a dialplan', () => {
  it('1001 dials 1002 via sys.Dial("1002@local"); 1002 auto-answers; RTP flows both ways', async () => {
    await sw.useOutDialplan('1001', 'sys.Log("to " + req.uri.user); await sys.Dial("1002@local");');
    const callee = await phone('1002', true);
    const caller = await phone('1001', false);
    const before = (await sw.running.db.cdrs.list({ tenantId: sw.tenantId })).length;
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
    const rows = await sw.waitForCdrs(before + 1);
    const cdr = rows[0]!;
    expect(cdr.direction).toBe('outbound');
    expect(cdr.caller).toContain(`1001@${DOMAIN}`);
    expect(cdr.callee).toContain(`1002@${DOMAIN}`);
    expect(cdr.hangupSide).toBe('caller');
    expect(cdr.answeredAt).not.toBeNull();
    expect(cdr.durationSec).toBeGreaterThanOrEqual(2);
  });
});

/** Sends `/callstat` and reads the first `audio=<tx>/<rx> (bit/s)` status line (baresip's stream_print) with both rates above zero. */
async function bitRates(p: BaresipClient): Promise<[number, number]> {
  const mark = p.output.length;
  p.send('/callstat');
  await p.waitFor(/Call debug/, 5_000, mark);
  // The status line repeats; the first ones after the dump may still read 0/0 (no full second measured yet).
  const m = await p.waitFor(/audio=([1-9]\d*)\/([1-9]\d*) \(bit\/s\)/, 5_000, mark).catch((err: unknown) => {
    throw new Error(`${String(err)}\n${p.output.slice(mark)}`);
  });
  return [Number(m[1]), Number(m[2])];
}
