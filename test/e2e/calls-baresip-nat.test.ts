import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBaresip, type BaresipClient, type BaresipOptions } from './harness/index.ts';
import { sineWav } from './fixtures/sine-wav.ts';
import { DOMAIN, PASSWORD, startSwitch, type Switch } from './calls-support.ts';

/**
 * Two real baresip phones through the real switch, with 1001 behind a real NAT (Linux network
 * namespaces and an nftables masquerade): 1001 lives on a private 10.99.N.0/24 net, its REGISTER
 * and RTP leave the router from 10.98.N.2, while its Contact and SDP still say 10.99.N.2. The
 * switch must route requests to the NATed flow and rewrite the private SDP address to the one the
 * packets came from, or no audio reaches 1001. The switch and 1002 sit in the root namespace on
 * 10.98.N.1 (a veth toward the router), so nothing but the NAT connects the two phones.
 */

/** Per-run names and subnets, so parallel runs on one host do not collide. */
const tag = String(process.pid);
const net = (process.pid % 250) + 1;
const PHONE_NS = `pbphone-${tag}`;
const ROUTER_NS = `pbrtr-${tag}`;
const UPLINK = `pbup${tag}`.slice(0, 15);
const SWITCH_IP = `10.98.${net}.1`;
const NAT_OUTSIDE_IP = `10.98.${net}.2`;
const ROUTER_INSIDE_IP = `10.99.${net}.1`;
const PHONE_PRIVATE_IP = `10.99.${net}.2`;

function sh(args: string[]): void {
  execFileSync(args[0]!, args.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Best effort: true when this process may create network namespaces (root / CAP_NET_ADMIN) and nft exists. */
function canBuildNat(): string | null {
  const probe = `pbprobe-${tag}`;
  try {
    sh(['ip', 'netns', 'add', probe]);
  } catch (err) {
    return `cannot create network namespaces (${String(err).split('\n')[0]})`;
  }
  try {
    sh(['ip', 'netns', 'exec', probe, 'nft', 'list', 'ruleset']);
  } catch (err) {
    return `nft is not usable (${String(err).split('\n')[0]})`;
  } finally {
    try { sh(['ip', 'netns', 'del', probe]); } catch { /* gone already */ }
  }
  return null;
}

const skipReason = canBuildNat();
if (skipReason) console.warn(`calls-baresip-nat: skipped: ${skipReason}`);

function buildTopology(): void {
  const inRouter = ['ip', 'netns', 'exec', ROUTER_NS];
  const inPhone = ['ip', 'netns', 'exec', PHONE_NS];
  sh(['ip', 'netns', 'add', PHONE_NS]);
  sh(['ip', 'netns', 'add', ROUTER_NS]);
  sh(['ip', 'link', 'add', 'ph0', 'netns', PHONE_NS, 'type', 'veth', 'peer', 'name', 'ph1', 'netns', ROUTER_NS]);
  sh(['ip', 'link', 'add', UPLINK, 'type', 'veth', 'peer', 'name', 'up0', 'netns', ROUTER_NS]);
  sh(['ip', 'addr', 'add', `${SWITCH_IP}/24`, 'dev', UPLINK]);
  sh(['ip', 'link', 'set', UPLINK, 'up']);
  sh([...inPhone, 'ip', 'link', 'set', 'lo', 'up']);
  sh([...inPhone, 'ip', 'addr', 'add', `${PHONE_PRIVATE_IP}/24`, 'dev', 'ph0']);
  sh([...inPhone, 'ip', 'link', 'set', 'ph0', 'up']);
  sh([...inPhone, 'ip', 'route', 'add', 'default', 'via', ROUTER_INSIDE_IP]);
  sh([...inRouter, 'ip', 'link', 'set', 'lo', 'up']);
  sh([...inRouter, 'ip', 'addr', 'add', `${ROUTER_INSIDE_IP}/24`, 'dev', 'ph1']);
  sh([...inRouter, 'ip', 'addr', 'add', `${NAT_OUTSIDE_IP}/24`, 'dev', 'up0']);
  sh([...inRouter, 'ip', 'link', 'set', 'ph1', 'up']);
  sh([...inRouter, 'ip', 'link', 'set', 'up0', 'up']);
  sh([...inRouter, 'ip', 'route', 'add', 'default', 'via', SWITCH_IP]);
  sh([...inRouter, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  sh([...inRouter, 'nft', 'add', 'table', 'ip', 'pbnat']);
  sh([...inRouter, 'nft', 'add', 'chain', 'ip', 'pbnat', 'post', '{ type nat hook postrouting priority 100 ; }']);
  sh([...inRouter, 'nft', 'add', 'rule', 'ip', 'pbnat', 'post', 'oifname', 'up0', 'masquerade']);
  // A home router's firewall: unsolicited packets to the outside address are dropped. Without this, RTP
  // that 1002 sends before 1001's first packet opened the mapping would leave a conntrack entry for
  // that port pair, and the masquerade would then move 1001's flow to another port (no audio).
  sh([...inRouter, 'nft', 'add', 'chain', 'ip', 'pbnat', 'in', '{ type filter hook input priority 0 ; }']);
  sh([...inRouter, 'nft', 'add', 'rule', 'ip', 'pbnat', 'in', 'iifname', 'up0', 'ct', 'state', 'new', 'drop']);
}

function destroyTopology(): void {
  // Deleting a namespace deletes the veths inside it, and with them their peers.
  for (const ns of [PHONE_NS, ROUTER_NS]) {
    try { sh(['ip', 'netns', 'del', ns]); } catch { /* not created */ }
  }
  try { sh(['ip', 'link', 'del', UPLINK]); } catch { /* already gone with its peer */ }
}

let sw: Switch | undefined;
let fixtures: string | undefined;
let toneFile: string;
const phones: BaresipClient[] = [];

describe.skipIf(skipReason !== null)('two baresip phones, one behind a NAT', () => {
  beforeAll(async () => {
    try {
      buildTopology();
    } catch (err) {
      destroyTopology();
      throw err;
    }
    sw = await startSwitch(['1001', '1002'], { PATCHBAY_SIP_LISTEN: `udp:${SWITCH_IP}:0` });
    fixtures = await mkdtemp(join(tmpdir(), 'patchbay-calls-nat-audio-'));
    toneFile = join(fixtures, 'tone-1k-8khz.wav');
    await writeFile(toneFile, sineWav({ hz: 1000, sampleRate: 8000, seconds: 15 }));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(phones.splice(0).map((p) => p.stop()));
    await sw?.close();
    destroyTopology();
    if (fixtures) await rm(fixtures, { recursive: true, force: true });
  });

  afterEach(async () => {
    await Promise.all(phones.splice(0).map((p) => p.stop()));
  });

  function switchTarget(): string {
    const udp = sw!.running.sipListening.find((l) => l.transport === 'udp');
    if (!udp) throw new Error('no UDP listener');
    return `${SWITCH_IP}:${udp.port}`;
  }

  async function phone(user: string, autoAnswer: boolean, where: 'behind-nat' | 'outside'): Promise<BaresipClient> {
    const placement: Partial<BaresipOptions> = where === 'behind-nat'
      ? { commandPrefix: ['ip', 'netns', 'exec', PHONE_NS], sipListen: `${PHONE_PRIVATE_IP}:0`, netInterface: 'ph0' }
      : { sipListen: `${SWITCH_IP}:0`, netInterface: UPLINK };
    const p = await startBaresip({ user, password: PASSWORD, domain: DOMAIN, proxy: switchTarget(), autoAnswer, sipTrace: true, ...placement });
    phones.push(p);
    await p.waitFor(/registered successfully/i, 15_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${p.output}`);
    });
    // G.711 needs 8 kHz; the harness's ausine source only runs at 48 kHz.
    const mark = p.output.length;
    p.send('/insmod aufile');
    p.send(`/ausrc aufile,${toneFile}`);
    await p.waitFor(/aufile/, 5_000, mark);
    return p;
  }

  /** `sdp`: the c= address in the offer (callee) or answer (caller) the phone received. */
  interface CallView { tx: number; rx: number; sdp: string | undefined; rtpFrom: string }

  /** Places the call, waits for media both ways and reads each phone's view of it. */
  async function callAndMeasure(caller: BaresipClient, callee: BaresipClient, calleeUser: string): Promise<{ caller: CallView; callee: CallView }> {
    const callerMark = caller.output.length;
    const calleeMark = callee.output.length;
    caller.send(`/dial sip:${calleeUser}@${DOMAIN}`);
    await caller.waitFor(/Call established/, 20_000, callerMark).catch((err: unknown) => {
      throw new Error(`${String(err)}\nCALLER:\n${caller.output.slice(callerMark)}\nCALLEE:\n${callee.output.slice(calleeMark)}`);
    });
    const rtpFrom = async (p: BaresipClient, mark: number): Promise<string> => {
      const m = await p.waitFor(/incoming rtp for 'audio' established, receiving from (\S+)/, 10_000, mark).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${p.output.slice(mark)}`);
      });
      return m[1]!;
    };
    const callerRtpFrom = await rtpFrom(caller, callerMark);
    const calleeRtpFrom = await rtpFrom(callee, calleeMark);
    await new Promise((r) => setTimeout(r, 2500));
    const callerStat = await callStat(caller);
    const calleeStat = await callStat(callee);
    return {
      caller: { ...callerStat, rtpFrom: callerRtpFrom, sdp: receivedSdpAddress(caller, 'SIP/2.0 200', callerMark) },
      callee: { ...calleeStat, rtpFrom: calleeRtpFrom, sdp: receivedSdpAddress(callee, 'INVITE', calleeMark) },
    };
  }

  async function hangUp(caller: BaresipClient, callee: BaresipClient): Promise<void> {
    const mark = callee.output.length;
    caller.send('/hangup');
    // baresip 1.0 reports a received BYE as "session closed: Connection reset by peer".
    await callee.waitFor(/session closed|terminated/, 10_000, mark);
  }

  it('1001 (behind the NAT) dials 1002: 1002 is offered the NAT address and RTP flows both ways', async () => {
    await sw!.useOutDialplan('1001', 'await sys.Dial("1002@local");');
    const callee = await phone('1002', true, 'outside');
    const caller = await phone('1001', false, 'behind-nat');
    const seen = await callAndMeasure(caller, callee, '1002');

    // The offer 1002 got names the NAT's outside address (what 1001's packets come from), not 10.99.
    expect(seen.callee.sdp).toBe(NAT_OUTSIDE_IP);
    expect(host(seen.callee.rtpFrom)).toBe(NAT_OUTSIDE_IP);
    // 1002's own answer reaches 1001 as it was (not a private-behind-NAT address).
    expect(seen.caller.sdp).toBe(SWITCH_IP);
    expect(host(seen.caller.rtpFrom)).toBe(SWITCH_IP);
    // G.711 at 20 ms is 64 kbit/s each way when packets really flow.
    for (const rate of [seen.caller.tx, seen.caller.rx, seen.callee.tx, seen.callee.rx]) expect(rate).toBeGreaterThan(32_000);
    await hangUp(caller, callee);
  });

  it('1002 dials 1001 (behind the NAT): the INVITE finds 1001 through the NAT and its answer is rewritten', async () => {
    await sw!.useOutDialplan('1002', 'await sys.Dial("1001@local");');
    const callee = await phone('1001', true, 'behind-nat');
    const caller = await phone('1002', false, 'outside');
    const seen = await callAndMeasure(caller, callee, '1001');

    // 1001 got the INVITE at all (so the switch used the NAT flow, not the 10.99 Contact) ...
    expect(seen.callee.sdp).toBe(SWITCH_IP);
    expect(host(seen.callee.rtpFrom)).toBe(SWITCH_IP);
    // ... and its private answer reached 1002 rewritten to the NAT's outside address.
    expect(seen.caller.sdp).toBe(NAT_OUTSIDE_IP);
    expect(host(seen.caller.rtpFrom)).toBe(NAT_OUTSIDE_IP);
    for (const rate of [seen.caller.tx, seen.caller.rx, seen.callee.tx, seen.callee.rx]) expect(rate).toBeGreaterThan(32_000);
    await hangUp(caller, callee);
  });

  it('with [ma=false] the private address reaches 1002 untouched', async () => {
    await sw!.useOutDialplan('1001', 'await sys.Dial("1002@local[ma=false]");');
    const callee = await phone('1002', true, 'outside');
    const caller = await phone('1001', false, 'behind-nat');
    const callerMark = caller.output.length;
    const calleeMark = callee.output.length;
    caller.send(`/dial sip:1002@${DOMAIN}`);
    await caller.waitFor(/Call established/, 20_000, callerMark).catch((err: unknown) => {
      throw new Error(`${String(err)}\nCALLEE:\n${callee.output.slice(calleeMark)}`);
    });
    expect(receivedSdpAddress(callee, 'INVITE', calleeMark)).toBe(PHONE_PRIVATE_IP);
    await hangUp(caller, callee);
  });
});

function host(addressWithPort: string): string {
  return addressWithPort.replace(/:\d+$/, '');
}

/**
 * The c= address of the SDP in the first SIP message `p` received (baresip's `-s` trace) after
 * `since` whose start line begins with `startLine`. Trace blocks read `#\n<proto> <from> -> <to>\n<message>`.
 */
function receivedSdpAddress(p: BaresipClient, startLine: string, since: number): string | undefined {
  for (const block of p.output.slice(since).split(/#\r?\n(?=(?:UDP|TCP|TLS) )/).slice(1)) {
    const lines = block.split(/\r?\n/);
    const to = /^\S+ \S+ -> (\S+)/.exec(lines[0] ?? '')?.[1];
    // The trace shows sent and received messages alike; received ones are addressed to the phone.
    if (!to || !isOwnAddress(p, to) || !(lines[1] ?? '').startsWith(startLine)) continue;
    const c = lines.map((l) => /^c=IN IP[46] (\S+)/.exec(l)?.[1]).find((a) => a !== undefined);
    if (c) return c;
  }
  return undefined;
}

/** baresip's local SIP address, as the trace shows it on the REGISTER it sent. */
function isOwnAddress(p: BaresipClient, address: string): boolean {
  const register = /(?:UDP|TCP|TLS) (\S+) -> \S+\r?\nREGISTER /.exec(p.output);
  return register?.[1] === address;
}

/** `/callstat`: waits for an `audio=<tx>/<rx> (bit/s)` status line with both rates above zero. */
async function callStat(p: BaresipClient): Promise<{ tx: number; rx: number }> {
  const mark = p.output.length;
  p.send('/callstat');
  const fail = (err: unknown): never => {
    throw new Error(`${String(err)}\n${p.output.slice(mark)}`);
  };
  await p.waitFor(/Call debug/, 5_000, mark).catch(fail);
  // The status line repeats; the first ones after the dump may still read 0/0 (no full second measured yet).
  const rates = await p.waitFor(/audio=([1-9]\d*)\/([1-9]\d*) \(bit\/s\)/, 5_000, mark).catch(fail);
  return { tx: Number(rates[1]), rx: Number(rates[2]) };
}
