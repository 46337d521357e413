import { describe, expect, it } from 'vitest';
import { LoginBrake } from './login-brake.ts';

describe('LoginBrake', () => {
  it('locks an address that tries many e-mails, and an e-mail tried from many addresses', () => {
    let now = 0;
    const brake = new LoginBrake({ maxFailuresPerEmail: 3, maxFailuresPerAddress: 4, windowMs: 60_000, lockMs: 120_000, now: () => now });
    for (let i = 0; i < 4; i++) brake.fail('198.51.100.1', `user${i}@x.test`);
    expect(brake.check('198.51.100.1', 'fresh@x.test')).toEqual({ locked: true, by: 'address', retryAfterSec: 120 });
    expect(brake.check('198.51.100.2', 'fresh@x.test')).toEqual({ locked: false });
    for (let i = 0; i < 3; i++) brake.fail(`203.0.113.${i}`, 'Victim@x.test');
    expect(brake.check('203.0.113.99', 'victim@x.test')).toMatchObject({ locked: true, by: 'email' });
    now += 121_000;
    expect(brake.check('203.0.113.99', 'victim@x.test')).toEqual({ locked: false });
    expect(brake.check('198.51.100.1', 'fresh@x.test')).toEqual({ locked: false });
  });

  it('forgets failures outside the window, and a good login clears its e-mail only', () => {
    let now = 0;
    const brake = new LoginBrake({ maxFailuresPerEmail: 3, maxFailuresPerAddress: 3, windowMs: 60_000, now: () => now });
    brake.fail('192.0.2.1', 'a@x.test');
    brake.fail('192.0.2.1', 'a@x.test');
    now += 61_000;
    brake.fail('192.0.2.1', 'a@x.test');
    expect(brake.check('192.0.2.1', 'a@x.test')).toEqual({ locked: false });
    brake.fail('192.0.2.2', 'b@x.test');
    brake.fail('192.0.2.2', 'b@x.test');
    brake.succeed('b@x.test');
    brake.fail('192.0.2.3', 'b@x.test');
    expect(brake.check('192.0.2.9', 'b@x.test')).toEqual({ locked: false });
  });

  it('keeps its memory bounded however many e-mails a stranger tries', () => {
    const brake = new LoginBrake({ maxEntries: 100 });
    for (let i = 0; i < 10_000; i++) brake.fail(`10.0.${i >> 8}.${i & 255}`, `u${i}@x.test`);
    const sizes = brake as unknown as { byAddress: Map<string, unknown>; byEmail: Map<string, unknown> };
    expect(sizes.byAddress.size).toBeLessThanOrEqual(100);
    expect(sizes.byEmail.size).toBeLessThanOrEqual(100);
  });
});
