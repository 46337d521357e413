import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createResponse, type Endpoint, type SipRequest } from '../sip/index.ts';
import type { ProviderRecord } from './provider-directory.ts';
import { ProviderRegistrationAgent, RegistrationState, type RegisterOutcome, type RegistrationEvent } from './registration-agent.ts';
import { FIRST_BACKOFF_MS, MAX_BACKOFF_MS, backoffDelayMs, refreshDelayMs } from './registration-schedule.ts';

/** A fake clock with timers that run when it is advanced. */
class FakeTimers {
  now = 1_000_000;
  private seq = 0;
  readonly pending = new Map<number, { at: number; fn: () => void }>();
  schedule = (ms: number, fn: () => void): number => {
    const id = ++this.seq;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  };
  cancel = (h: unknown): void => {
    this.pending.delete(h as number);
  };
  /** Delay from now of the one pending timer (the agent keeps one per provider). */
  next(): number | undefined {
    const at = [...this.pending.values()].map((t) => t.at).sort((a, b) => a - b)[0];
    return at === undefined ? undefined : at - this.now;
  }
  async advance(ms: number): Promise<void> {
    this.now += ms;
    for (const [id, t] of [...this.pending]) {
      if (t.at <= this.now) {
        this.pending.delete(id);
        t.fn();
      }
    }
    for (let i = 0; i < 10; i++) await Promise.resolve();
  }
}

const provider: ProviderRecord = {
  id: 7, tenantId: 3, name: 'carrier', serverUri: 'sip:sip.carrier.example', outboundProxy: null, username: 'pbx', authUser: null,
  password: 'pw', register: true, registerExpiry: 600, fromUser: null, customHeaders: {}, settings: {},
};

function setup(answers: Array<(req: SipRequest) => RegisterOutcome>, opts: { checkTarget?: (t: Endpoint) => string | undefined } = {}) {
  const timers = new FakeTimers();
  const sent: SipRequest[] = [];
  const events: RegistrationEvent[] = [];
  const stored: string[] = [];
  const agent = new ProviderRegistrationAgent({
    sender: {
      send: async (req) => {
        sent.push(req);
        const next = answers.shift();
        return next ? next(req) : { kind: 'timeout' };
      },
      contactAddress: () => ({ host: '198.51.100.7', port: 5060 }),
    },
    timers,
    now: () => timers.now,
    random: () => 0,
    resolve: async () => '203.0.113.10',
    checkTarget: opts.checkTarget ?? (() => undefined),
    store: async (s) => { stored.push(`${s.state}${s.lastError ? `: ${s.lastError}` : ''}`); },
    emit: (e) => events.push(e),
    logger: pino({ level: 'silent' }),
    list: async () => [provider],
  });
  return { agent, timers, sent, events, stored };
}

const ok = (expires: number) => (req: SipRequest): RegisterOutcome => ({
  kind: 'response',
  response: createResponse(req, 200, 'OK', { toTag: 'x', headers: { Contact: `${req.headers.get('Contact')};expires=${expires}` } }),
});
const status = (code: number) => (req: SipRequest): RegisterOutcome => ({ kind: 'response', response: createResponse(req, code, undefined, { toTag: 'x' }) });

describe('schedule', () => {
  it('refresh at 80 % of the granted expiry; backoff 30 s doubling to 30 min with up to 20 % jitter off', () => {
    expect(refreshDelayMs(600)).toBe(480_000);
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => backoffDelayMs(n, 0))).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_800_000, 1_800_000, 1_800_000]);
    expect(backoffDelayMs(1, 0.5)).toBe(27_000);
    expect(backoffDelayMs(9, 0.999)).toBeGreaterThanOrEqual(MAX_BACKOFF_MS * 0.8);
  });
});

describe('registration agent (fake clock)', () => {
  it('registers at start, refreshes at 80 % of what the registrar granted, same Call-ID, CSeq up', async () => {
    const { agent, timers, sent, events, stored } = setup([ok(120), ok(300)]);
    await agent.start();
    await timers.advance(0);
    const [client] = agent.registrations();
    expect(client!.state).toBe(RegistrationState.Registered);
    expect(sent[0]!.headers.get('Contact')).toBe('<sip:carrier-3@198.51.100.7:5060>');
    expect(sent[0]!.headers.get('Expires')).toBe('600');
    expect(sent[0]!.to.uri.user).toBe('pbx');
    expect(timers.next()).toBe(96_000);
    await timers.advance(96_000);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.callId).toBe(sent[0]!.callId);
    expect(sent[1]!.cseq.seq).toBe(sent[0]!.cseq.seq + 1);
    expect(timers.next()).toBe(240_000);
    expect(events.map((e) => e.type)).toEqual(['provider.registration.registered', 'provider.registration.registered']);
    expect(stored).toEqual(['registered', 'registered']);
    expect(agent.byContactUser('carrier-3')).toBe(client);
  });

  it('registrar down: retries after 30 s, 60 s, 120 s … and recovers', async () => {
    const { agent, timers, sent, events } = setup([
      () => ({ kind: 'timeout' }), () => ({ kind: 'error', message: 'ECONNREFUSED' }), status(503), ok(600),
    ]);
    await agent.start();
    await timers.advance(0);
    const delays: Array<number | undefined> = [];
    for (let i = 0; i < 3; i++) {
      const d = timers.next();
      delays.push(d);
      await timers.advance(d!);
    }
    expect(delays).toEqual([FIRST_BACKOFF_MS, 60_000, 120_000]);
    expect(sent).toHaveLength(4);
    expect(agent.registrations()[0]!.state).toBe(RegistrationState.Registered);
    expect(events.filter((e) => e.type === 'provider.registration.failed').map((e) => e.retryInMs)).toEqual([30_000, 60_000, 120_000]);
  });

  it('403 stops retrying and marks the provider as needing attention', async () => {
    const { agent, timers, sent, events, stored } = setup([status(403)]);
    await agent.start();
    await timers.advance(0);
    expect(agent.registrations()[0]!.state).toBe(RegistrationState.NeedsAttention);
    expect(timers.next()).toBeUndefined();
    await timers.advance(MAX_BACKOFF_MS * 2);
    expect(sent).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: 'provider.registration.failed', status: 403, needsAttention: true });
    expect(stored).toEqual(['needs-attention: 403 Forbidden']);
  });

  it('a registrar on a network that is not allowed is never contacted', async () => {
    const { agent, timers, sent, stored } = setup([ok(600)], { checkTarget: (t) => `${t.address} is private` });
    await agent.start();
    await timers.advance(0);
    expect(sent).toHaveLength(0);
    expect(agent.registrations()[0]!.state).toBe(RegistrationState.NeedsAttention);
    expect(stored).toEqual(['needs-attention: registrar not allowed: 203.0.113.10 is private']);
  });

  it('clean shutdown unregisters with Expires: 0', async () => {
    const { agent, timers, sent, events } = setup([ok(600), ok(0)]);
    await agent.start();
    await timers.advance(0);
    await agent.stop();
    expect(sent.map((r) => r.headers.get('Expires'))).toEqual(['600', '0']);
    expect(events.at(-1)!.type).toBe('provider.registration.unregistered');
    expect(timers.next()).toBeUndefined();
  });
});

describe('provider edits', () => {
  it('an edited provider leaves "needs attention" at the next sync and registers again', async () => {
    const timers = new FakeTimers();
    let current: ProviderRecord = { ...provider };
    const answers = [status(403), ok(600)];
    const agent = new ProviderRegistrationAgent({
      sender: { send: async (req) => answers.shift()!(req), contactAddress: () => ({ host: '198.51.100.7', port: 5060 }) },
      timers, now: () => timers.now, random: () => 0, resolve: async () => '203.0.113.10', checkTarget: () => undefined,
      store: async () => {}, emit: () => {}, logger: pino({ level: 'silent' }), list: async () => [current], syncMs: 30_000,
    });
    await agent.start();
    await timers.advance(0);
    expect(agent.registrations()[0]!.state).toBe(RegistrationState.NeedsAttention);
    current = { ...provider, password: 'fixed' };
    await timers.advance(30_000);
    await timers.advance(0);
    expect(agent.registrations()[0]!.state).toBe(RegistrationState.Registered);
    expect(timers.pending.size).toBe(2); // the refresh and the next sync
    await agent.stop();
  });
});
