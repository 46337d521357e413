import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Bridge, BridgeSide } from '../bridge/index.ts';
import type { CallServiceEvent } from '../call-service-deps.ts';
import type { CdrHistoryItem } from '../records/index.ts';
import { CallHold } from './call-hold.ts';

const SDP = (direction: string) => Buffer.from(`v=0\r\no=x 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=${direction}\r\n`);

/** A CallHold over a bridge whose parties answer every re-INVITE 200; the legs are plain objects with `held`. */
function setup() {
  const legs: Record<BridgeSide, { held: boolean }> = { a: { held: false }, b: { held: false } };
  const sent: Array<{ side: BridgeSide; body: string }> = [];
  const bridge = {
    sdpSentTo: () => SDP('sendrecv'),
    send: async (side: BridgeSide, req: { body?: Buffer }) => {
      sent.push({ side, body: req.body?.toString() ?? '' });
      return { status: 200, reason: 'OK' };
    },
    party: (side: BridgeSide) => legs[side],
  } as unknown as Bridge;
  const history: CdrHistoryItem[] = [];
  const events: CallServiceEvent[] = [];
  const steps: Record<BridgeSide, number> = { a: 0, b: 0 };
  const hold = new CallHold({
    id: 'c1', tenant: { id: 7 }, log: pino({ level: 'silent' }), history, emit: (e) => events.push(e), otherChange: false,
    controllableBridge: () => ({ ok: true, value: bridge }), nextSdpStep: (side) => ++steps[side],
  });
  return { hold, legs, sent, history, events };
}

describe('CallHold', () => {
  it('marks the held party\'s leg on hold and off again, the other leg never', async () => {
    const { hold, legs, sent } = setup();
    expect(await hold.hold('caller', 'api:op')).toEqual({ ok: true });
    expect(legs).toEqual({ a: { held: true }, b: { held: false } });
    expect(sent.map((s) => s.side)).toEqual(['a', 'b']);
    expect(sent.every((s) => s.body.includes('a=sendonly'))).toBe(true);
    expect(await hold.unhold('api:op')).toEqual({ ok: true });
    expect(legs.a.held).toBe(false);
    expect(hold.party).toBeUndefined();
  });

  it('a phone\'s own hold marks the other party\'s leg; its resume unmarks it', () => {
    const { hold, legs, events } = setup();
    hold.phoneOffer('a', SDP('sendonly'), 'phone:alice');
    expect(legs.b.held).toBe(true);
    expect(hold.party).toBe('callee');
    hold.phoneOffer('a', SDP('sendrecv'), 'phone:alice');
    expect(legs.b.held).toBe(false);
    expect(events.map((e) => e.type)).toEqual(['call.held', 'call.unheld']);
  });

  it('ends the switchboard\'s hold when the held party is replaced (a phone took its side), not when the other side is', async () => {
    const { hold, history } = setup();
    await hold.hold('callee', 'api:op');
    hold.sideReplaced('switch', 'a');
    expect(hold.party).toBe('callee');
    hold.sideReplaced('switch', 'b');
    expect(hold.party).toBeUndefined();
    expect(history.map((h) => [h.type, (h as { by?: string }).by])).toEqual([['hold', 'api:op'], ['unhold', 'switch']]);
    // Nobody is held now: a new hold is possible at once.
    expect(await hold.hold('caller', 'api:op')).toEqual({ ok: true });
  });
});
