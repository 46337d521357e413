import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PatchbayServer } from './harness/index.ts';
import { registerText } from './raw-sip-client.ts';
import { inviteText, nextStats, RecordingUdpPeer, registerWithSipp, sleep, startGuardedSwitch } from './security-support.ts';

const DOMAIN = 'flood.test';
const PASSWORD = 'flood-test-password';

/**
 * Issue 8 item 8 against the real server: out-of-dialog refusals are stateless (one answer, no
 * Timer G, no table entry), and a source over its request rate is dropped while a phone on
 * another source registers.
 */
describe('flood defences (e2e)', () => {
  let server: PatchbayServer;

  beforeAll(async () => {
    server = await startGuardedSwitch(DOMAIN, { '1001': PASSWORD }, {
      logLevel: 'info',
      env: { PATCHBAY_STATS_INTERVAL: '1', PATCHBAY_RATE_LIMIT_PER_SOURCE: '20', PATCHBAY_RATE_LIMIT_BURST: '40' },
    });
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('a spoofed INVITE gets exactly one 407 — no 100 Trying, no retransmission — and leaves no transaction', async () => {
    const victim = await RecordingUdpPeer.open('127.0.0.3');
    try {
      for (const [i, user] of ['1001', 'nobody-here'].entries()) {
        await victim.send(inviteText({ fromUser: user, fromDomain: DOMAIN, toUser: '2000', toDomain: DOMAIN, localAddress: victim.address, localPort: victim.port }), server.sipPort);
        // Timer G would resend at 0.5 s and 1.5 s, Timer H keep the entry for 32 s.
        await sleep(2200);
        expect(victim.received.map((r) => r.status)).toEqual(Array(i + 1).fill(407));
      }
      expect(victim.received[0]!.headers.get('proxy-authenticate')?.[0]).toMatch(/^Digest /);
      const stats = await nextStats(server);
      expect(stats.serverTransactions).toBe(0);
      expect(stats.statelessFinals).toBeGreaterThanOrEqual(2);
    } finally {
      victim.close();
    }
  }, 20_000);

  it('a REGISTER flood above the source rate is dropped while a phone on another address registers', async () => {
    const flooder = await RecordingUdpPeer.open('127.0.0.4');
    try {
      for (let i = 0; i < 300; i++) {
        await flooder.send(registerText({ user: `u${i}`, domain: DOMAIN, transport: 'udp', localAddress: flooder.address, localPort: flooder.port }), server.sipPort);
      }
      const phone = await registerWithSipp(server, { user: '1001', domain: DOMAIN, password: PASSWORD }, '127.0.0.5');
      expect(phone.code, phone.diagnostics).toBe(0);
      // 40 at once plus 20/s while the burst went out: far fewer answers than requests.
      expect(flooder.received.length).toBeGreaterThanOrEqual(40);
      expect(flooder.received.length).toBeLessThan(150);
      expect(server.output).toMatch(/"event":"sip\.rate-limited".*"source":"127\.0\.0\.4"/);
      expect((await nextStats(server)).rateLimited).toBeGreaterThan(100);
    } finally {
      flooder.close();
    }
  }, 30_000);
});
