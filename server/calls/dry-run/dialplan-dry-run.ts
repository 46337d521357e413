import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type { DialplanRequest, PlainValue, RunResult, SandboxHost, SysFunctionName } from '../../../sandbox/index.ts';
import type { TenantRef } from '../../registrar/index.ts';
import type { CallAccount, CallServiceOptions, KeyValueStore, StoredDialplan } from '../call-service-deps.ts';
import { LegBudget, parseDialString, startFork, type DialResult } from '../dial/index.ts';
import { LegSettings, SysFunctions, sandboxRedirect, type CurrentCallView, type DialCallOptions, type DialplanScope, type SandboxDialResult, type SysFunctionOptions } from '../dialplan/index.ts';
import {
  DryRunRequestError, type DryRunLeg, type DryRunLimit, type DryRunOptions, type DryRunReport, type DryRunTimelineEntry, type DryRunWebGetRule,
} from './dry-run-types.ts';
import { destinationText, patternMatches, SimulatedLegs } from './simulated-legs.ts';
import { VirtualClock } from './virtual-clock.ts';

export interface DryRunDeps {
  /** The switch's own (CallService passes its options), or just these for the CLI. */
  opts: SysFunctionOptions & Pick<CallServiceOptions, 'sandbox'>;
  currentCalls(tenantId: number): CurrentCallView[];
}

export interface DryRunParams extends DryRunOptions {
  tenant: TenantRef;
  dialplanName: string;
  /** Compiled output (saved version, or the unsaved source compiled for this run). */
  dialplan: StoredDialplan;
}

/** The tenant's store for reads, a private overlay for writes: the run's KV changes are forgotten. */
class KvOverlay implements KeyValueStore {
  private readonly written = new Map<string, string | null>();
  constructor(private readonly real: KeyValueStore) {}
  async read(tenantId: number, key: string): Promise<string | undefined> {
    if (this.written.has(key)) return this.written.get(key) ?? undefined;
    return this.real.read(tenantId, key);
  }
  async write(_tenantId: number, key: string, value: string): Promise<void> {
    this.written.set(key, value);
  }
  async delete(tenantId: number, key: string): Promise<boolean> {
    const existed = (await this.read(tenantId, key)) !== undefined;
    this.written.set(key, null);
    return existed;
  }
  async keys(tenantId: number): Promise<string[]> {
    const all = new Set(await this.real.keys(tenantId));
    for (const [k, v] of this.written) {
      if (v === null) all.delete(k);
      else all.add(k);
    }
    return [...all].sort();
  }
}

const LIMIT_REASONS: Array<[RegExp, DryRunLimit]> = [
  [/^cpu time limit/, 'cpu'],
  [/^memory limit/, 'memory'],
  [/^wall clock limit/, 'wall-clock'],
  [/^absolute time limit/, 'absolute'],
  [/^too many concurrent|^sandbox overloaded/, 'concurrency'],
];

function limitOf(result: RunResult): DryRunLimit | undefined {
  if (result.status !== 'failed') return undefined;
  return LIMIT_REASONS.find(([re]) => re.test(result.reason))?.[1];
}

function plain(value: unknown): PlainValue {
  if (value === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(value) ?? 'null') as PlainValue;
  } catch {
    return String(value);
  }
}

/**
 * Runs a dialplan in the real sandbox, with the real limits, for a described call, behind a
 * `DialplanScope` whose Dial and Callback play simulated legs (simulated-legs.ts) instead of
 * sending SIP. The sandbox is asked to run it like any call — nothing on the channel says
 * "dry run". Everything else goes through the real `SysFunctions` (argument checks, the
 * tenant scoping, From-host policy), except: Log goes to the timeline, not the tenant's console;
 * KV writes go to an overlay unless `useRealKv`; WebGet answers from the rules (or goes out when
 * a rule says `real`). No CDR is written and no call exists in the call service.
 */
export class DialplanDryRun {
  private readonly clock = new VirtualClock();
  private readonly timeline: DryRunTimelineEntry[] = [];
  private readonly budget = new LegBudget();
  private readonly settings = new LegSettings();
  private answered = false;
  private responded?: { status: number; reason: string };
  private lastFailure?: { status: number; reason: string };
  private cpuMs: number | null = null;

  constructor(private readonly deps: DryRunDeps, private readonly params: DryRunParams) {}

  async run(): Promise<DryRunReport> {
    const { opts } = this.deps;
    const p = this.params;
    const { account, req } = await this.describeCall();
    const scope: DialplanScope = {
      tenant: p.tenant, callId: req.callId, account, dialplanName: p.dialplanName, settings: this.settings,
      dial: (dialString, options) => this.dial(dialString, options),
      respond: (code, reason) => {
        if (this.responded || this.answered) return;
        this.responded = { status: code, reason };
      },
      callback: (dest1, dest2) => this.callback(dest1, dest2),
    };
    const sysOpts: SysFunctionOptions = { ...opts, kv: p.useRealKv ? opts.kv : new KvOverlay(opts.kv), emit: () => {} };
    const sys = new SysFunctions(scope, { opts: sysOpts, currentCalls: (t) => this.deps.currentCalls(t) });
    const host: SandboxHost = {
      call: (name, args) => this.sysCall(sys, name, args),
      usage: (u) => { this.cpuMs = u.cpuMs; },
    };
    const started = performance.now();
    let result: RunResult;
    try {
      result = await opts.sandbox.run(
        {
          tenantId: String(p.tenant.id), callId: req.callId, dialplanName: p.dialplanName, js: p.dialplan.js, sourceMap: p.dialplan.sourceMap, req,
          // The tenant's own budget for that direction, but never a per-source one: the source
          // address is whatever the user typed, and must not use up a real caller's allowance.
          direction: req.direction,
        },
        host,
      );
    } catch (err) {
      result = { status: 'failed', code: 500, reason: (err as Error).message };
    }
    const wallMs = Math.round((performance.now() - started) * 100) / 100;
    const usage = { cpuMs: this.cpuMs, wallMs, simulatedMs: this.clock.now() };
    if (result.status === 'failed') {
      const limit = limitOf(result);
      return {
        response: { status: result.code, reason: result.code === 503 ? 'Service Unavailable' : 'Dialplan failed', by: 'error' },
        timeline: this.timeline, usage, ...(limit && { limit }),
        error: { message: result.reason, ...(result.line !== undefined && { line: result.line }), ...(result.column !== undefined && { column: result.column }) },
      };
    }
    const response: DryRunReport['response'] = this.answered
      ? { status: 200, reason: 'OK', by: 'answer' }
      : this.responded
        ? { ...this.responded, by: 'dialplan' }
        : this.lastFailure
          ? { ...this.lastFailure, by: 'dial' }
          : { status: 480, reason: 'Temporarily Unavailable', by: 'default' };
    return { response, timeline: this.timeline, usage };
  }

  /** The account the dialplan runs for and the `req` it sees, from the described call. */
  private async describeCall(): Promise<{ account: CallAccount; req: DialplanRequest }> {
    const { opts } = this.deps;
    const { tenant, call } = this.params;
    const at = call.to.lastIndexOf('@');
    const toUser = at >= 0 ? call.to.slice(0, at) : call.to;
    const toHost = at >= 0 ? call.to.slice(at + 1) : tenant.domain;
    const [address, portText] = splitSource(call.sourceAddress ?? '192.0.2.10:5060');
    let account: CallAccount | undefined;
    let fromUser: string;
    let fromHost: string;
    if (call.direction === 'out') {
      if (!call.from.account) throw new DryRunRequestError('call.from.account', 'an outgoing call needs the calling account');
      account = await opts.accounts.find(call.from.account, tenant.domain);
      if (!account) throw new DryRunRequestError('call.from.account', `no account ${call.from.account} in this tenant`);
      fromUser = account.username;
      fromHost = tenant.domain;
    } else {
      fromUser = call.from.number ?? call.from.account ?? 'anonymous';
      fromHost = call.from.account ? tenant.domain : address;
      account = await opts.accounts.find(toUser, tenant.domain);
      // A call to a number that is no account (a DID routed to a dialplan) runs for a pseudo-account, as a provider call does.
      account ??= {
        id: 0, tenantId: tenant.id, username: toUser, ha1Md5: '', ha1Sha256: '', disabled: false, natKeepAlive: false, allowedCidrs: [], incomingOnly: true,
      };
    }
    const uri = (user: string, host: string): DialplanRequest['uri'] => ({ user, host, params: {}, raw: `sip:${user}@${host}` });
    const headers: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(call.headers ?? {})) (headers[k.toLowerCase()] ??= []).push(v);
    const callId = `dry-run-${randomBytes(8).toString('hex')}`;
    headers['call-id'] = [callId];
    const req: DialplanRequest = {
      method: 'INVITE',
      uri: uri(toUser, toHost),
      from: { ...(call.from.displayName !== undefined && { displayName: call.from.displayName }), uri: uri(fromUser, fromHost), tag: randomBytes(4).toString('hex') },
      to: { uri: uri(toUser, toHost) },
      callId,
      headers,
      body: '',
      source: { address, port: portText, transport: call.transport ?? 'udp' },
      account: { username: account.username, domain: tenant.domain },
      direction: call.direction,
    };
    return { account, req };
  }

  private async sysCall(sys: SysFunctions, name: SysFunctionName, args: unknown[]): Promise<unknown> {
    const at = this.clock.now();
    if (name === 'Log') {
      this.timeline.push({ kind: 'log', at, message: String(args[0] ?? '').slice(0, 4096) });
      return null;
    }
    const entry: Extract<DryRunTimelineEntry, { kind: 'sys' }> = { kind: 'sys', at, name, args: args.map(plain) };
    this.timeline.push(entry);
    try {
      const value = name === 'WebGet' ? await this.webGet(sys, args) : await sys.call(name, args);
      // A secret's value reaches the script, never the timeline (members can read it).
      entry.result = name === 'Secret' && value !== null ? '••••••' : plain(value);
      return value;
    } catch (err) {
      entry.error = (err as Error).message;
      throw err;
    }
  }

  private async webGet(sys: SysFunctions, args: unknown[]): Promise<unknown> {
    const url = typeof args[0] === 'string' ? args[0] : '';
    const rule: DryRunWebGetRule | undefined = (this.params.webGet ?? []).find((r) => patternMatches(r.url, url));
    if (!rule) throw new Error(`WebGet: ${url} has no rule in this dry run (stub it, or let it through)`);
    if (rule.real) return sys.call('WebGet', args);
    return rule.body ?? '';
  }

  private async dial(dialString: string, options: DialCallOptions): Promise<SandboxDialResult> {
    if (this.answered || this.responded) throw new Error('Dial: the call is already answered or over');
    const r = await this.fork('Dial', dialString, options.ringTimeout);
    if (r.answered) {
      this.answered = true;
      this.lastFailure = undefined;
      return { answered: true, status: 200, reason: 'OK', outcome: 'answered' };
    }
    this.lastFailure = { status: r.status, reason: r.reason };
    const outcome = r.outcome === 'timeout' ? 'no-answer' : r.outcome === 'failed' && (r.status === 486 || r.status === 600) ? 'busy' : r.outcome;
    return { answered: false, status: r.status, reason: r.reason, outcome, ...sandboxRedirect(r) };
  }

  private async callback(dest1: string, dest2: string): Promise<{ answered: boolean; status: number; reason: string }> {
    const first = await this.fork('Callback', dest1, undefined);
    if (!first.answered) return { answered: false, status: first.status, reason: first.reason };
    const second = await this.fork('Callback', dest2, undefined);
    return second.answered ? { answered: true, status: 200, reason: 'OK' } : { answered: false, status: second.status, reason: second.reason };
  }

  /** One Dial's fork, with the real dial-string parser and fork controller, on simulated legs. */
  private async fork(via: 'Dial' | 'Callback', dialString: string, ringTimeout: number | undefined): Promise<DialResult> {
    const req = this.params.call;
    const at = req.to.lastIndexOf('@');
    let plan;
    try {
      plan = parseDialString(dialString, {
        dst: at >= 0 ? req.to.slice(0, at) : req.to,
        fromName: req.from.displayName ?? '',
        fromUriUser: req.from.account ?? req.from.number ?? '',
      });
    } catch (err) {
      throw new Error(`${via}: ${(err as Error).message}`);
    }
    const startedAt = this.clock.now();
    const legs = new SimulatedLegs(this.clock, this.params.outcomes, this.params.defaultOutcome);
    const fork = startFork({
      plan, starter: legs, clock: this.clock, ringTimeoutSeconds: ringTimeout, legBudget: this.budget, ownDomains: [this.params.tenant.domain],
    });
    this.clock.runAll();
    const result = await fork.result;
    const shown: DryRunLeg[] = result.legs.map((o) => ({
      id: o.id, group: o.groupIndex, destination: destinationText(o.target), rule: legs.ruleOf.get(o.key), state: o.state,
      ...(o.status !== undefined && { status: o.status }), ...(o.reason !== undefined && { reason: o.reason }),
      ...(o.startedAt !== undefined && { startedAt: o.startedAt }), ...(o.ringingAt !== undefined && { ringingAt: o.ringingAt }),
      ...(o.answeredAt !== undefined && { answeredAt: o.answeredAt }), ...(o.endedAt !== undefined && { endedAt: o.endedAt }),
    }));
    this.timeline.push({
      kind: 'dial', at: startedAt, via, dialString, legs: shown, answered: result.answered, status: result.status, reason: result.reason,
      outcome: result.outcome, ...(result.winner && { winner: result.winner.outcome.id }), endedAt: result.endedAt,
    });
    return result;
  }
}

function splitSource(text: string): [string, number] {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6) return [v6[1]!, Number(v6[2] ?? 5060)];
  const m = /^([^:]+)(?::(\d+))?$/.exec(text);
  if (!m || !isIP(m[1]!)) throw new DryRunRequestError('call.sourceAddress', 'must be an IP address, optionally with :port');
  return [m[1]!, Number(m[2] ?? 5060)];
}
