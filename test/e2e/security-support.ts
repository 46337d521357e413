import { execFileSync, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, runSipp, startPatchbay, type PatchbayOptions, type PatchbayServer } from './harness/index.ts';
import { parseResponse, type RawResponse } from './raw-sip-client.ts';
import { provision, SCENARIO_DIR } from './registrar-support.ts';

/**
 * What the security e2e tests share: a server with one tenant and its accounts, a sipp phone
 * registering from another loopback address, the SIPVicious tools, raw spoofed INVITEs and the
 * server's `sip.stats` lines.
 */

/** Starts the server and creates `domain` with `accounts` (user → password). */
export async function startGuardedSwitch(
  domain: string,
  accounts: Record<string, string>,
  options: PatchbayOptions = {},
): Promise<PatchbayServer> {
  const server = await startPatchbay(options);
  try {
    await provision(server, [
      ['tenant', 'add', domain],
      ...Object.entries(accounts).map(([user, password]) => ['account', 'add', `${user}@${domain}`, '--password', password]),
    ]);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

/** One REGISTER with digest by sipp from `localIp` (a legitimate phone); exit 0 = registered. */
export async function registerWithSipp(
  server: PatchbayServer,
  account: { user: string; domain: string; password: string },
  localIp: string,
): Promise<{ code: number; diagnostics: string }> {
  const workDir = await mkdtemp(join(tmpdir(), 'patchbay-guard-sipp-'));
  try {
    const injection = join(workDir, 'account.csv');
    await writeFile(injection, `SEQUENTIAL\n${account.user};${account.domain};[authentication username=${account.user} password=${account.password}]\n`);
    const result = await runSipp({
      scenario: join(SCENARIO_DIR, 'register-digest-loopback.xml'),
      target: `127.0.0.1:${server.sipPort}`,
      localIp,
      localPort: await freePort(),
      workDir,
      timeoutMs: 15_000,
      args: ['-m', '1', '-inf', injection],
    });
    return { code: result.code, diagnostics: `sipp exit ${result.code}\n${result.errors}\n${result.stderr.slice(-2000)}` };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

export function hasTool(name: string): boolean {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Runs a command to its end (or SIGKILL after `timeoutMs`) and returns its combined output. */
export function runTool(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export interface RawInvite {
  /** From user; the From host is `fromDomain`. */
  fromUser: string;
  fromDomain: string;
  toUser: string;
  toDomain: string;
  localAddress: string;
  localPort: number;
  branch?: string;
  callId?: string;
  /** Default INVITE; the same shape serves OPTIONS, BYE, … */
  method?: string;
  /** Makes it claim a dialog (a forged in-dialog request). */
  toTag?: string;
}

/** An out-of-dialog INVITE as a scanner or a toll fraudster sends it: no credentials, no SDP. */
export function inviteText(r: RawInvite): string {
  const method = r.method ?? 'INVITE';
  return (
    `${method} sip:${r.toUser}@${r.toDomain} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP ${r.localAddress}:${r.localPort};rport;branch=${r.branch ?? `z9hG4bK-${randomBytes(6).toString('hex')}`}\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:${r.fromUser}@${r.fromDomain}>;tag=${randomBytes(4).toString('hex')}\r\n` +
    `To: <sip:${r.toUser}@${r.toDomain}>${r.toTag ? `;tag=${r.toTag}` : ''}\r\nCall-ID: ${r.callId ?? randomBytes(8).toString('hex')}\r\nCSeq: 1 ${method}\r\n` +
    `Contact: <sip:${r.fromUser}@${r.localAddress}:${r.localPort}>\r\nContent-Length: 0\r\n\r\n`
  );
}

/** A UDP socket that keeps every response it receives (to count retransmissions). */
export class RecordingUdpPeer {
  readonly received: RawResponse[] = [];

  private constructor(
    private readonly socket: Socket,
    readonly address: string,
    readonly port: number,
  ) {
    socket.on('message', (msg) => {
      try {
        this.received.push(parseResponse(msg.toString('latin1')));
      } catch {
        // not a response: ignore
      }
    });
  }

  static async open(address = '127.0.0.1'): Promise<RecordingUdpPeer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, address, () => resolve());
    });
    return new RecordingUdpPeer(socket, address, socket.address().port);
  }

  send(text: string, serverPort: number): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(text, serverPort, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    this.socket.close();
  }
}

export interface SipStats {
  serverTransactions: number;
  clientTransactions: number;
  calls: number;
  dialogs: number;
  nonceCounts: number;
  nonceWrongAnswers: number;
  bans: number;
  statelessFinals: number;
  overflowRejects: number;
  rateLimited: number;
  heapUsed: number;
}

/** The `sip.stats` lines (PATCHBAY_STATS_INTERVAL) the server printed, oldest first. */
export function statsLines(server: PatchbayServer): SipStats[] {
  return server.output
    .split('\n')
    .filter((l) => l.includes('"event":"sip.stats"'))
    .map((l) => JSON.parse(l) as SipStats);
}

/** Waits for the next `sip.stats` line printed after this call; bounded. */
export async function nextStats(server: PatchbayServer, timeoutMs = 5000): Promise<SipStats> {
  const since = server.output.length;
  const m = await server.waitForOutput(/\{[^\n]*"event":"sip\.stats"[^\n]*\}\n/, timeoutMs, since);
  return JSON.parse(m[0].trim()) as SipStats;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
