import type { CallState } from './call-state.ts';
import type { ControllableCall, ControlResult, ParkedCallView } from './control/index.ts';
import { DEFAULT_PARK_SETTINGS, ParkingLot, TenantParkSettings } from './park/index.ts';
import type { Logger } from 'pino';
import { sourceTrust, type TenantRef } from '../registrar/index.ts';
import { dialogKeyOfRequest, digestUriMatchesRequest, endForkDialog } from '../sip/index.ts';
import { createResponse, newTag, type Endpoint, type SipRequest, type SipResponse } from '../sip/index.ts';
import type { ServerTransaction } from '../sip/index.ts';
import { formatHost } from '../sip/index.ts';
import { Call, type CallContext } from './call.ts';
import { CallbackCall, type CallbackContext, type CallbackParams } from './callback-call.ts';
import type { CallbackResult } from './dialplan/index.ts';
import { parseDialString, type DialPlan } from './dial/index.ts';
import type { CallDirection, CallParty } from './records/index.ts';
import { AccountCallCounter } from './account-call-counter.ts';
import { parseReplaces, replacesDialogKeys } from './transfer/index.ts';
import type { CallAccount, CallServiceOptions, SipCallOwner } from './call-service-deps.ts';
import type { InboundMatch } from '../providers/index.ts';
import { DialplanDryRun, type DryRunParams, type DryRunReport } from './dry-run/index.ts';
import type { PhoneDialog } from './phone-dialog.ts';

/** What a request from a tenant account (SUBSCRIBE) gets from the INVITE digest path. */
export type AccountAuthResult =
  | { ok: true; tenant: TenantRef; account: CallAccount }
  | { ok: false; status: number; reason?: string; headers?: Array<[string, string]> };

export interface ActiveCallInfo {
  id: string;
  tenantId: number;
  direction: CallDirection;
  caller: CallParty;
  callee: CallParty;
  state: CallState;
  dialplan?: string;
  createdAt: number;
}

/** What a click-to-call answers: the new call's id, or why none was placed (an HTTP status). */
export type ClickToCallResult = { ok: true; callId: string } | { ok: false; status: number; reason: string; field?: string };

/** Who receives requests of a dialog we created. */
interface DialogOwner {
  handleInDialog(req: SipRequest, tx: ServerTransaction | undefined, side: 'a' | 'b'): void;
}

type Route =
  | { kind: 'reject'; status: number; reason?: string; headers?: Array<[string, string]> }
  | { kind: 'call'; tenant: TenantRef; direction: CallDirection; account: CallAccount; dialplan?: string; inbound?: { provider: string; did?: string } };

/** The dialplan a provider call runs when its DID names neither an account nor a dialplan. */
export const PROVIDER_INCOMING_DIALPLAN = 'incoming';

/**
 * A call from a provider: its DID's account (that account's incoming dialplan or phones), else
 * the DID's dialplan or the tenant's `incoming`, run for the provider itself (a pseudo-account
 * named after it, with no credentials, that can only receive).
 */
async function providerRoute(m: Extract<InboundMatch, { kind: 'provider' }>, accounts: CallServiceOptions['accounts']): Promise<Route> {
  const inbound = { provider: m.provider.name, did: m.did };
  if (m.accountUsername) {
    const acct = await accounts.find(m.accountUsername, m.tenant.domain);
    if (!acct) return { kind: 'reject', status: 404 };
    if (acct.disabled) return { kind: 'reject', status: 403, reason: 'Account disabled' };
    return { kind: 'call', tenant: m.tenant, direction: 'inbound', account: acct, dialplan: m.dialplan ?? acct.inDialplan ?? undefined, inbound };
  }
  const account: CallAccount = {
    id: -m.provider.id, tenantId: m.tenant.id, username: m.provider.name, ha1Md5: '', ha1Sha256: '', disabled: false,
    natKeepAlive: false, allowedCidrs: [], incomingOnly: true,
  };
  return { kind: 'call', tenant: m.tenant, direction: 'inbound', account, dialplan: m.dialplan ?? PROVIDER_INCOMING_DIALPLAN, inbound };
}

const DEFAULT_MAX_CALLS = 20_000;

/** sys.Callback calls one tenant may have up at once. */
export const MAX_CALLBACKS_PER_TENANT = 10;

/** How long a SIP Call-ID still names its call after the call ended (late BYE retransmissions, 200 to BYE). */
const SIP_CALL_ID_LINGER_MS = 32_000;
/** The pickup feature code: `*8<extension>` (directed) or `*8` (the tenant's group). */
const PICKUP_CODE = /^\*8([A-Za-z0-9._+-]{0,64})$/;

/** Do-not-disturb feature codes dialled from the account's own phone: `*78` on, `*79` off. */
const DND_CODES: Record<string, boolean> = { '*78': true, '*79': false };

/** Methods a dialog of ours may receive; without a matching dialog they get 481. */
const DIALOG_METHODS = new Set(['BYE', 'UPDATE', 'INFO', 'REFER', 'PRACK']);

/**
 * The B2BUA entry point: routes new INVITEs to dialplans (or straight to bindings) and hands
 * in-dialog requests to their call. `handleRequest` returns false for requests it does not own
 * (REGISTER, out-of-dialog OPTIONS/SUBSCRIBE…) so the dispatcher can pass them on.
 */
export class CallService {
  private readonly calls = new Set<Call>();
  /** Calls placed by sys.Callback (no caller transaction). */
  private readonly callbacks = new Set<CallbackCall>();
  /** Calls each account is a party of, for its maxCalls. */
  private readonly accountCalls = new AccountCallCounter();
  private readonly dialogs = new Map<string, { call: DialogOwner; side: 'a' | 'b' }>();
  /**
   * ACKs we sent for 2xx, by B-leg Call-ID: a retransmitted 2xx gets the same ACK (§13.2.2.4).
   * `forks`: the ACKs of other forks' dialogs we ended after Timer M, by To tag (made on first use).
   */
  private readonly acks = new Map<string, { ack: SipRequest; flow: Endpoint; forks?: Map<string, SipRequest> }>();
  /** SIP Call-ID → its call, for the SIP trace; null when two calls claimed it (never attribute a guess). */
  private readonly sipCallOwners = new Map<string, SipCallOwner | null>();
  /** Patchbay call id → the SIP Call-IDs it claimed (forgotten a while after the call ends). */
  private readonly claimedSipCallIds = new Map<string, string[]>();
  private readonly logger: Logger;
  private readonly ctx: CallContext;
  /** Park slots of every tenant (one set of numbers each). */
  readonly parking: ParkingLot<Call>;
  /** Each tenant's slot range and recall time (its own, else the switch's). */
  readonly parkSettings: TenantParkSettings;
  private readonly callbackCtx: CallbackContext;
  private closed = false;
  /** New calls refused because `maxCalls` calls were up. */
  private overflowRefusals = 0;
  /** New calls answered 503 by admission control (sandbox saturated) before any work. */
  private admissionRefusals = 0;

  constructor(private readonly opts: CallServiceOptions) {
    this.logger = opts.logger;
    const stack = opts.stack;
    stack.onStrayResponse ??= (res) => {
      this.handleStrayResponse(res);
    };
    this.parkSettings = new TenantParkSettings({ defaults: opts.park ?? DEFAULT_PARK_SETTINGS, ...(opts.tenantPark && { read: opts.tenantPark }) });
    this.parking = new ParkingLot<Call>(this.parkSettings, (ms, fn) => {
      const t = stack.wheel.schedule(ms, fn);
      return () => stack.wheel.cancel(t);
    });
    this.ctx = {
      opts,
      stack,
      parking: this.parking,
      logger: opts.logger,
      localContact: (kind) => this.localContact(kind),
      rememberAck: (callId, ack, flow) => this.acks.set(callId, { ack, flow }),
      forgetAck: (callId) => this.acks.delete(callId),
      registerDialog: (key, call, side) => this.dialogs.set(key, { call, side }),
      unregisterDialog: (key) => this.dialogs.delete(key),
      callEnded: (call) => {
        this.calls.delete(call);
        this.accountCalls.releaseCall(call.id);
        this.forgetSipCallIdsLater(call.id);
        this.opts.providers?.callEnded(call.id);
      },
      claimCallSipCallId: (sipCallId, owner) => this.claimSipCallId(sipCallId, owner),
      accountCalls: this.accountCalls,
      findCallDialog: (tenantId, keys) => this.findCallDialog(tenantId, keys),
      currentCalls: (tenantId) => [...this.calls, ...this.callbacks].filter((c) => c.tenant.id === tenantId),
      callback: (params) => {
        const started = this.startCallback(params);
        return 'refused' in started ? Promise.resolve(started.refused) : started.done;
      },
    };
    this.callbackCtx = {
      ...this.ctx,
      registerDialog: (key, call, side) => this.dialogs.set(key, { call, side }),
      callEnded: (call) => {
        this.callbacks.delete(call);
        this.accountCalls.releaseCall(call.id);
        this.forgetSipCallIdsLater(call.id);
        this.opts.providers?.callEnded(call.id);
      },
    };
  }

  /**
   * A callback call (sys.Callback or click-to-call): one CallbackCall, counted against the
   * account's maxCalls and the per-tenant callback cap, so neither a dialplan nor an API client
   * can fan out unbounded calls the tenant pays for.
   */
  private startCallback(params: CallbackParams): { refused: CallbackResult } | { call: CallbackCall; done: Promise<CallbackResult> } {
    if (this.closed) return { refused: { answered: false, status: 503, reason: 'Shutting down' } };
    const ofTenant = [...this.callbacks].filter((c) => c.tenant.id === params.tenant.id).length;
    if (ofTenant >= MAX_CALLBACKS_PER_TENANT) return { refused: { answered: false, status: 503, reason: 'Too many callbacks' } };
    const call = new CallbackCall(this.callbackCtx, params);
    if (!this.accountCalls.tryTake(params.account.id, call.id, params.account.maxCalls)) {
      return { refused: { answered: false, status: 403, reason: 'Too many calls' } };
    }
    this.callbacks.add(call);
    const done = call.run().catch((err: unknown) => {
      // A bad dial string throws before the call exists on the wire: nothing to end, just forget it.
      this.callbacks.delete(call);
      this.accountCalls.releaseCall(call.id);
      this.opts.providers?.callEnded(call.id);
      throw err;
    });
    return { call, done };
  }

  /**
   * Click-to-call (`POST /api/v1/calls`): rings the account's phones, then `to` with the
   * phone's SDP, and bridges them (RFC 3725 flow I, the sys.Callback machinery and caps).
   * Answers at once with the call id; the call goes on in the background. Provider legs of
   * `to` are screened by the destination policy first, so a blocked number rings nobody.
   */
  async clickToCall(tenant: TenantRef, username: string, to: string): Promise<ClickToCallResult> {
    const account = await this.opts.accounts.find(username, tenant.domain);
    if (!account || account.tenantId !== tenant.id) return { ok: false, status: 404, reason: 'account not found', field: 'from' };
    if (account.disabled) return { ok: false, status: 403, reason: 'account disabled', field: 'from' };
    let plan: DialPlan;
    try {
      plan = parseDialString(to, { dst: '', fromName: '', fromUriUser: account.username });
    } catch (err) {
      return { ok: false, status: 400, reason: `to: ${(err as Error).message}`, field: 'to' };
    }
    const providers = this.opts.providers;
    if (providers) {
      for (const leg of plan.groups.flatMap((g) => g.legs)) {
        const t = leg.target;
        if (t.kind !== 'named' && t.kind !== 'provider') continue;
        const verdict = await providers.screen({ tenantId: tenant.id, provider: t.kind === 'named' ? t.host : t.provider, number: t.user });
        if (verdict.kind !== 'blocked') continue;
        const number = verdict.e164 ?? verdict.number;
        this.logger.warn({ tenantId: tenant.id, provider: verdict.provider, number, rule: verdict.rule }, 'click-to-call blocked by destination policy');
        this.opts.emit({ type: 'call.blocked', tenantId: tenant.id, callId: '', at: Date.now(), provider: verdict.provider, number, rule: verdict.rule });
        return { ok: false, status: 403, reason: `call to ${number} via ${verdict.provider} blocked: ${verdict.rule}`, field: 'to' };
      }
    }
    // A callback rings the account's phones directly (no incoming dialplan): without one there is nobody to ring.
    if (this.opts.location.lookup(account.username, tenant.domain).length === 0) {
      return { ok: false, status: 409, reason: `from: account ${account.username} has no registered phone`, field: 'from' };
    }
    const started = this.startCallback({ tenant, account, dest1: `${account.username}@local`, dest2: to });
    if ('refused' in started) {
      const r = started.refused;
      return { ok: false, status: r.status === 503 && r.reason === 'Shutting down' ? 503 : 429, reason: r.reason };
    }
    started.done.then(
      (r) => this.logger.debug({ callId: started.call.id, status: r.status }, 'click-to-call finished'),
      (err: unknown) => this.logger.warn({ err, callId: started.call.id }, 'click-to-call failed'),
    );
    return { ok: true, callId: started.call.id };
  }

  /** Never throws; answers what it owns, returns false for what it does not. */
  handleRequest(req: SipRequest, tx: ServerTransaction | undefined): boolean {
    try {
      return this.dispatch(req, tx);
    } catch (err) {
      this.logger.warn({ err, method: req.method }, 'call request failed');
      if (tx && req.method !== 'ACK') tx.respond(createResponse(req, 500));
      return true;
    }
  }

  /**
   * For SipStack.onStrayResponse: re-ACKs retransmitted 2xx to our B-leg INVITEs. A 2xx of another
   * fork that comes after Timer M (RFC 6026 §7.2) has its own dialog: it is ACKed and ended with BYE,
   * as InviteAnswers does within Timer M; the kept dialog's ACK would not stop its retransmissions.
   * Once the call has ended as well, nothing of it is kept (an ACK per ended call for another 32 s
   * would cost more than the rare fork that answers that late): such a 2xx is dropped and its UAS,
   * getting no ACK, ends that dialog itself with BYE (RFC 3261 §13.3.1.4).
   */
  handleStrayResponse(res: SipResponse): boolean {
    if (res.cseq.method !== 'INVITE' || res.status < 200 || res.status >= 300) return false;
    const known = this.acks.get(res.callId);
    if (!known) return false;
    const tag = res.to.params['tag'] ?? '';
    const keptTag = known.ack.to.params['tag'] ?? '';
    if (tag === keptTag) {
      this.opts.stack.sendStateless(known.ack, known.flow);
      return true;
    }
    const ended = known.forks?.get(tag);
    if (ended) {
      this.opts.stack.sendStateless(ended, known.flow);
      return true;
    }
    (known.forks ??= new Map()).set(tag, endForkDialog(this.opts.stack, known.ack, res, known.flow));
    this.logger.info(
      { event: 'sip.fork_2xx', callId: res.callId, keptTag, endedTag: tag, afterTimerM: true },
      'second fork answered the INVITE after Timer M: ACKed and ended with BYE (one dialog is kept)',
    );
    return true;
  }

  activeCalls(): ActiveCallInfo[] {
    return [...this.calls, ...this.callbacks].map((c) => ({
      id: c.id, tenantId: c.tenant.id, direction: c.direction, caller: c.caller, callee: c.callee,
      state: c.state, dialplan: c.dialplanName, createdAt: c.createdAt,
    }));
  }

  /** Live calls and dialogs, and calls refused for lack of room (diagnostics, flood tests). */
  get tableSizes(): { calls: number; dialogs: number; overflowRefusals: number; admissionRefusals: number } {
    return { calls: this.calls.size + this.callbacks.size, dialogs: this.dialogs.size, overflowRefusals: this.overflowRefusals, admissionRefusals: this.admissionRefusals };
  }

  /**
   * The call a SIP Call-ID belongs to (both the caller's dialog and every branch the switch
   * placed), until a short while after the call ended so its last BYE/200 still count.
   */
  sipCallOwner(sipCallId: string): SipCallOwner | undefined {
    return this.sipCallOwners.get(sipCallId) ?? undefined;
  }

  private claimSipCallId(sipCallId: string, owner: SipCallOwner): void {
    const had = this.sipCallOwners.get(sipCallId);
    // A caller chooses its own Call-ID: one that collides with another call's is nobody's.
    this.sipCallOwners.set(sipCallId, had === undefined || (had && had.callId === owner.callId) ? owner : null);
    const list = this.claimedSipCallIds.get(owner.callId);
    if (list) list.push(sipCallId);
    else this.claimedSipCallIds.set(owner.callId, [sipCallId]);
  }

  private forgetSipCallIdsLater(callId: string): void {
    const ids = this.claimedSipCallIds.get(callId);
    if (!ids) return;
    this.claimedSipCallIds.delete(callId);
    this.opts.stack.wheel.schedule(SIP_CALL_ID_LINGER_MS, () => {
      for (const id of ids) {
        const owner = this.sipCallOwners.get(id);
        if (owner === null || owner?.callId === callId) this.sipCallOwners.delete(id);
      }
    });
  }

  /** The SIP dialogs the phones of `username` (an account of `tenantId`) have in live calls (BLF). */
  phoneDialogs(tenantId: number, username: string): PhoneDialog[] {
    const out: PhoneDialog[] = [];
    for (const c of this.calls) if (c.tenant.id === tenantId) for (const d of c.phoneDialogs()) if (d.account === username) out.push(d);
    return out;
  }

  /**
   * The digest check INVITEs get (the same challenge, brute-force guard, bans and equal answers
   * for unknown users), for other requests a tenant account sends outside a call: SUBSCRIBE.
   */
  async authenticateAccount(req: SipRequest): Promise<AccountAuthResult> {
    if (this.closed) return { ok: false, status: 503, reason: 'Shutting down' };
    const fromUri = req.from.uri;
    const tenant = fromUri.user ? await this.opts.accounts.tenantForDomain(fromUri.host.toLowerCase()) : undefined;
    if (!tenant) return { ok: false, status: 403 };
    const account = await this.opts.accounts.find(fromUri.user!, tenant.domain);
    const auth = this.authenticate(req, tenant, account);
    if (auth?.kind === 'reject') return { ok: false, status: auth.status, reason: auth.reason, headers: auth.headers };
    if (!account) return { ok: false, status: 403 };
    if (account.disabled) return { ok: false, status: 403, reason: 'Account disabled' };
    return { ok: true, tenant, account };
  }

  /** Live call control: the calls of one tenant only, so an id from another tenant is simply not found. */
  controllableCalls(tenantId: number): ControllableCall[] {
    return [...this.calls, ...this.callbacks].filter((c) => c.tenant.id === tenantId).map((c) => controllable(c));
  }

  /**
   * The ordinary call of `tenantId` that owns one of `keys` (both readings of a Replaces). A
   * dialog of another tenant is not found, whatever its ids: Replaces never crosses tenants.
   */
  private findCallDialog(tenantId: number, keys: string[]): { call: Call; side: 'a' | 'b' } | undefined {
    for (const key of keys) {
      const hit = this.dialogs.get(key);
      if (hit && hit.call instanceof Call && hit.call.tenant.id === tenantId) return { call: hit.call, side: hit.side };
    }
    return undefined;
  }

  /** Hangs up every call (BYE to answered ones, 503 to ringing callers) and refuses new ones. */
  /** Runs a dialplan for a described call against simulated legs (dry-run/): no SIP leaves, no CDR, no call here. */
  dryRun(params: DryRunParams): Promise<DryRunReport> {
    return new DialplanDryRun({ opts: this.opts, currentCalls: (t) => this.ctx.currentCalls(t) }, params).run();
  }

  close(): void {
    this.closed = true;
    for (const c of [...this.calls, ...this.callbacks]) c.hangup('system', 503, 'Service shutting down');
  }

  private dispatch(req: SipRequest, tx: ServerTransaction | undefined): boolean {
    const method = req.method;
    const hasToTag = req.to.params['tag'] !== undefined;
    if (method === 'CANCEL') return true; // the stack answered it and called the INVITE's onCancel
    if (hasToTag) {
      const hit = this.dialogs.get(dialogKeyOfRequest(req));
      if (hit) {
        hit.call.handleInDialog(req, tx, hit.side);
        return true;
      }
      if (method === 'ACK') return true;
      if (method === 'INVITE' || DIALOG_METHODS.has(method)) {
        tx?.respond(createResponse(req, 481));
        return true;
      }
      return false;
    }
    if (method === 'ACK') return false;
    if (method === 'INVITE') {
      if (!tx) return true;
      void this.newCall(req, tx).catch((err: unknown) => {
        this.logger.error({ err, sipCallId: req.callId }, 'new call failed');
        if (tx.state === 'Proceeding') tx.respond(createResponse(req, 500, undefined, { toTag: newTag() }));
      });
      return true;
    }
    if (DIALOG_METHODS.has(method) && method !== 'REFER') {
      tx?.respond(createResponse(req, 481));
      return true;
    }
    return false;
  }

  private async newCall(req: SipRequest, tx: ServerTransaction): Promise<void> {
    const route = await this.route(req);
    if (route.kind === 'call' && this.calls.size + this.callbacks.size >= (this.opts.maxCalls ?? DEFAULT_MAX_CALLS)) {
      // The dialog table is bounded by bounding calls (each has at most its legs' dialogs).
      if (this.overflowRefusals++ % 1000 === 0) {
        this.logger.warn({ event: 'sip.overflow', table: 'calls', live: this.calls.size, refused: this.overflowRefusals }, 'call table full: 503');
      }
      tx.respond(createResponse(req, 503, 'Service Unavailable', { toTag: newTag(), headers: { 'Retry-After': '5' } }));
      return;
    }
    if (route.kind === 'reject') {
      const res = createResponse(req, route.status, route.reason, { toTag: newTag() });
      for (const [k, v] of route.headers ?? []) res.headers.append(k, v);
      tx.respond(res);
      return;
    }
    // *8<ext>: directed pickup of a call ringing that extension; *8 alone: any call ringing the tenant.
    const pickup = route.direction === 'outbound' && req.uri.host.toLowerCase() === route.tenant.domain ? PICKUP_CODE.exec(req.uri.user ?? '') : null;
    if (pickup) {
      await this.pickUpCall(req, tx, route, pickup[1] || undefined);
      return;
    }
    const dnd = this.opts.setDnd && route.direction === 'outbound' && req.uri.host.toLowerCase() === route.tenant.domain ? DND_CODES[req.uri.user ?? ''] : undefined;
    if (dnd !== undefined) {
      await this.switchDnd(req, tx, route, dnd);
      return;
    }
    // A phone of the tenant dialling a park slot retrieves what is parked there (no dialplan runs).
    if (route.direction === 'outbound' && req.uri.host.toLowerCase() === route.tenant.domain && this.parking.isSlot(route.tenant.id, req.uri.user)) {
      await this.retrieveFromSlot(req, tx, route, req.uri.user!);
      return;
    }
    const replaces = req.headers.get('Replaces');
    if (replaces !== undefined) {
      await this.replaceCall(req, tx, route, replaces);
      return;
    }
    const names = this.opts.callerNamesReady?.(route.tenant.id);
    if (names) await names;
    const call = new Call(this.ctx, { tenant: route.tenant, direction: route.direction, account: route.account, dialplanName: route.dialplan, req, tx, inbound: route.inbound });
    if (tx.state !== 'Proceeding') return; // cancelled while we were routing
    const account = route.account;
    if (!this.accountCalls.tryTake(account.id, call.id, account.maxCalls)) {
      // Over the account's maxCalls. Outgoing: 403, a policy refusal the phone should not retry
      // elsewhere (503 would send RFC 3263 clients to the next server, 486 describes a callee).
      // Incoming: 486, the usual "this subscriber is busy" that phones and carriers understand.
      const [status, reason] = route.direction === 'outbound' ? [403, 'Too many calls'] : [486, 'Busy Here'];
      tx.respond(createResponse(req, status, reason, { toTag: newTag() }));
      return;
    }
    // Accepted: from here refusals (dialplan, callee) are retransmitted like any final, and a
    // retransmitted INVITE is absorbed instead of running the dialplan twice.
    tx.keepState?.();
    this.calls.add(call);
    this.claimSipCallId(req.callId, { tenantId: route.tenant.id, callId: call.id, leg: 'a', tag: req.from.params['tag'] ?? undefined });
    call.start();
    if (!route.dialplan) {
      await call.ringAccount();
      return;
    }
    const stored = await this.opts.dialplans.get(route.tenant.id, route.dialplan);
    if (!stored) {
      this.logger.warn({ tenantId: route.tenant.id, dialplan: route.dialplan }, 'dialplan not found');
      this.opts.emit({
        type: 'dialplan.log', tenantId: route.tenant.id, callId: call.id, at: Date.now(), level: 'error',
        dialplan: route.dialplan, message: `Dialplan "${route.dialplan}" does not exist`,
      });
      call.hangup('system', 480, 'Dialplan not found');
      return;
    }
    await call.runDialplan(stored);
  }

  /**
   * Pickup by a phone of the tenant: the oldest call of the same tenant ringing `extension` (or,
   * with none given, ringing any other account of the tenant — the tenant is one pickup group).
   * A call of another tenant is never found.
   */
  private async pickUpCall(req: SipRequest, tx: ServerTransaction, route: Extract<Route, { kind: 'call' }>, extension: string | undefined): Promise<void> {
    const picker = route.account.username;
    const call = [...this.calls]
      .filter((c) => c.tenant.id === route.tenant.id && !(c.direction === 'outbound' && c.account.username === picker) && c.isRingingFor(extension, picker))
      .sort((a, b) => a.createdAt - b.createdAt)[0];
    if (!call) {
      tx.respond(createResponse(req, 404, 'No call to pick up', { toTag: newTag() }));
      return;
    }
    if (!this.accountCalls.tryTake(route.account.id, call.id, route.account.maxCalls)) {
      tx.respond(createResponse(req, 403, 'Too many calls', { toTag: newTag() }));
      return;
    }
    if (!(await call.pickUp(req, tx, `sip:${picker}@${route.tenant.domain}`, route.account))) this.accountCalls.release(route.account.id, call.id);
  }

  /**
   * `*78`/`*79` from the account's own phone: stores the flag and ends the attempt with a final
   * response whose reason phrase says what happened (phones show it), since there is no
   * announcement to play. 480 rather than 2xx: nothing is set up, so there is no dialog to keep.
   */
  private async switchDnd(req: SipRequest, tx: ServerTransaction, route: Extract<Route, { kind: 'call' }>, dnd: boolean): Promise<void> {
    try {
      await this.opts.setDnd!({ tenantId: route.tenant.id, id: route.account.id, username: route.account.username }, dnd, 'phone');
    } catch (err) {
      this.logger.error({ err, tenantId: route.tenant.id, account: route.account.username }, 'DND switch failed');
      tx.respond(createResponse(req, 500, 'Do Not Disturb unchanged', { toTag: newTag() }));
      return;
    }
    tx.respond(createResponse(req, 480, dnd ? 'Do Not Disturb on' : 'Do Not Disturb off', { toTag: newTag() }));
  }

  private async retrieveFromSlot(req: SipRequest, tx: ServerTransaction, route: Extract<Route, { kind: 'call' }>, slot: string): Promise<void> {
    const entry = this.parking.get(route.tenant.id, slot);
    if (!entry) {
      tx.respond(createResponse(req, 404, `Nothing parked in ${slot}`, { toTag: newTag() }));
      return;
    }
    if (!this.accountCalls.tryTake(route.account.id, entry.call.id, route.account.maxCalls)) {
      tx.respond(createResponse(req, 403, 'Too many calls', { toTag: newTag() }));
      return;
    }
    // A phone that did not get the call is no party of it: its maxCalls hold goes again.
    if (!(await entry.call.retrieveByPhone(req, tx, `sip:${route.account.username}@${route.tenant.domain}`, route.account))) this.accountCalls.release(route.account.id, entry.call.id);
  }

  /** Live call control pickup: the tenant's call `callId`, or the oldest one ringing `extension`, goes to `destination`. */
  pickupTo(tenantId: number, which: { callId?: string; extension?: string }, destination: string, by: string): Promise<ControlResult> {
    const call = [...this.calls]
      .filter((c) => c.tenant.id === tenantId && (which.callId ? c.id === which.callId : true) && c.isRingingFor(which.callId ? undefined : which.extension))
      .sort((a, b) => a.createdAt - b.createdAt)[0];
    if (!call) return Promise.resolve({ ok: false, status: 404, reason: 'No such ringing call' });
    return call.pickupTo(destination, by);
  }

  /** The tenant's parked calls (REST `GET /parking`). */
  parkedCalls(tenantId: number): ParkedCallView[] {
    return this.parking.list(tenantId).map((e) => ({
      slot: e.slot, callId: e.call.id, parkedAt: e.parkedAt, parkedBy: e.parkedBy, party: e.call.parkedPartyUri ?? '',
    }));
  }

  /** REST retrieve: the call parked in `slot` of this tenant goes to the extension `destination`. */
  retrieveParked(tenantId: number, slot: string, destination: string, by: string): Promise<ControlResult> {
    const entry = this.parking.get(tenantId, slot);
    if (!entry) return Promise.resolve({ ok: false, status: 404, reason: `Nothing parked in ${slot}` });
    return entry.call.retrieveTo(destination, by);
  }

  /**
   * INVITE with Replaces (RFC 3891 §3): only a phone that proved to be an account of the tenant
   * (digest, as for any call it places) may take over a dialog, and only one of its own tenant's
   * calls: anything else that names no dialog here gets 481, a stranger 403.
   */
  private async replaceCall(req: SipRequest, tx: ServerTransaction, route: Extract<Route, { kind: 'call' }>, value: string): Promise<void> {
    const reply = (status: number, reason?: string): void => tx.respond(createResponse(req, status, reason, { toTag: newTag() }));
    if (route.direction !== 'outbound') return reply(403, 'Replaces needs a caller authenticated as an account of the tenant');
    const parsed = parseReplaces(value);
    if (!parsed) return reply(400, 'Malformed Replaces header');
    const found = this.findCallDialog(route.tenant.id, replacesDialogKeys(parsed));
    if (!found) {
      // A BLF key's pickup: the Replaces names the early dialog of a phone the call rings (ids
      // from the dialog-info NOTIFY). It is a pickup of that call, by the phone that sent it.
      const ringing = [...this.calls].find((c) => c.tenant.id === route.tenant.id && c.ringsEarlyDialog(parsed.callId, parsed.toTag, parsed.fromTag));
      if (!ringing) return reply(481);
      if (!this.accountCalls.tryTake(route.account.id, ringing.id, route.account.maxCalls)) return reply(403, 'Too many calls');
      if (!(await ringing.pickUp(req, tx, `sip:${route.account.username}@${route.tenant.domain}`))) this.accountCalls.release(route.account.id, ringing.id);
      return;
    }
    // §3: early-only names a dialog that must still be early; ours here are all confirmed.
    if (parsed.earlyOnly) return reply(486);
    if (tx.state !== 'Proceeding') return;
    // The phone becomes a party of that call: it counts against its account's maxCalls there.
    if (!this.accountCalls.tryTake(route.account.id, found.call.id, route.account.maxCalls)) return reply(403, 'Too many calls');
    if (!(await found.call.takeOver(found.side, req, tx, `sip:${route.account.username}@${route.tenant.domain}`, 'replaced', route.account))) this.accountCalls.release(route.account.id, found.call.id);
  }

  /**
   * Core dispatch (DESIGN.md "One call, end to end", step 3): From a tenant account → digest →
   * its outgoing dialplan; to a tenant domain → the callee's incoming dialplan or its bindings.
   */
  private async route(req: SipRequest): Promise<Route> {
    if (this.closed) return { kind: 'reject', status: 503, reason: 'Shutting down' };
    // Admission control: past saturation a new call is refused before any work (digest, lookups);
    // in-dialog requests never come here.
    const retryAfter = this.opts.sandbox.shedRetryAfter?.();
    if (retryAfter !== undefined) {
      this.admissionRefusals++;
      return { kind: 'reject', status: 503, reason: 'Service Unavailable', headers: [['Retry-After', String(retryAfter)]] };
    }
    if (req.maxForwards === 0) return { kind: 'reject', status: 483 };
    if (req.uri.scheme === 'tel') return { kind: 'reject', status: 416 };
    const accounts = this.opts.accounts;
    const fromUri = req.from.uri;
    const fromTenant = fromUri.user ? await accounts.tenantForDomain(fromUri.host.toLowerCase()) : undefined;
    const caller = fromTenant ? await accounts.find(fromUri.user!, fromTenant.domain) : undefined;
    if (fromTenant) {
      // A From in a tenant's domain claims to be one of its accounts: it proves it with digest,
      // and an unknown user gets the same challenge and the same 403 after the same work as a
      // wrong password, so INVITEs cannot enumerate accounts.
      const auth = this.authenticate(req, fromTenant, caller);
      if (auth) return auth;
      if (!caller) return { kind: 'reject', status: 403 };
      if (caller.disabled) return { kind: 'reject', status: 403, reason: 'Account disabled' };
      if (caller.incomingOnly) return { kind: 'reject', status: 403, reason: 'Account may not place calls' };
      // INVITE/Replaces and a dial of a park slot join an existing call: no dialplan runs for them.
      const own = req.uri.host.toLowerCase() === fromTenant.domain;
      // Its slot numbers are known before the dialled number is judged (one read per tenant, then memory).
      const parkReady = own ? this.parking.ready(fromTenant.id) : undefined;
      if (parkReady) await parkReady;
      const joins = req.headers.get('Replaces') !== undefined || (own && (this.parking.isSlot(fromTenant.id, req.uri.user) || PICKUP_CODE.test(req.uri.user ?? '')))
        || (own && this.opts.setDnd !== undefined && DND_CODES[req.uri.user ?? ''] !== undefined);
      if (!caller.outDialplan && !joins) return { kind: 'reject', status: 480, reason: 'No outgoing dialplan' };
      return { kind: 'call', tenant: fromTenant, direction: 'outbound', account: caller, dialplan: caller.outDialplan ?? undefined };
    }
    const inbound = this.opts.inboundProviders
      ? await this.opts.inboundProviders.match({ requestUser: req.uri.user, toUser: req.to.uri.user, sourceAddress: req.source?.address })
      : undefined;
    if (inbound?.kind === 'refused') return { kind: 'reject', status: 403, reason: inbound.reason };
    if (inbound?.kind === 'provider') return providerRoute(inbound, accounts);
    const toTenant = await accounts.tenantForDomain(req.uri.host.toLowerCase());
    if (!toTenant) return { kind: 'reject', status: 404, reason: 'Domain not served here' };
    const user = req.uri.user;
    const callee = user ? await accounts.find(user, toTenant.domain) : undefined;
    if (!callee) return { kind: 'reject', status: 404 };
    if (callee.disabled) return { kind: 'reject', status: 403, reason: 'Account disabled' };
    return { kind: 'call', tenant: toTenant, direction: 'inbound', account: callee, dialplan: callee.inDialplan ?? undefined };
  }

  /**
   * Undefined when authenticated; otherwise the 407/403/400 to send. The source-CIDR rule is the
   * registrar's (sourceTrust: alone only on connection transports); wrong answers feed the same
   * brute-force guard, and a banned source gets 403 before any digest work.
   */
  private authenticate(req: SipRequest, tenant: TenantRef, account: CallAccount | undefined): Route | undefined {
    const source = req.source;
    const guard = this.opts.authGuard;
    if (source && guard?.isBanned(source.address)) return { kind: 'reject', status: 403 };
    const trust = account ? sourceTrust(account, source) : 'digest-required';
    if (trust === 'trusted') return undefined;
    const realm = tenant.domain;
    const headerValues = req.headers.getAll('Proxy-Authorization');
    const result = this.opts.digest.verify({
      headerValues,
      realm,
      method: req.method,
      requestUri: (digestUri) => digestUriMatchesRequest(digestUri, req, { ownHosts: this.opts.publicAddress ? [this.opts.publicAddress] : [] }),
      lookupHa1: (username, algorithm) => {
        // A source outside the account's networks gets the same work and the same 403 as a wrong password.
        if (!account || trust === 'forbidden' || username !== account.username) return undefined;
        return algorithm === 'MD5' ? account.ha1Md5 : account.ha1Sha256;
      },
    });
    if (result.ok) return undefined;
    switch (result.reason) {
      case 'malformed':
        return { kind: 'reject', status: 400, reason: 'Malformed Proxy-Authorization header' };
      case 'uri-mismatch':
        return { kind: 'reject', status: 400, reason: 'Digest URI does not match Request-URI' };
      case 'bad-response':
        if (source) {
          guard?.recordFailure({
            source: source.address, port: source.port, transport: source.transport, user: req.from.uri.user, realm,
            reason: trust === 'forbidden' ? 'source not in the account\'s networks' : 'wrong digest answer to INVITE',
          });
        }
        return { kind: 'reject', status: 403 };
      default: {
        const values = this.opts.digest.challengeHeaders(realm, { stale: result.stale });
        return { kind: 'reject', status: 407, headers: values.map((v): [string, string] => ['Proxy-Authenticate', v]) };
      }
    }
  }

  private localContact(kind: Endpoint['transport']): string {
    const local = this.opts.stack.localAddressFor(kind);
    const host = this.opts.publicAddress ?? local?.host ?? '127.0.0.1';
    const port = local?.port ?? 5060;
    const t = kind === 'udp' ? '' : `;transport=${kind}`;
    return `<sip:patchbay@${formatHost(host)}:${port}${t}>`;
  }
}

function controllable(c: Call | CallbackCall): ControllableCall {
  return {
    id: c.id, tenantId: c.tenant.id,
    view: () => c.view(),
    hangup: (by, status, reason) => c.hangup(by, status, reason),
    hold: (party, by) => c.hold(party, by),
    unhold: (by) => c.unhold(by),
    transfer: (party, destination, by) => c.transfer(party, destination, by),
    park: (party, slot, by) => c.park(party, slot, by),
    consultStart: (party, destination, by) => c.consultStart(party, destination, by),
    consultComplete: (by) => c.consultComplete(by),
    consultCancel: (by) => c.consultCancel(by),
  };
}
