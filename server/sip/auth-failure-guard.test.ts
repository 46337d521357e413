import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AuthFailureGuard, sourceKey } from './auth-failure-guard.ts';

function clock(start = 1_800_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, stream) };
}

const MIN = 60_000;

describe('AuthFailureGuard', () => {
  it('bans a source at the 10th failure within 60 s, for 10 min', () => {
    const c = clock();
    const g = new AuthFailureGuard({ now: c.now });
    for (let i = 0; i < 9; i++) g.recordFailure({ source: '198.51.100.7', user: `u${i}`, realm: 'acme.test' });
    expect(g.isBanned('198.51.100.7')).toBe(false);
    g.recordFailure({ source: '198.51.100.7', user: 'u9', realm: 'acme.test' });
    expect(g.isBanned('198.51.100.7')).toBe(true);
    expect(g.isBanned('198.51.100.8')).toBe(false);
    c.advance(10 * MIN - 1);
    expect(g.isBanned('198.51.100.7')).toBe(true);
    c.advance(1);
    expect(g.isBanned('198.51.100.7')).toBe(false);
  });

  it('forgets failures outside the window', () => {
    const c = clock();
    const g = new AuthFailureGuard({ now: c.now });
    for (let i = 0; i < 9; i++) g.recordFailure({ source: '198.51.100.7' });
    c.advance(MIN);
    for (let i = 0; i < 9; i++) g.recordFailure({ source: '198.51.100.7' });
    expect(g.isBanned('198.51.100.7')).toBe(false);
  });

  it('doubles the ban for a repeat offender, up to 24 h, and resets after a quiet day', () => {
    const c = clock();
    const g = new AuthFailureGuard({ now: c.now });
    const offend = () => {
      for (let i = 0; i < 10; i++) g.recordFailure({ source: '203.0.113.1' });
    };
    const expected = [10, 20, 40, 80, 160, 320, 640, 1280, 1440, 1440];
    for (const minutes of expected) {
      offend();
      expect(g.bans()).toEqual([{ source: '203.0.113.1', until: c.now() + minutes * MIN, level: expect.any(Number), reason: 'source-limit' }]);
      c.advance(minutes * MIN);
      expect(g.isBanned('203.0.113.1')).toBe(false);
    }
    c.advance(24 * 60 * MIN + 1);
    expect(g.isBanned('203.0.113.1')).toBe(false);
    offend();
    expect(g.bans()[0]).toMatchObject({ until: c.now() + 10 * MIN, level: 1 });
  });

  it('after 30 failures against one account bans each further failing source at once', () => {
    const c = clock();
    const g = new AuthFailureGuard({ now: c.now });
    for (let i = 0; i < 30; i++) g.recordFailure({ source: `192.0.2.${i}`, user: '1001', realm: 'acme.test' });
    expect(g.isBanned('192.0.2.0')).toBe(false);
    expect(g.isBanned('192.0.2.29')).toBe(true);
    g.recordFailure({ source: '192.0.2.200', user: '1001', realm: 'acme.test' });
    expect(g.isBanned('192.0.2.200')).toBe(true);
    // Another account, another source: untouched, and the account itself is never locked.
    g.recordFailure({ source: '192.0.2.201', user: '1002', realm: 'acme.test' });
    expect(g.isBanned('192.0.2.201')).toBe(false);
    c.advance(10 * MIN);
    g.recordFailure({ source: '192.0.2.202', user: '1001', realm: 'acme.test' });
    expect(g.isBanned('192.0.2.202')).toBe(false);
  });

  it('never bans exempt networks but still logs their failures', () => {
    const { lines, logger } = capture();
    const g = new AuthFailureGuard({ isExempt: (a) => a.startsWith('10.'), logger });
    for (let i = 0; i < 50; i++) g.recordFailure({ source: '10.1.2.3', user: '1001', realm: 'acme.test' });
    expect(g.isBanned('10.1.2.3')).toBe(false);
    expect(lines.filter((l) => l.event === 'auth.failed')).toHaveLength(50);
  });

  it('writes one fail2ban-friendly line per failure, and logs ban and unban', () => {
    const c = clock();
    const { lines, logger } = capture();
    const g = new AuthFailureGuard({ now: c.now, logger, sourceLimit: 2 });
    g.recordFailure({ source: '198.51.100.7', port: 5062, transport: 'udp', user: '1001', realm: 'acme.test', reason: 'bad-response' });
    expect(lines[0]).toMatchObject({ event: 'auth.failed', source: '198.51.100.7', transport: 'udp', user: '1001', realm: 'acme.test', level: 40 });
    g.recordFailure({ source: '198.51.100.7', user: '1001', realm: 'acme.test' });
    expect(lines.map((l) => l.event)).toEqual(['auth.failed', 'auth.failed', 'auth.ban']);
    expect(lines[2]).toMatchObject({ source: '198.51.100.7', durationSec: 600, banLevel: 1, level: 40 });
    expect(g.unban('198.51.100.7')).toBe(true);
    expect(g.isBanned('198.51.100.7')).toBe(false);
    expect(lines[3]).toMatchObject({ event: 'auth.unban', source: '198.51.100.7', why: 'operator' });
    expect(g.unban('198.51.100.7')).toBe(false);
  });

  it('counts IPv6 sources per /64 and IPv4-mapped addresses as IPv4', () => {
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:2::ffff')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    const g = new AuthFailureGuard();
    for (let i = 0; i < 10; i++) g.recordFailure({ source: `2001:db8:1:2::${i + 1}` });
    expect(g.isBanned('2001:db8:1:2:dead:beef::9')).toBe(true);
    expect(g.isBanned('2001:db8:1:3::1')).toBe(false);
  });

  it('keeps its tables bounded under a flood of distinct sources', () => {
    const g = new AuthFailureGuard({ maxTracked: 100, sourceLimit: 1 });
    for (let i = 0; i < 5000; i++) g.recordFailure({ source: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, user: `u${i}`, realm: 'r' });
    expect(g.bans().length).toBeLessThanOrEqual(100);
  });
});
