import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PatchbayServer } from './harness/index.ts';
import { inviteText, RecordingUdpPeer, sleep, startGuardedSwitch, statsLines } from './security-support.ts';

const DOMAIN = 'memflood.test';
const FLOOD_SECONDS = 60;
const RATE_PER_SEC = 300;
/** Forged source addresses: each stays under the per-source rate, so every INVITE reaches the call layer. */
const SOURCES = 20;
const MiB = 1024 * 1024;
/** What the flood is made of, in turn, and the one answer each deserves. */
const KINDS = [
  { method: 'INVITE', fromTenant: true, forgedDialog: false, answer: 407 },
  { method: 'INVITE', fromTenant: false, forgedDialog: false, answer: 404 },
  { method: 'OPTIONS', fromTenant: false, forgedDialog: false, answer: 200 },
  { method: 'BYE', fromTenant: false, forgedDialog: true, answer: 481 },
  { method: 'INVITE', fromTenant: false, forgedDialog: true, answer: 481 },
];

/**
 * Issue 8 "Proof": the switch's memory stays bounded during a 60 s spoofed-INVITE flood. 300
 * requests a second from 20 source addresses with a fresh made-up From user each, in turn: INVITEs
 * claiming the tenant's domain (→ 407), INVITEs to unknown users from elsewhere (→ 404), OPTIONS
 * (→ 200), BYEs and re-INVITEs in made-up dialogs (→ 481): the transaction, call,
 * dialog and nonce tables stay near empty throughout, each INVITE is answered exactly once (no
 * amplification), and the heap does not grow with the number of INVITEs. The tables are read from
 * the server's own `sip.stats` lines (PATCHBAY_STATS_INTERVAL); no timing is asserted.
 */
describe('60 s spoofed-INVITE flood (e2e)', () => {
  let server: PatchbayServer;
  const peers: RecordingUdpPeer[] = [];

  beforeAll(async () => {
    server = await startGuardedSwitch(DOMAIN, { '1001': 'memflood-password' }, { logLevel: 'info', env: { PATCHBAY_STATS_INTERVAL: '2' } });
    for (let i = 0; i < SOURCES; i++) peers.push(await RecordingUdpPeer.open(`127.0.2.${i + 10}`));
  }, 90_000);

  afterAll(async () => {
    for (const p of peers) p.close();
    await server?.stop();
  });

  it('keeps every table near empty and the heap flat while answering each request once', async () => {
    const statsBefore = statsLines(server).length;
    let sent = 0;
    const perTick = RATE_PER_SEC / 50;
    const deadline = Date.now() + FLOOD_SECONDS * 1000;
    // Bounded: stops at the deadline whatever happens.
    while (Date.now() < deadline) {
      const sends: Array<Promise<void>> = [];
      for (let k = 0; k < perTick; k++) {
        const peer = peers[sent % SOURCES]!;
        const kind = KINDS[sent % KINDS.length]!;
        const user = `spoof${randomBytes(4).toString('hex')}`;
        sends.push(
          peer.send(
            inviteText({
              method: kind.method,
              fromUser: user,
              fromDomain: kind.fromTenant ? DOMAIN : 'elsewhere.example',
              toUser: kind.fromTenant ? '0900123456' : `x${user}`,
              toDomain: DOMAIN,
              toTag: kind.forgedDialog ? randomBytes(4).toString('hex') : undefined,
              localAddress: peer.address,
              localPort: peer.port,
            }),
            server.sipPort,
          ),
        );
        sent++;
      }
      await Promise.all(sends);
      await sleep(20);
    }
    await sleep(3000); // the last answers, and one more stats line

    const stats = statsLines(server).slice(statsBefore);
    expect(stats.length).toBeGreaterThanOrEqual(20);
    for (const s of stats) {
      expect(s.serverTransactions, JSON.stringify(s)).toBeLessThan(200);
      expect(s.calls).toBe(0);
      expect(s.dialogs).toBe(0);
      expect(s.nonceCounts).toBe(0);
      expect(s.nonceWrongAnswers).toBe(0);
      expect(s.overflowRejects).toBe(0);
    }
    const last = stats.at(-1)!;
    expect(last.serverTransactions).toBe(0);
    expect(last.rateLimited).toBe(0);
    expect(last.statelessFinals).toBeGreaterThanOrEqual(sent * 0.95);
    expect(last.clientTransactions).toBe(0);

    // One answer per request: no 100 Trying, no Timer G copies toward the forged sources.
    const received = peers.flatMap((p) => p.received);
    expect(received.length).toBeLessThanOrEqual(sent);
    expect(received.length).toBeGreaterThanOrEqual(sent * 0.95);
    const statuses = new Set(received.map((r) => r.status));
    expect([...statuses].sort()).toEqual([...new Set(KINDS.map((k) => k.answer))].sort());

    // The heap follows the garbage collector, not the INVITE count: the second half of the run
    // peaks no higher than the first half did, give or take one GC cycle's worth.
    const heaps = stats.map((s) => s.heapUsed);
    const half = Math.floor(heaps.length / 2);
    const firstPeak = Math.max(...heaps.slice(0, half));
    const secondPeak = Math.max(...heaps.slice(half));
    expect(secondPeak, `heap samples (MiB): ${heaps.map((h) => Math.round(h / MiB)).join(' ')}`).toBeLessThan(firstPeak + 32 * MiB);
    expect(Math.max(...heaps)).toBeLessThan(256 * MiB);
  }, 120_000);
});
