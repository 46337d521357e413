import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { parseMessage, type SipRequest, type SipResponse, type SipStack } from '../../sip/index.ts';
import type { ServerTransaction } from '../../sip/index.ts';
import { rawInvite } from '../call-test-support.ts';
import { CallerLeg } from './caller-leg.ts';
import { SessionState } from './session-state.ts';

/** A caller's leg over a fake server transaction that keeps what was answered. */
function setup() {
  const req = parseMessage(Buffer.from(rawInvite({ from: '1001@example.com', to: '1002@example.com', host: '192.0.2.10', port: 5060 }))) as SipRequest;
  // TCP: no 2xx retransmission timers to run.
  req.source = { transport: 'tcp', address: '192.0.2.10', port: 5060 };
  const sent: SipResponse[] = [];
  const tx: ServerTransaction = { request: req, state: 'proceeding', respond: (res) => { sent.push(res); } };
  const leg = new CallerLeg({
    request: req, tx, stack: {} as SipStack, log: pino({ level: 'silent' }),
    localContactFor: () => '<sip:switch@192.0.2.1:5060>',
  });
  return { leg, sent, statuses: () => sent.map((r) => r.status) };
}

describe('CallerLeg', () => {
  it('rings once with 180, sends each early media as 183, and no 180 after early media', () => {
    const { leg, statuses } = setup();
    leg.alert(undefined);
    leg.alert(undefined);
    leg.alert('v=0\r\n');
    leg.alert(undefined);
    expect(statuses()).toEqual([180, 183]);
  });

  it('answers one final response only; nothing is sent after it', () => {
    const { leg, sent, statuses } = setup();
    const ok = leg.respond(200, 'OK', Buffer.from('v=0\r\n'));
    expect(ok?.headers.get('Supported')).toBe('replaces');
    expect(ok?.headers.get('Contact')).toBe('<sip:switch@192.0.2.1:5060>');
    expect(leg.final).toBe(true);
    expect(leg.respond(486)).toBeUndefined();
    leg.alert(undefined);
    expect(statuses()).toEqual([200]);
    // Every answer carries the same To tag: the one our dialog with the caller has.
    expect(leg.dialog().localTag).toBe(leg.toTag);
    expect(sent[0]!.headers.get('To')).toContain(`tag=${leg.toTag}`);
  });

  it('a CANCEL stops the legs while nothing is final yet, then answers nothing more and hides the caller\'s BLF dialog', () => {
    const { leg, statuses } = setup();
    leg.alert(undefined);
    expect(leg.phoneDialog('c1', '1001', false, { uri: 'sip:1002@example.com' }, 0)).toMatchObject({ state: 'early', direction: 'initiator', remoteTag: leg.toTag });
    let finalWhileStopping: boolean | undefined;
    leg.cancel(() => { finalWhileStopping = leg.final; });
    expect(finalWhileStopping).toBe(false);
    expect(leg.cancelled).toBe(true);
    expect(leg.respond(487)).toBeUndefined();
    expect(leg.phoneDialog('c1', '1001', false, { uri: 'sip:1002@example.com' }, 0)).toBeUndefined();
    expect(statuses()).toEqual([180]);
  });

  it('has no BLF dialog before it rang or was answered', () => {
    const { leg } = setup();
    expect(leg.phoneDialog('c1', '1001', false, { uri: 'sip:1002@example.com' }, 0)).toBeUndefined();
    expect(leg.phoneDialog('c1', '1001', true, { uri: 'sip:1002@example.com' }, 0)).toMatchObject({ state: 'confirmed', localTag: 'atag1' });
  });

  it('moves Trying → Early on its 180 → Confirmed on its 2xx, or straight to Terminated on a failure', () => {
    const answered = setup().leg;
    expect(answered.state).toBe(SessionState.Trying);
    answered.alert(undefined);
    expect(answered.state).toBe(SessionState.Early);
    answered.respond(200);
    expect(answered.state).toBe(SessionState.Confirmed);
    const failed = setup().leg;
    failed.respond(486);
    expect(failed.state).toBe(SessionState.Terminated);
    const cancelled = setup().leg;
    cancelled.cancel(() => undefined);
    expect(cancelled.state).toBe(SessionState.Terminated);
  });
});
