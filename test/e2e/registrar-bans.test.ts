import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseTargets } from '../../db/test-databases.ts';
import type { PatchbayServer } from './harness/index.ts';
import { answerChallenge, RawUdpPeer, registerText, type RawResponse } from './raw-sip-client.ts';
import { sleep, startGuardedSwitch } from './security-support.ts';

const DOMAIN = 'bans.test';
const PASSWORD = 'ban-test-password';
const GUESSER = '127.0.0.6';

/**
 * Issue 8 item 7, the operator's side: a ban imposed for guessing is listed by
 * `patchbay ban list` (from the database the running server writes), survives a restart, and
 * `patchbay ban remove` lifts it while the server runs — the source registers again.
 */
describe.each(testDatabaseTargets())('bans the operator sees and lifts on $dialect (e2e)', (target) => {
  let server: PatchbayServer;
  let peer: RawUdpPeer;
  let cleanup: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const db = await target.create();
    cleanup = db.cleanup;
    server = await startGuardedSwitch(DOMAIN, { '1001': PASSWORD }, { dbUrl: db.url, logLevel: 'info', env: { PATCHBAY_AUTH_FAILURES_PER_SOURCE: '5' } });
    peer = await RawUdpPeer.open(GUESSER);
  }, 90_000);

  afterAll(async () => {
    peer?.close();
    await server?.stop();
    await cleanup?.();
  });

  /** REGISTER, then answer the challenge with `password`; the final answer (or the refusal of the first). */
  async function register(password: string, n: number): Promise<RawResponse | undefined> {
    const base = { user: '1001', domain: DOMAIN, transport: 'udp' as const, localAddress: GUESSER, localPort: peer.port, callId: `bans-${n}` };
    const challenge = await peer.request(registerText(base), server.sipPort);
    if (challenge?.status !== 401) return challenge;
    return peer.request(registerText({ ...base, cseq: 2, authorization: answerChallenge(challenge, '1001', password, DOMAIN) }), server.sipPort);
  }

  it('bans a guesser, lists the ban, keeps it over a restart, and lifts it on `ban remove`', async () => {
    for (let i = 1; i <= 5; i++) expect((await register(`wrong-${i}`, i))?.status).toBe(403);
    const banned = await register(PASSWORD, 6);
    expect(banned?.status).toBe(403);
    expect(banned?.headers.has('www-authenticate')).toBe(false);

    const list = await server.cli(['ban', 'list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const bans = JSON.parse(list.stdout) as Array<{ address: string; reason: string; until: string; count: number }>;
    expect(bans).toEqual([{ address: GUESSER, reason: 'source-limit', until: expect.any(String), count: 1 }]);
    expect(Date.parse(bans[0]!.until)).toBeGreaterThan(Date.now() + 500_000); // 600 s default

    await server.restart();
    expect((await register(PASSWORD, 7))?.status, 'the ban did not survive the restart').toBe(403);

    const removed = await server.cli(['ban', 'remove', GUESSER]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain(`ban on ${GUESSER} removed`);
    let status: number | undefined;
    for (let attempt = 0; attempt < 20 && status !== 200; attempt++) {
      await sleep(500);
      status = (await register(PASSWORD, 100 + attempt))?.status;
    }
    expect(status, 'the running server did not lift the ban').toBe(200);
    expect(server.output).toMatch(/"event":"auth\.unban".*"why":"operator"/);
    expect(JSON.parse((await server.cli(['ban', 'list', '--json'])).stdout)).toEqual([]);
  }, 60_000);

  // The CLI's answers do not depend on the dialect: checked once.
  it.skipIf(target.dialect !== 'sqlite')('`ban remove` of an address without a ban fails; a malformed address is a usage error', async () => {
    const none = await server.cli(['ban', 'remove', '192.0.2.77']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no ban on 192.0.2.77');
    const bad = await server.cli(['ban', 'remove', 'not-an-ip']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('<ip> must be an IPv4 or IPv6 address');
    expect((await server.cli(['ban', 'list'])).stdout).toContain('no bans');
  }, 30_000);
});
