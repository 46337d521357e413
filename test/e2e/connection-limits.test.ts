import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPatchbay, type PatchbayServer } from './harness/index.ts';
import { registerText } from './raw-sip-client.ts';
import { provision } from './registrar-support.ts';

const DOMAIN = 'conn.test';

/**
 * Issue 8 item 9 against the real server: per-source connection cap, the first-message
 * deadline (slowloris), and a registered phone's CRLF keep-alives keeping its connection.
 */
describe('TCP connection limits (e2e)', () => {
  let server: PatchbayServer;

  beforeAll(async () => {
    server = await startPatchbay({
      env: { PATCHBAY_MAX_CONNECTIONS_PER_SOURCE: '4', PATCHBAY_FIRST_MESSAGE_TIMEOUT: '1', PATCHBAY_IDLE_CONNECTION_TIMEOUT: '10' },
    });
    await provision(server, [
      ['tenant', 'add', DOMAIN],
      ['account', 'add', `pbx@${DOMAIN}`, '--password', 'pbx-password', '--allowed-cidr', '127.0.0.0/8'],
    ]);
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('accepts at most 4 connections from one address; another address still connects', async () => {
    const conns = await Promise.all(Array.from({ length: 6 }, () => connect(server.tcpPort, '127.0.0.1')));
    const other = await connect(server.tcpPort, '127.0.0.3');
    try {
      await sleep(300);
      expect(conns.filter((c) => !c.closed).length).toBe(4);
      expect(other.closed).toBe(false);
    } finally {
      for (const c of [...conns, other]) c.socket.destroy();
    }
  });

  it('closes a connection that trickles an unfinished message, keeps one that sends keep-alives', async () => {
    const slow = await connect(server.tcpPort, '127.0.0.4');
    const phone = await connect(server.tcpPort, '127.0.0.5');
    const text = registerText({ user: 'pbx', domain: DOMAIN, transport: 'tcp', localPort: phone.socket.localPort!, localAddress: '127.0.0.5' });
    phone.socket.write(text);
    const trickle = setInterval(() => slow.socket.writable && slow.socket.write('R'), 200);
    const ping = setInterval(() => phone.socket.writable && phone.socket.write('\r\n\r\n'), 400);
    try {
      await sleep(3000);
      expect(slow.closed).toBe(true);
      expect(phone.closed).toBe(false);
      expect(phone.received).toMatch(/^SIP\/2\.0 200 OK/);
    } finally {
      clearInterval(trickle);
      clearInterval(ping);
      slow.socket.destroy();
      phone.socket.destroy();
    }
  }, 15_000);
});

interface Conn {
  socket: net.Socket;
  closed: boolean;
  received: string;
}

function connect(port: number, localAddress: string): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    const conn: Conn = { socket, closed: false, received: '' };
    socket.on('data', (d) => (conn.received += d.toString('latin1')));
    socket.on('close', () => (conn.closed = true));
    socket.on('error', () => {});
    socket.once('connect', () => resolve(conn));
    socket.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
