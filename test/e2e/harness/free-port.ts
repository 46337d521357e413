import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

/**
 * Asks the kernel for an ephemeral port by binding port 0 on both TCP and UDP, then releases it.
 * A SIP server listens on the same number for UDP and TCP, so the number must be free on both.
 * There is a short race between release and reuse; callers that care retry on EADDRINUSE.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freeTcpPort(host);
    if (await udpPortIsFree(port, host)) return port;
  }
  throw new Error('no port free on both TCP and UDP after 20 attempts');
}

function freeTcpPort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function udpPortIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolveFree) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolveFree(false);
    });
    socket.bind(port, host, () => socket.close(() => resolveFree(true)));
  });
}

/** Several distinct free ports (distinct among themselves too). */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports = new Set<number>();
  for (let attempt = 0; ports.size < count && attempt < count * 10; attempt++) {
    ports.add(await freePort(host));
  }
  if (ports.size < count) throw new Error(`could not find ${count} distinct free ports`);
  return [...ports];
}
