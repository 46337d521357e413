import { describe, expect, it } from 'vitest';
import type { SipRequest } from './message.ts';
import { ReinviteGuard, reinviteRefusalResponse } from './reinvite-guard.ts';
import { parsed, requestText } from './transactions/test-helpers.ts';

describe('ReinviteGuard (RFC 3261 §14.1/§14.2)', () => {
  it('an idle dialog takes either side’s re-INVITE; its end frees the dialog again', () => {
    const g = new ReinviteGuard();
    const ours = g.send();
    expect(ours).toBeDefined();
    expect(g.state).toBe('Sending');
    ours!.end();
    expect(g.state).toBe('Idle');
    const theirs = g.receive();
    expect(theirs.ok).toBe(true);
    expect(g.state).toBe('Receiving');
    if (theirs.ok) theirs.turn.end();
    expect(g.state).toBe('Idle');
  });

  it('a re-INVITE arriving while ours is pending is refused with 491 (glare); ours stays pending', () => {
    const g = new ReinviteGuard();
    g.send();
    expect(g.receive()).toEqual({ ok: false, refusal: { status: 491 } });
    expect(g.state).toBe('Sending');
  });

  it('a second incoming re-INVITE while the first is unanswered is refused with 500 and Retry-After 0–10 s', () => {
    const g = new ReinviteGuard(() => 0.999);
    g.receive();
    expect(g.receive()).toEqual({ ok: false, refusal: { status: 500, retryAfterSec: 10 } });
    expect(new ReinviteGuard(() => 0).retryLater()).toEqual({ status: 500, retryAfterSec: 0 });
  });

  it('we may not send while any INVITE is in progress on the dialog', () => {
    const g = new ReinviteGuard();
    g.receive();
    expect(g.canSend).toBe(false);
    expect(g.send()).toBeUndefined();
    const h = new ReinviteGuard();
    h.send();
    expect(h.send()).toBeUndefined();
  });

  it('a turn ends once: a late second end does not free a later turn', () => {
    const g = new ReinviteGuard();
    const first = g.send()!;
    first.end();
    g.receive();
    first.end();
    expect(g.state).toBe('Receiving');
  });

  it('builds the refusal responses', () => {
    const req = parsed(requestText({ toTag: 'ours', cseq: 3 })) as SipRequest;
    expect(reinviteRefusalResponse(req, { status: 491 }).status).toBe(491);
    const res = reinviteRefusalResponse(req, { status: 500, retryAfterSec: 4 });
    expect(res.status).toBe(500);
    expect(res.headers.get('Retry-After')).toBe('4');
  });
});
