import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKysely } from '../../db/open-database.ts';
import { testDatabaseTargets } from '../../db/test-databases.ts';
import { DEFAULT_SESSION_SETTINGS } from './middleware/auth.ts';
import { sessionSettingsFromEnv } from './session-settings.ts';
import { startApiHarness, type ApiHarness } from './test-support.ts';

describe('session settings from the environment', () => {
  it('defaults to 12 h and 30 min; reads whole minutes; names the variable on bad input', () => {
    expect(sessionSettingsFromEnv({})).toEqual(DEFAULT_SESSION_SETTINGS);
    expect(sessionSettingsFromEnv({ PATCHBAY_SESSION_MAX_AGE_MIN: '480', PATCHBAY_SESSION_IDLE_MIN: '15' })).toEqual({ maxAgeMs: 480 * 60_000, idleMs: 15 * 60_000 });
    // A lifetime shorter than the default idle timeout pulls the idle timeout down with it.
    expect(sessionSettingsFromEnv({ PATCHBAY_SESSION_MAX_AGE_MIN: '10' })).toEqual({ maxAgeMs: 600_000, idleMs: 600_000 });
    expect(() => sessionSettingsFromEnv({ PATCHBAY_SESSION_IDLE_MIN: '0' })).toThrow('config: PATCHBAY_SESSION_IDLE_MIN: expected whole minutes 1..525600, got "0"');
    expect(() => sessionSettingsFromEnv({ PATCHBAY_SESSION_MAX_AGE_MIN: '1.5h' })).toThrow('PATCHBAY_SESSION_MAX_AGE_MIN');
    expect(() => sessionSettingsFromEnv({ PATCHBAY_SESSION_MAX_AGE_MIN: '60', PATCHBAY_SESSION_IDLE_MIN: '90' })).toThrow('must not be longer than PATCHBAY_SESSION_MAX_AGE_MIN (60)');
  });
});

describe.each(testDatabaseTargets())('configured session lifetime and idle timeout on $dialect', (target) => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApiHarness(target, { session: sessionSettingsFromEnv({ PATCHBAY_SESSION_MAX_AGE_MIN: '5', PATCHBAY_SESSION_IDLE_MIN: '2' }) });
    await h.db.users.add({ email: 'idle@example.com', password: 'an-idle-password', role: 'operator', tenantId: null });
  });
  afterAll(async () => h?.close());

  const login = async () => {
    const res = await h.call('POST', '/auth/login', { body: { email: 'idle@example.com', password: 'an-idle-password' } });
    expect(res.status).toBe(200);
    return res.headers.get('set-cookie')!;
  };
  const status = async (setCookie: string) => (await fetch(`${h.base}/auth/session`, { headers: { cookie: setCookie.split(';')[0]! } })).status;
  /** Pretends the session was last used `ms` ago. */
  const ageBy = async (ms: number) => {
    const raw = createKysely(h.url, h.db.dialect);
    try {
      await raw.updateTable('web_sessions').set({ last_seen_at: Date.now() - ms }).execute();
    } finally {
      await raw.destroy();
    }
  };

  it('a session lives PATCHBAY_SESSION_MAX_AGE_MIN (cookie and row)', async () => {
    const cookie = await login();
    // The cookie expires with the session (about 5 min from now, far from the 12 h default).
    const expires = Date.parse(/expires=([^;]+)/i.exec(cookie)![1]!);
    expect(expires).toBeGreaterThan(Date.now() + 4 * 60_000);
    expect(expires).toBeLessThan(Date.now() + 6 * 60_000);
    const [s] = (await (await fetch(`${h.base}/auth/sessions`, { headers: { cookie: cookie.split(';')[0]! } })).json()) .items as Array<{ createdAt: number; expiresAt: number }>;
    expect(s!.expiresAt - s!.createdAt).toBe(300_000);
  });

  it('a session unused for PATCHBAY_SESSION_IDLE_MIN is over (the default 30 min would keep it)', async () => {
    const fresh = await login();
    await ageBy(60_000);
    expect(await status(fresh)).toBe(200);
    const idle = await login();
    await ageBy(3 * 60_000);
    expect(await status(idle)).toBe(401);
  });
});
