import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PatchbayServer } from './harness/index.ts';
import { answerChallenge, RawUdpPeer, registerText } from './raw-sip-client.ts';
import { registerWithSipp, startGuardedSwitch } from './security-support.ts';

const DOMAIN = 'guard.test';
const PASSWORD = 'right-horse-battery';
const MAX_GUESSES = 20;

/**
 * Issue 8 item 7: a password guesser over UDP from 127.0.0.1 (the way svcrack works: REGISTER,
 * take the challenge, answer it with the next word) is banned before its 20th guess, while a
 * real phone (sipp) from 127.0.0.2 registers throughout.
 */
describe('brute-force guard (e2e)', () => {
  let server: PatchbayServer;

  beforeAll(async () => {
    server = await startGuardedSwitch(DOMAIN, { '1001': PASSWORD });
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('bans the guessing source before the 20th guess; a phone from another address still registers', async () => {
    const attacker = await RawUdpPeer.open('127.0.0.1');
    let bannedAt: number | undefined;
    let lastGuessStatus: number | undefined;
    try {
      for (let guess = 1; guess <= MAX_GUESSES; guess++) {
        const base = { user: '1001', domain: DOMAIN, transport: 'udp' as const, localPort: attacker.port, callId: `guess-${guess}` };
        const challenge = await attacker.request(registerText(base), server.sipPort);
        if (challenge?.status !== 401) {
          // Banned: 403 at once, with nothing to answer (or silence).
          expect(challenge === undefined || (challenge.status === 403 && !challenge.headers.has('www-authenticate'))).toBe(true);
          bannedAt = guess;
          break;
        }
        const authorization = answerChallenge(challenge, '1001', `wrong-${guess}`, DOMAIN);
        const answer = await attacker.request(registerText({ ...base, cseq: 2, authorization }), server.sipPort);
        lastGuessStatus = answer?.status;
      }
      expect(lastGuessStatus).toBe(403);
      expect(bannedAt, 'the guesser was never banned').toBeDefined();
      expect(bannedAt!).toBeLessThan(MAX_GUESSES);

      // Even the right password is refused from the banned source now.
      const retry = await attacker.request(registerText({ user: '1001', domain: DOMAIN, transport: 'udp', localPort: attacker.port, callId: 'after-ban' }), server.sipPort);
      expect(retry?.status ?? 403).toBe(403);
    } finally {
      attacker.close();
    }

    const phone = await registerWithSipp(server, { user: '1001', domain: DOMAIN, password: PASSWORD }, '127.0.0.2');
    expect(phone.code, phone.diagnostics).toBe(0);

    // One structured line per failure for fail2ban, and the ban itself.
    const failed = server.output.split('\n').filter((l) => l.includes('"event":"auth.failed"'));
    expect(failed.length).toBeGreaterThanOrEqual(10);
    expect(failed[0]).toMatch(/"source":"127\.0\.0\.1"/);
    expect(failed[0]).toMatch(/"user":"1001"/);
    expect(failed[0]).toMatch(new RegExp(`"realm":"${DOMAIN.replace('.', '\\.')}"`));
    expect(failed[0]).toMatch(/"transport":"udp"/);
    expect(server.output).toMatch(/"event":"auth\.ban".*"source":"127\.0\.0\.1"/);
  }, 60_000);
});
