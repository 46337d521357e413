import type { TenantRef } from '../../registrar/index.ts';
import type { NameAddr, SipRequest, SipResponse } from '../../sip/index.ts';
import { rewriteSdpForNat } from '../bridge/index.ts';
import type { CallAccount, CallServiceOptions } from '../call-service-deps.ts';
import { LegBudget, resolveLeg, startFork, type DialLeg, type DialPlan, type DialResult, type ForkExecution, type LegObserver, type LegOutcome } from '../dial/index.ts';
import { DeferredLeg, OutboundLeg, parseCallerId, SessionState, type BranchContext, type BranchRequest, type BridgeableLeg, type CallerId } from '../legs/index.ts';
import type { CallParties, PartyHold } from '../legs/index.ts';
import type { CallDirection, CallParty, CdrLeg } from '../records/index.ts';
import type { PhoneDialog } from '../phone-dialog.ts';
import { LocalDialplanLeg, type LegScope, type LocalDialplanHost } from './local-dialplan-leg.ts';
import type { CallbackResult, DialCallOptions, SysFunctionDeps } from './sys-functions.ts';

/** Whose call it is: what its legs and its dialplan run both need to know of it. */
export interface CallIdentity {
  readonly tenant: TenantRef;
  readonly callId: string;
  /** The caller's account (outbound) or the callee's (inbound). */
  readonly account: CallAccount;
  readonly direction: CallDirection;
  readonly dialplanName?: string;
  readonly opts: CallServiceOptions;
  /** The caller's INVITE. */
  readonly request: SipRequest;
}

/** What the legs of a call need of it (the Call implements it). */
export interface CallLegsHost extends CallIdentity {
  /** Where the legs' branches send from (claiming each SIP Call-ID for the call). */
  readonly branchContext: BranchContext;
  readonly parties: CallParties;
  readonly ended: boolean;
  readonly sysDeps: SysFunctionDeps;
  /** A leg rings the account `username` (a pickup may take it); the function returned says it stopped. */
  ringing(username: string): () => void;
  callback(account: CallAccount, dest1: string, dest2: string): Promise<CallbackResult>;
}

/** A leg ringing a tenant account's phones (its branches are the phones' dialogs, for BLF). */
interface PhoneLeg {
  account: CallAccount;
  leg: OutboundLeg;
  since: number;
}

/**
 * The legs of one call: each Dial's fork (the caller's dialplan, a transfer's, a pickup's), its
 * legs started behind a DeferredLeg once resolved (account, DNS, nested dialplan), the ≤ 20 leg
 * budget they share, the accounts they ring, and the CDR legs and dial strings they leave.
 */
export class CallLegs {
  /** The fork under way, if any: cancelled when the caller or the call goes. */
  private fork?: ForkExecution<BridgeableLeg>;
  private readonly budget = new LegBudget();
  private readonly dialStrings: string[] = [];
  private readonly cdrLegs: CdrLeg[] = [];
  /** Legs of nested local-account dialplans, added to the CDR after the Dial that started them. */
  private readonly nestedLegs: Array<{ parentKey: string; legs: LegOutcome[] }> = [];
  private readonly phones: PhoneLeg[] = [];
  /** The placing account's caller ID; none on incoming calls (the callee's setting is not ours to show). */
  private readonly callerId: CallerId;

  constructor(private readonly host: CallLegsHost) {
    this.callerId = host.direction === 'outbound' ? parseCallerId(host.account.callerId) : {};
  }

  /**
   * The dialogs of the phones the legs ring or that answered, as each phone sees them (BLF):
   * early ones while `ringsFor` the phone's account, the answered one while it lasts.
   */
  phoneDialogs(ringsFor: (username: string) => boolean, caller: CallParty): PhoneDialog[] {
    const out: PhoneDialog[] = [];
    for (const { account, leg, since } of this.phones) {
      for (const b of leg.branches) {
        const early = b.state === SessionState.Early && !leg.winner && ringsFor(account.username);
        const confirmed = b.state === SessionState.Confirmed && leg.winner === b && b.dialog !== undefined && !b.dialog.terminated;
        if ((!early && !confirmed) || !b.callId || !b.localTag || !b.remoteTag) continue;
        out.push({
          callId: this.host.callId, account: account.username, sipCallId: b.callId, localTag: b.remoteTag, remoteTag: b.localTag,
          direction: 'recipient', state: confirmed ? 'confirmed' : 'early', remote: caller, since,
        });
      }
    }
    return out;
  }

  /** Stops the legs still ringing. */
  cancel(): void {
    this.fork?.cancel();
  }

  /** The dial strings and CDR legs so far, nested legs included (the call's CDR). */
  cdr(): { dialStrings: string[]; legs: CdrLeg[] } {
    this.recordNestedLegs();
    return { dialStrings: [...this.dialStrings], legs: [...this.cdrLegs] };
  }

  /**
   * Runs one Dial's fork (for the caller's dialplan or a transfer's) and records its legs in the
   * CDR, numbered after the legs of earlier Dials. `ringing` gets the CDR leg id.
   */
  async forkLegs(
    plan: DialPlan, dialString: string, options: Pick<DialCallOptions, 'ringTimeout'>, scope: LegScope,
    ringing: (legId: number, target: string, sdp: string | undefined) => void,
  ): Promise<{ result: DialResult<BridgeableLeg>; legOffset: number }> {
    this.dialStrings.push(dialString);
    const legOffset = this.cdrLegs.length;
    const fork = startFork<BridgeableLeg>({
      plan,
      ringTimeoutSeconds: options.ringTimeout,
      legBudget: this.budget,
      ownDomains: [this.host.tenant.domain],
      starter: { start: (leg, observer) => this.startLeg(leg, observer, scope) },
      observer: {
        legRinging: (o) => ringing(o.id + legOffset, o.key, undefined),
        legProgress: (o, sdp) => ringing(o.id + legOffset, o.key, sdp),
      },
    });
    this.fork = fork;
    const result = await fork.result;
    if (this.fork === fork) this.fork = undefined;
    for (const o of result.legs) {
      const dl = plan.groups[o.groupIndex]?.legs.find((l) => l.key === o.key);
      this.cdrLegs.push({ ...cdrLeg(o, legOffset, o.parentId ? o.parentId + legOffset : undefined), transferPolicy: dl?.options.transferPolicy });
    }
    this.recordNestedLegs();
    return { result, legOffset };
  }

  /** Starts one leg: resolved (account, DNS, dialplan) asynchronously behind a DeferredLeg. */
  private startLeg(leg: DialLeg, observer: LegObserver, scope: LegScope): BridgeableLeg {
    const host = this.host;
    const handle = new DeferredLeg(leg);
    void resolveLeg(leg, {
      opts: host.opts, tenant: host.tenant, dialplanChain: scope.chain, nestedDepth: scope.depth,
      callId: host.callId, accountId: host.direction === 'outbound' ? host.account.id : undefined, dialplanName: host.dialplanName,
    }).then(
      (r) => {
        if (handle.cancelled) return;
        if (r.kind === 'failure') {
          observer.failed(r.failure);
          return;
        }
        const callee = r.account;
        let hold: PartyHold | undefined;
        if (callee) {
          // Checked once the account is known and taken in the same turn, so two legs racing for
          // its last slot cannot both ring it. A busy account's phones are never rung.
          hold = host.ended ? undefined : host.parties.take(callee, 'callee', callee.maxCalls);
          if (!hold) {
            observer.failed(host.ended ? { status: 487, reason: 'Request Terminated' } : { status: 486, reason: 'Busy Here' });
            return;
          }
        }
        const legObserver = callee && hold ? this.releasingOnFailure(observer, callee, hold) : observer;
        if (r.kind === 'dialplan') {
          const nested = new LocalDialplanLeg(leg, legObserver, this.nestedHost(), r.account, r.dialplan, r.dialplanName, scope);
          handle.attach(nested);
          nested.start();
          return;
        }
        const out = new OutboundLeg(leg, legObserver, { earlyMedia: earlyMediaRewrite(leg.options.mangleSdp) });
        handle.attach(out);
        if (callee) this.phones.push({ account: callee, leg: out, since: Date.now() });
        const base = this.branchRequest(leg, scope);
        const request = r.shape ? { ...base, ...r.shape(base) } : base;
        if (r.inTurn) {
          out.startInTurn(host.branchContext, r.targets, { ...request, to: r.to });
          return;
        }
        const branches = r.targets.map((t) => out.addBranch(host.branchContext, t));
        for (let i = 0; i < branches.length; i++) branches[i]!.start({ ...request, to: r.to });
      },
      (err: Error) => {
        if (!handle.cancelled) observer.failed({ status: 500, reason: `Leg could not be started: ${err.message}` });
      },
    );
    return handle;
  }

  /** A leg to a local account that fails (or is cancelled) stops counting against its maxCalls. */
  private releasingOnFailure(observer: LegObserver, callee: CallAccount, hold: PartyHold): LegObserver {
    const parties = this.host.parties;
    let released = false;
    const stopRinging = this.host.ringing(callee.username);
    return {
      ringing: () => observer.ringing(),
      progress: (sdp) => observer.progress(sdp),
      answered: (answer) => {
        stopRinging();
        // The side it takes is the bridge's, a transfer's or a consult's to say (parties.seat).
        parties.answered(hold);
        observer.answered(answer);
      },
      failed: (failure) => {
        stopRinging();
        if (!released) parties.drop(hold);
        released = true;
        observer.failed(failure);
      },
    };
  }

  private nestedHost(): LocalDialplanHost {
    const host = this.host;
    return {
      tenant: host.tenant, callId: host.callId, opts: host.opts, request: host.request, budget: this.budget, sysDeps: host.sysDeps,
      startLeg: (leg, observer, scope) => this.startLeg(leg, observer, scope),
      callback: (account, dest1, dest2) => host.callback(account, dest1, dest2),
      recordNested: (parentKey, dialString, legs) => {
        this.dialStrings.push(dialString);
        this.nestedLegs.push({ parentKey, legs });
      },
    };
  }

  /** CDR legs of nested dialplans: numbered after the legs recorded so far, parented by target key. */
  private recordNestedLegs(): void {
    for (const { parentKey, legs } of this.nestedLegs.splice(0)) {
      const parent = [...this.cdrLegs].reverse().find((l) => l.target === parentKey);
      const offset = this.cdrLegs.length;
      for (const o of legs) this.cdrLegs.push(cdrLeg(o, offset, o.parentId ? o.parentId + offset : parent?.legId));
    }
  }

  private branchRequest(leg: DialLeg, scope: LegScope): Omit<BranchRequest, 'to'> {
    const req = this.host.request;
    const fromOverride = scope.settings.from;
    const f = req.from;
    const o = leg.options;
    // Precedence: the leg's fd/fu/fh, then sys.SetFromHeader, then the account's caller ID, then the caller's From.
    const from: NameAddr = {
      displayName: o.fromDisplayName ?? fromOverride.displayName ?? this.callerId.displayName ?? f.displayName,
      uri: {
        scheme: 'sip',
        user: o.fromUser ?? fromOverride.user ?? this.callerId.user ?? f.uri.user,
        host: o.fromHost ?? fromOverride.host ?? this.host.tenant.domain,
        params: {},
        headers: {},
      },
      params: {},
    };
    let sdp: Buffer | undefined;
    if (req.body.length && !scope.lateOffer) {
      const text = req.body.toString('utf8');
      sdp = Buffer.from(req.source ? rewriteSdpForNat(text, req.source, { mangle: o.mangleSdp }).sdp : text, 'utf8');
    }
    const headers: Array<[string, string]> = [...scope.headers];
    for (const h of o.customHeaders) headers.push([h.name, h.value]);
    // The B leg is a new request, but hop counting goes on across the B2BUA (loop protection).
    const maxForwards = Math.max(0, (req.maxForwards ?? 70) - 1);
    return { from, sdp, headers, maxForwards, deferAck: scope.lateOffer };
  }
}

/** One leg's CDR line, its id `offset` after the legs recorded before its Dial. */
function cdrLeg(o: LegOutcome, offset: number, parentLegId: number | undefined): CdrLeg {
  return {
    legId: o.id + offset, groupIndex: o.groupIndex, parentLegId, target: o.key, state: o.state, status: o.status, reason: o.reason,
    startedAt: o.startedAt, ringingAt: o.ringingAt, answeredAt: o.answeredAt, endedAt: o.endedAt,
  };
}

/**
 * Early media SDP as the caller gets it. Made outside any leg-starting scope on purpose: the
 * answered leg keeps this function for the whole call, and a closure there would keep that
 * scope's fork observer (and through it the whole Dial) alive with it.
 */
function earlyMediaRewrite(mangle: boolean): (branch: unknown, res: SipResponse) => string {
  return (_branch, res) => {
    const sdp = res.body.toString('utf8');
    return res.source ? rewriteSdpForNat(sdp, res.source, { mangle }).sdp : sdp;
  };
}
