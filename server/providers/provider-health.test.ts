import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createResponse } from '../sip/index.ts';
import type { ProviderRecord } from './provider-directory.ts';
import { ProviderHealth, type ProviderHealthEvent } from './provider-health.ts';
import type { RegisterOutcome } from './registration-agent.ts';

class FakeTimers {
  now = 0;
  private seq = 0;
  readonly pending = new Map<number, { at: number; fn: () => void }>();
  schedule = (ms: number, fn: () => void): number => {
    this.pending.set(++this.seq, { at: this.now + ms, fn });
    return this.seq;
  };
  cancel = (h: unknown): void => void this.pending.delete(h as number);
  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.pending].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
      for (let i = 0; i < 10; i++) await Promise.resolve();
    }
    this.now = until;
  }
}

const p: ProviderRecord = {
  id: 1, tenantId: 2, name: 'gizmo', serverUri: 'sip:203.0.113.1', outboundProxy: null, username: 'u', authUser: null, register: false,
  registerExpiry: 3600, fromUser: null, customHeaders: {}, settings: { pingIntervalSeconds: 10 },
};

describe('provider health (fake clock)', () => {
  it('two unanswered pings mark it down, one answer marks it up; pings every interval', async () => {
    const timers = new FakeTimers();
    const events: ProviderHealthEvent[] = [];
    const answers: Array<'answer' | 'silent' | 503> = ['answer', 'silent', 503, 'answer'];
    let sent = 0;
    const health = new ProviderHealth({
      send: (req) => {
        sent++;
        const a = answers.shift();
        if (a === 'silent') return new Promise<RegisterOutcome>(() => {});
        return Promise.resolve({ kind: 'response', response: createResponse(req, a === 503 ? 503 : 200) });
      },
      locate: async () => ({ transport: 'udp', address: '203.0.113.1', port: 5060 }),
      callIdHost: () => 'pb', timers, now: () => timers.now, emit: (e) => events.push(e), logger: pino({ level: 'silent' }),
    });
    health.sync([p]);
    await timers.advance(0);
    expect(sent).toBe(1);
    expect(health.isDown(1)).toBe(false);
    await timers.advance(10_000 + 5_000); // silent: times out after 5 s
    expect(health.isDown(1)).toBe(false);
    await timers.advance(10_000); // 503
    expect(health.isDown(1)).toBe(true);
    expect(events.map((e) => e.type)).toEqual(['provider.target.down', 'provider.down']);
    expect(events[0]!.target).toBe('udp:203.0.113.1:5060');
    await timers.advance(10_000);
    expect(health.isDown(1)).toBe(false);
    expect(events.map((e) => e.type)).toEqual(['provider.target.down', 'provider.down', 'provider.target.up', 'provider.up']);
    health.sync([]);
    expect(timers.pending.size).toBe(0);
  });

  it('pings every server target: a silent one is down (tried last), the provider stays up while another answers', async () => {
    const timers = new FakeTimers();
    const events: ProviderHealthEvent[] = [];
    const dead = { transport: 'udp' as const, address: '203.0.113.1', port: 5060 };
    const live = { transport: 'udp' as const, address: '203.0.113.2', port: 5060 };
    const pinged: string[] = [];
    const health = new ProviderHealth({
      send: (req, target) => {
        pinged.push(target.address);
        if (target.address === dead.address) return new Promise<RegisterOutcome>(() => {});
        return Promise.resolve({ kind: 'response', response: createResponse(req, 200) });
      },
      locate: async () => [dead, live],
      callIdHost: () => 'pb', timers, now: () => timers.now, emit: (e) => events.push(e), logger: pino({ level: 'silent' }),
    });
    health.sync([p]);
    await timers.advance(0);
    expect(pinged).toEqual(['203.0.113.1', '203.0.113.2']);
    // A round ends when its slowest ping timed out (5 s); the next starts an interval later.
    await timers.advance(5_000 + 10_000 + 5_000);
    expect([...health.downTargets(1)]).toEqual(['udp:203.0.113.1:5060']);
    expect(health.isDown(1)).toBe(false);
    expect(events.map((e) => [e.type, e.target])).toEqual([['provider.target.down', 'udp:203.0.113.1:5060']]);
    health.stop();
  });
});
