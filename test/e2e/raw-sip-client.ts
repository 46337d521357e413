import { createSocket } from 'node:dgram';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { DigestClient } from '../../server/sip/index.ts';

/**
 * Hand-written SIP over raw sockets, for the attacks the e2e security tests perform: sipp and
 * baresip cannot pick their source address per request, fake a spoofed datagram, or send the
 * same wrong password on purpose twenty times.
 */
export interface RawRegister {
  user: string;
  domain: string;
  transport: 'udp' | 'tcp';
  /** Port the sending socket is bound to (Via and Contact name it). */
  localPort: number;
  localAddress?: string;
  callId?: string;
  cseq?: number;
  authorization?: string;
}

export function registerText(r: RawRegister): string {
  const host = r.localAddress ?? '127.0.0.1';
  const proto = r.transport.toUpperCase();
  return (
    `REGISTER sip:${r.domain} SIP/2.0\r\n` +
    `Via: SIP/2.0/${proto} ${host}:${r.localPort};rport;branch=z9hG4bK-${randomBytes(6).toString('hex')}\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:${r.user}@${r.domain}>;tag=${randomBytes(4).toString('hex')}\r\nTo: <sip:${r.user}@${r.domain}>\r\n` +
    `Call-ID: ${r.callId ?? randomBytes(8).toString('hex')}\r\nCSeq: ${r.cseq ?? 1} REGISTER\r\n` +
    `Contact: <sip:${r.user}@${host}:${r.localPort};transport=${r.transport}>\r\nExpires: 300\r\n` +
    (r.authorization ? `Authorization: ${r.authorization}\r\n` : '') +
    `Content-Length: 0\r\n\r\n`
  );
}

export interface RawResponse {
  status: number;
  reason: string;
  /** Header values by lower-case name. */
  headers: Map<string, string[]>;
  text: string;
}

export function parseResponse(text: string): RawResponse {
  const [head] = text.split('\r\n\r\n');
  const lines = head!.split('\r\n');
  const m = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(lines[0] ?? '');
  if (!m) throw new Error(`not a SIP response: ${lines[0]}`);
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return { status: Number(m[1]), reason: m[2] ?? '', headers, text };
}

/** A UDP socket bound to `address` that sends requests and waits for the next final response. */
export class RawUdpPeer {
  private constructor(
    private readonly socket: ReturnType<typeof createSocket>,
    readonly address: string,
    readonly port: number,
  ) {}

  static async open(address = '127.0.0.1'): Promise<RawUdpPeer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, address, () => resolve());
    });
    return new RawUdpPeer(socket, address, socket.address().port);
  }

  /** The first final response, or undefined when none came within `timeoutMs` (a silent ban). */
  request(text: string, serverPort: number, timeoutMs = 2000): Promise<RawResponse | undefined> {
    return new Promise((resolve) => {
      const onMessage = (msg: Buffer) => {
        const res = parseResponse(msg.toString('latin1'));
        if (res.status < 200) return;
        done(res);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const done = (res: RawResponse | undefined) => {
        clearTimeout(timer);
        this.socket.off('message', onMessage);
        resolve(res);
      };
      this.socket.on('message', onMessage);
      this.socket.send(text, serverPort, '127.0.0.1');
    });
  }

  close(): void {
    this.socket.close();
  }
}

/** One request over a fresh TCP connection; resolves with the first final response. */
export function tcpRequest(build: (localPort: number) => string, serverPort: number, timeoutMs = 3000): Promise<RawResponse | undefined> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: serverPort });
    let buffered = '';
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    const finish = (res: RawResponse | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(res);
    };
    socket.once('error', reject);
    socket.on('connect', () => socket.write(build(socket.localPort!)));
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      let end;
      while ((end = buffered.indexOf('\r\n\r\n')) >= 0) {
        const res = parseResponse(buffered.slice(0, end + 4));
        buffered = buffered.slice(end + 4);
        if (res.status >= 200) return finish(res);
      }
    });
  });
}

/** The Authorization value answering a 401 with `password` (right or wrong). */
export function answerChallenge(res: RawResponse, user: string, password: string, domain: string): string {
  const challenges = res.headers.get('www-authenticate') ?? [];
  const answer = new DigestClient({ username: user, password }).answer(challenges, { method: 'REGISTER', uri: `sip:${domain}` });
  if (!answer) throw new Error(`cannot answer ${JSON.stringify(challenges)}`);
  return answer.headerValue;
}
