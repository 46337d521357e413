import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPatchbay, type PatchbayServer } from './harness/index.ts';
import { answerChallenge, RawUdpPeer, registerText, tcpRequest } from './raw-sip-client.ts';
import { provision } from './registrar-support.ts';

const DOMAIN = 'trust.test';
const PASSWORD = 'pbx-secret';

/**
 * Issue 8 item 1: an account's allowed CIDRs are trusted on their own only over connection
 * transports. Over UDP the source address is whatever the sender writes, so a datagram "from"
 * 127.0.0.1 must still be challenged.
 */
describe('source CIDR trust (e2e)', () => {
  let server: PatchbayServer;

  beforeAll(async () => {
    server = await startPatchbay();
    await provision(server, [
      ['tenant', 'add', DOMAIN],
      ['account', 'add', `pbx@${DOMAIN}`, '--password', PASSWORD, '--allowed-cidr', '127.0.0.0/8'],
      ['account', 'add', `fenced@${DOMAIN}`, '--password', PASSWORD, '--allowed-cidr', '192.0.2.0/24'],
      ['account', 'add', `trunk@${DOMAIN}`, '--password', PASSWORD, '--allowed-cidr', '127.0.0.0/8', '--trust-udp-source', 'on'],
    ]);
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('challenges a UDP REGISTER from an allowed source without credentials, and accepts it with digest', async () => {
    const peer = await RawUdpPeer.open('127.0.0.1');
    try {
      const base = { user: 'pbx', domain: DOMAIN, transport: 'udp' as const, localPort: peer.port, callId: 'spoof-1' };
      const bare = await peer.request(registerText(base), server.sipPort);
      expect(bare?.status).toBe(401);
      const authorization = answerChallenge(bare!, 'pbx', PASSWORD, DOMAIN);
      const ok = await peer.request(registerText({ ...base, cseq: 2, authorization }), server.sipPort);
      expect(ok?.status).toBe(200);
    } finally {
      peer.close();
    }
  });

  it('accepts a TCP REGISTER from an allowed source without credentials', async () => {
    const res = await tcpRequest((localPort) => registerText({ user: 'pbx', domain: DOMAIN, transport: 'tcp', localPort }), server.tcpPort);
    expect(res?.status).toBe(200);
  });

  it('refuses a source outside the allowed CIDRs even with the right password', async () => {
    const peer = await RawUdpPeer.open('127.0.0.1');
    try {
      const base = { user: 'fenced', domain: DOMAIN, transport: 'udp' as const, localPort: peer.port, callId: 'fenced-1' };
      const first = await peer.request(registerText(base), server.sipPort);
      expect(first?.status).toBe(401);
      const authorization = answerChallenge(first!, 'fenced', PASSWORD, DOMAIN);
      const res = await peer.request(registerText({ ...base, cseq: 2, authorization }), server.sipPort);
      expect(res?.status).toBe(403);
    } finally {
      peer.close();
    }
  });

  it('trusts a UDP source alone only for an account set up with --trust-udp-source on', async () => {
    const peer = await RawUdpPeer.open('127.0.0.1');
    try {
      const res = await peer.request(registerText({ user: 'trunk', domain: DOMAIN, transport: 'udp', localPort: peer.port, callId: 'trunk-1' }), server.sipPort);
      expect(res?.status).toBe(200);
    } finally {
      peer.close();
    }
    expect((await server.cli(['account', 'set', `pbx@${DOMAIN}`, '--trust-udp-source', 'maybe'])).code).toBe(2);
  });
});
