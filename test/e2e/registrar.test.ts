import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPatchbay, type PatchbayServer } from './harness/index.ts';
import { describeRun, provision, runScenario, waitForStoredBindings } from './registrar-support.ts';

const DOMAIN = 'acme.test';
const PASSWORD = 's3cret-pass';

/**
 * The registrar driven by sipp over real sockets against `node bin/patchbay.js serve`: digest over
 * UDP and TCP, the whole life of a binding, the error answers of the registrar and the request
 * dispatcher, and a burst of garbage the server must survive.
 */
describe('registrar end to end (sipp)', () => {
  let server: PatchbayServer;

  beforeAll(async () => {
    server = await startPatchbay({ env: { PATCHBAY_REG_MIN_EXPIRES: '60' } });
    await provision(server, [
      ['tenant', 'add', DOMAIN],
      ['account', 'add', `1001@${DOMAIN}`, '--password', PASSWORD],
      ['account', 'add', `1002@${DOMAIN}`, '--password', PASSWORD],
      ['account', 'add', `1003@${DOMAIN}`, '--password', PASSWORD],
      ['account', 'add', `1004@${DOMAIN}`, '--password', PASSWORD],
    ]);
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('registers with digest over UDP, refreshes on the same Call-ID and unregisters', async () => {
    const run = await runScenario(server, 'register-refresh-unregister', { user: '1001', domain: DOMAIN, password: PASSWORD });
    expect(run.result.code, describeRun(run)).toBe(0);
    const contact = `<sip:1001@127.0.0.1:${run.localPort};transport=UDP>`;
    // The values sipp's checks matched: the 200 listed exactly our contact, before and after the refresh.
    expect(run.logs).toMatch(new RegExp(`registered: +${escapeRegExp(contact)};expires=(3600|359\\d)\\b`));
    expect(run.logs).toMatch(new RegExp(`refreshed: +${escapeRegExp(contact)};expires=(3600|359\\d)\\b`));
    // The unregister removed the row too (once the write-behind has run).
    const rows = await waitForStoredBindings(server, '1001', (r) => r.length === 0);
    expect(rows).toEqual([]);
  });

  it('registers with digest over TCP and stores the binding with its transport', async () => {
    const run = await runScenario(server, 'register-digest', { user: '1002', domain: DOMAIN, password: PASSWORD, transport: 'tcp' });
    expect(run.result.code, describeRun(run)).toBe(0);
    expect(run.logs).toMatch(new RegExp(`contact: +<sip:1002@127\\.0\\.0\\.1:${run.localPort};transport=TCP>;expires=`));
    const rows = await waitForStoredBindings(server, '1002', (r) => r.length === 1);
    expect(rows).toHaveLength(1);
    expect(rows[0].contact_uri).toBe(`sip:1002@127.0.0.1:${run.localPort};transport=TCP`);
    expect(rows[0].source_transport).toBe('tcp');
  });

  it('answers a wrong password with 403 and no new challenge', async () => {
    const run = await runScenario(server, 'register-wrong-password', { user: '1003', domain: DOMAIN, password: 'not-the-password' });
    expect(run.result.code, describeRun(run)).toBe(0);
  });

  it('answers an unknown user like a wrong password (403)', async () => {
    const run = await runScenario(server, 'register-wrong-password', { user: '7777', domain: DOMAIN, password: PASSWORD });
    expect(run.result.code, describeRun(run)).toBe(0);
  });

  it('answers Expires: 30 with 423 and Min-Expires: 60, storing nothing', async () => {
    const run = await runScenario(server, 'register-interval-too-brief', { user: '1003', domain: DOMAIN, password: PASSWORD });
    expect(run.result.code, describeRun(run)).toBe(0);
    expect(run.logs).toMatch(/min-expires: +60/);
  });

  it('answers a REGISTER for a domain nobody owns with 403 "Domain not serviced"', async () => {
    const run = await runScenario(server, 'register-unknown-domain', { user: '1001', domain: 'nowhere.test', password: PASSWORD });
    expect(run.result.code, describeRun(run)).toBe(0);
    expect(run.logs).toContain('SIP/2.0 403 Domain not serviced');
  });

  it('answers OPTIONS to the switch with 200 and an Allow header', async () => {
    const run = await runScenario(server, 'options-ping', { user: '1001', domain: DOMAIN, password: PASSWORD });
    expect(run.result.code, describeRun(run)).toBe(0);
  });

  it('answers Max-Forwards: 0 with 483', async () => {
    const run = await runScenario(server, 'register-max-forwards-zero', { user: '1001', domain: DOMAIN, password: PASSWORD });
    expect(run.result.code, describeRun(run)).toBe(0);
  });

  it('answers Require: foo with 420 and Unsupported: foo', async () => {
    const run = await runScenario(server, 'options-require-unsupported', { user: '1001', domain: DOMAIN, password: PASSWORD });
    expect(run.result.code, describeRun(run)).toBe(0);
    expect(run.logs).toMatch(/unsupported: +foo/);
  });

  it('answers an unknown method (PUBLISH) with 405 and Allow', async () => {
    const run = await runScenario(server, 'options-unknown-method', { user: '1001', domain: DOMAIN, password: PASSWORD });
    expect(run.result.code, describeRun(run)).toBe(0);
  });

  it('answers a malformed request with a readable Via with 400 and a reason', async () => {
    const probe = await openUdp();
    try {
      const { port } = probe.address();
      const branch = `z9hG4bK-${randomBytes(6).toString('hex')}`;
      const reply = nextDatagram(probe, 5000);
      probe.send(
        `OPTIONS sip:${DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=${branch}\r\n` +
          `From: <sip:probe@${DOMAIN}>;tag=1\r\nTo: <sip:${DOMAIN}>\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
        server.sipPort,
        '127.0.0.1',
      );
      const text = (await reply).toString('utf8');
      expect(text).toMatch(/^SIP\/2\.0 400 \S/);
      expect(text).toMatch(/Call-ID/i); // the reason names what is missing
      expect(text).toContain(`branch=${branch}`);
    } finally {
      probe.close();
    }
  });

  it('keeps answering after a burst of 600 malformed datagrams', async () => {
    const burst = await openUdp();
    const answers: string[] = [];
    burst.on('message', (message) => answers.push(message.subarray(0, 40).toString('latin1')));
    try {
      const datagrams = malformedDatagrams(burst.address().port, 600);
      expect(datagrams.length).toBeGreaterThanOrEqual(500);
      // In slices, so the socket buffer on our side is never the thing that drops them.
      for (let i = 0; i < datagrams.length; i += 50) {
        await Promise.all(
          datagrams.slice(i, i + 50).map(
            (d) => new Promise<void>((resolveSent) => burst.send(d, server.sipPort, '127.0.0.1', () => resolveSent())),
          ),
        );
      }
      // The server really parsed the burst: those with a readable Via were answered, all with errors.
      const deadline = Date.now() + 10_000;
      while (answers.length < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(answers.length).toBeGreaterThanOrEqual(100);
      expect(answers.filter((a) => !/^SIP\/2\.0 [45]\d\d /.test(a))).toEqual([]);
      expect(answers.some((a) => a.startsWith('SIP/2.0 400 '))).toBe(true);
    } finally {
      burst.close();
    }
    // Still alive (signal 0 only checks the PID we started) and still answering.
    expect(() => process.kill(server.pid, 0)).not.toThrow();
    const options = await runScenario(server, 'options-ping', { user: '1001', domain: DOMAIN, password: PASSWORD });
    expect(options.result.code, describeRun(options)).toBe(0);
    const register = await runScenario(server, 'register-digest', { user: '1004', domain: DOMAIN, password: PASSWORD });
    expect(register.result.code, describeRun(register)).toBe(0);
    expect(register.logs).toMatch(new RegExp(`contact: +<sip:1004@127\\.0\\.0\\.1:${register.localPort};transport=UDP>;expires=`));
    expect(() => process.kill(server.pid, 0)).not.toThrow();
    expect(server.output).not.toMatch(/uncaught|unhandled/i);
  });
});

function openUdp(): Promise<Socket> {
  return new Promise((resolveSocket, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolveSocket(socket));
  });
}

function nextDatagram(socket: Socket, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolveMessage, reject) => {
    const timer = setTimeout(() => reject(new Error(`no datagram within ${timeoutMs} ms`)), timeoutMs);
    socket.once('message', (message) => {
      clearTimeout(timer);
      resolveMessage(message);
    });
  });
}

/** A deterministic mix of the garbage a public SIP port sees, cycling through kinds. */
function malformedDatagrams(replyPort: number, count: number): Buffer[] {
  const via = (i: number): string => `Via: SIP/2.0/UDP 127.0.0.1:${replyPort};branch=z9hG4bK-junk-${i}`;
  const complete = (i: number): string =>
    `REGISTER sip:${DOMAIN} SIP/2.0\r\n${via(i)}\r\nFrom: <sip:1001@${DOMAIN}>;tag=j${i}\r\nTo: <sip:1001@${DOMAIN}>\r\n` +
    `Call-ID: junk-${i}\r\nCSeq: ${i + 1} REGISTER\r\nContact: <sip:1001@127.0.0.1:${replyPort}>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
  const kinds: Array<(i: number) => Buffer> = [
    (i) => randomBytes(1 + (i % 1400)),
    (i) => Buffer.from(complete(i).slice(0, 10 + (i % 150))),
    (i) => Buffer.from(complete(i).replace('Content-Length: 0', `Content-Length: ${i % 2 ? 99999 : -5}`)),
    (i) => Buffer.from(complete(i).replace(/Call-ID: [^\r]*\r\n/, '')),
    (i) => Buffer.from(complete(i).replace('Max-Forwards: 70', `X-Huge: ${'a'.repeat(8000 + i)}`)),
    (i) => Buffer.from(complete(i).replace('SIP/2.0\r\n', 'SIP/3.0\r\n')),
    (i) => Buffer.from(complete(i).replace(/CSeq: [^\r]*/, 'CSeq: x REGISTER')),
    (i) => Buffer.from(complete(i).replace(/Via: [^\r]*/, 'Via: garbage')),
    (i) => Buffer.from(`\r\n\r\n${'\0'.repeat(i % 64)}`),
    (i) => Buffer.from(complete(i).replace(/\r\n/g, '\n').replace('REGISTER sip', '\u00ff\u00fe sip')),
    (i) => Buffer.from(`SIP/2.0 200 OK\r\n${via(i)}\r\nCall-ID: stray-${i}\r\nCSeq: 1 INVITE\r\n\r\n`),
  ];
  return Array.from({ length: count }, (_, i) => kinds[i % kinds.length](i));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
