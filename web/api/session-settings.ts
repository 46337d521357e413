import { ConfigError } from '../../config/config-error.ts';
import { DEFAULT_SESSION_SETTINGS, type SessionSettings } from './middleware/auth.ts';

/**
 * Browser session lifetimes from the environment, in minutes: `PATCHBAY_SESSION_MAX_AGE_MIN`
 * (from sign-in, default 720 = 12 h) and `PATCHBAY_SESSION_IDLE_MIN` (unused this long ends it,
 * default 30). The idle timeout cannot be longer than the lifetime.
 */
export function sessionSettingsFromEnv(env: Record<string, string | undefined>): SessionSettings {
  const minutes = (name: string, fallbackMs: number): number => {
    const text = env[name]?.trim();
    if (text === undefined || text === '') return fallbackMs;
    if (!/^\d{1,7}$/.test(text) || Number(text) < 1 || Number(text) > 525_600) throw new ConfigError(name, `expected whole minutes 1..525600, got "${text}"`);
    return Number(text) * 60_000;
  };
  const maxAgeMs = minutes('PATCHBAY_SESSION_MAX_AGE_MIN', DEFAULT_SESSION_SETTINGS.maxAgeMs);
  const idleMs = minutes('PATCHBAY_SESSION_IDLE_MIN', Math.min(DEFAULT_SESSION_SETTINGS.idleMs, maxAgeMs));
  if (idleMs > maxAgeMs) throw new ConfigError('PATCHBAY_SESSION_IDLE_MIN', `must not be longer than PATCHBAY_SESSION_MAX_AGE_MIN (${maxAgeMs / 60_000})`);
  return { maxAgeMs, idleMs };
}
