import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResponse, DigestClient, parseMessage, SipRequest, SipResponse } from '../../server/sip/index.ts';
import { DOMAIN, PASSWORD, startSwitch, type Switch } from './calls-support.ts';

/**
 * A phone behind NAT as the server sees it: one UDP socket that registered from its own port and
 * now only receives. It records what arrives (CRLF pings, OPTIONS probes) and answers OPTIONS
 * with 200 while `answering` is on.
 */
class RawUdpPhone {
  readonly crlfPings: number[] = [];
  readonly options: SipRequest[] = [];
  answering = true;
  private readonly waiters = new Set<() => void>();
  private responseWaiter: ((res: SipResponse) => void) | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly user: string,
    private readonly server: { address: string; port: number },
  ) {
    socket.on('message', (data, rinfo) => this.onDatagram(data, rinfo));
  }

  static async open(user: string, serverTarget: string): Promise<RawUdpPhone> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve());
    });
    const [address, port] = serverTarget.split(':');
    return new RawUdpPhone(socket, user, { address: address!, port: Number(port) });
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** REGISTER, answer the digest challenge, expect 200. */
  async register(): Promise<void> {
    const callId = randomBytes(8).toString('hex');
    const fromTag = randomBytes(4).toString('hex');
    const uri = `sip:${DOMAIN}`;
    const build = (cseq: number, authorization?: string): string =>
      [
        `REGISTER ${uri} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${this.port};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
        'Max-Forwards: 70',
        `From: <sip:${this.user}@${DOMAIN}>;tag=${fromTag}`,
        `To: <sip:${this.user}@${DOMAIN}>`,
        `Call-ID: ${callId}`,
        `CSeq: ${cseq} REGISTER`,
        `Contact: <sip:${this.user}@127.0.0.1:${this.port}>`,
        'Expires: 3600',
        ...(authorization ? [authorization] : []),
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
    const challenge = await this.request(build(1));
    expect(challenge.status).toBe(401);
    const auth = new DigestClient({ username: this.user, password: PASSWORD }).authorize(challenge, { method: 'REGISTER', uri });
    if (!auth) throw new Error('no digest challenge to answer');
    const ok = await this.request(build(2, `${auth.headerName}: ${auth.headerValue}`));
    expect(ok.status).toBe(200);
  }

  /** Resolves once `predicate` holds, re-checked on every datagram; bounded. */
  waitFor(predicate: () => boolean, what: string, timeoutMs = 8_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate()) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${this.user}: ${what} not seen in ${timeoutMs} ms (crlf ${this.crlfPings.length}, options ${this.options.length})`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  close(): void {
    this.socket.close();
  }

  private request(text: string): Promise<SipResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no response to REGISTER')), 5_000);
      this.responseWaiter = (res) => {
        clearTimeout(timer);
        resolve(res);
      };
      this.socket.send(text, this.server.port, this.server.address);
    });
  }

  private onDatagram(data: Buffer, rinfo: { address: string; port: number }): void {
    if (data.length > 0 && data.every((b) => b === 0x0d || b === 0x0a)) {
      this.crlfPings.push(Date.now());
    } else {
      const msg = parseMessage(data);
      if (msg instanceof SipResponse) {
        if (msg.status >= 200) this.responseWaiter?.(msg);
      } else if (msg instanceof SipRequest && msg.method === 'OPTIONS') {
        this.options.push(msg);
        if (this.answering) this.socket.send(createResponse(msg, 200).toBuffer(), rinfo.port, rinfo.address);
      }
    }
    for (const w of [...this.waiters]) w();
  }
}

/**
 * NAT keep-alives against the real server in-process: per-account method (CRLF or OPTIONS), and
 * the OPTIONS qualify probe removing the binding of a device that stopped answering. Keep-alive and
 * qualify run every second here (PATCHBAY_KEEPALIVE_INTERVAL / PATCHBAY_QUALIFY_INTERVAL).
 */
describe('NAT keep-alive end to end', () => {
  let sw: Switch;
  const phones: RawUdpPhone[] = [];

  beforeAll(async () => {
    sw = await startSwitch(['4001', '4002', '4003'], { PATCHBAY_KEEPALIVE_INTERVAL: '1', PATCHBAY_QUALIFY_INTERVAL: '1' });
    const db = sw.running.db;
    await db.accounts.update('4001', DOMAIN, { natKeepalive: true, keepaliveMethod: 'crlf' });
    await db.accounts.update('4002', DOMAIN, { natKeepalive: true, keepaliveMethod: 'options' });
    await db.accounts.update('4003', DOMAIN, { natKeepalive: false, keepaliveMethod: 'options' });
    sw.running.sip.directory.invalidate();
  }, 60_000);

  afterAll(async () => {
    for (const p of phones) p.close();
    await sw?.close();
  });

  const phone = async (user: string): Promise<RawUdpPhone> => {
    const p = await RawUdpPhone.open(user, sw.target);
    phones.push(p);
    await p.register();
    return p;
  };

  const bindingsOf = (user: string) => sw.running.sip.location.lookup(user, DOMAIN).map((t) => t.binding);

  it('sends CRLF keep-alives to a UDP binding of an account with method crlf', async () => {
    const p = await phone('4001');
    await p.waitFor(() => p.crlfPings.length >= 2, 'two CRLF keep-alives');
    // It answers the qualify probes, so the binding stays.
    expect(bindingsOf('4001').map((b) => b.source.port)).toEqual([p.port]);
    expect(bindingsOf('4001')[0]?.keepAliveMethod).toBe('crlf');
  });

  it('sends OPTIONS instead of CRLF with method options; keeps an answering binding and removes a silent one', async () => {
    const p = await phone('4002');
    await p.waitFor(() => p.options.length >= 3, 'three OPTIONS');
    expect(p.crlfPings).toEqual([]);
    const probe = p.options[0]!;
    expect(probe.uri.user).toBe('4002');
    expect(probe.uri.port).toBe(p.port);
    expect(probe.headers.get('CSeq')).toBe('1 OPTIONS');
    const bindings = bindingsOf('4002');
    expect(bindings.map((b) => b.source.port)).toEqual([p.port]);
    const bindingId = bindings[0]!.id;

    p.answering = false;
    const removed = await sw.waitForEvent((e) => e.type === 'registration.removed' && e.bindingId === bindingId, 10_000);
    expect(removed.type === 'registration.removed' && removed.reason).toMatch(/^(qualify-timeout|transport-error)$/);
    expect(bindingsOf('4002')).toEqual([]);

    // The write-behind drops the stored row too.
    const deadline = Date.now() + 5_000;
    let stored = await sw.running.db.bindings.loadAll();
    while (stored.some((b) => b.id === bindingId) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      stored = await sw.running.db.bindings.loadAll();
    }
    expect(stored.some((b) => b.id === bindingId)).toBe(false);
  });

  it('sends nothing to bindings of an account without NAT keep-alive', async () => {
    const quiet = await phone('4003');
    const busy = await phone('4001');
    // Two CRLF pings to the other phone prove rounds ran meanwhile.
    await busy.waitFor(() => busy.crlfPings.length >= 2, 'two CRLF keep-alives');
    expect(quiet.crlfPings).toEqual([]);
    expect(quiet.options).toEqual([]);
    expect(bindingsOf('4003').map((b) => b.source.port)).toEqual([quiet.port]);
  });
});
