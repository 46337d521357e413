import type { Logger } from 'pino';
import { createResponse, newTag, reasonHeader, type SipRequest, type ServerTransaction } from '../../sip/index.ts';
import { relayedBody } from '../bridge/index.ts';
import type { CallAccount, CallServiceEvent } from '../call-service-deps.ts';
import type { ControlResult } from '../control/control-types.ts';
import type { DialResult } from '../dial/index.ts';
import { sandboxOutcome, type SandboxDialResult } from '../dialplan/index.ts';
import type { BridgeableLeg, UacBranch } from '../legs/index.ts';
import type { CdrHistoryItem, TransferResult } from '../records/index.ts';
import { parseReferTo, type ReferTarget } from '../transfer/index.ts';

type Failure = Extract<ControlResult, { ok: false }>;

/** What pickup needs of the ringing call it works on (the Call implements it). */
export interface PickupHost {
  readonly id: string;
  readonly tenant: { id: number; domain: string };
  readonly log: Logger;
  readonly history: CdrHistoryItem[];
  emit(event: CallServiceEvent): void;
  /** The caller's INVITE (its offer is the picking phone's answer). */
  readonly request: SipRequest;
  /** Dialling, no final answer sent to the caller yet, not cancelled. */
  readonly dialing: boolean;
  readonly answered: boolean;
  readonly ended: boolean;
  /** Cancels the legs that ring now. */
  cancelRinging(): void;
  /** The rung accounts are out of the call; with `vacate`, nobody holds the callee's side either. */
  dropRinging(vacate: boolean): void;
  /** Accounts admitted for a side that never took it go. */
  dropUnseated(): void;
  /** Rings `dialString` for the caller (the call's own fork machinery, CDR legs and ringing events). */
  ring(dialString: string): Promise<{ result: DialResult<BridgeableLeg>; legOffset: number }>;
  /** Bridges the caller to the answered leg (as any Dial's answer). */
  bridgeTo(leg: BridgeableLeg, branch: UacBranch, legId: number): void;
  /** Answers the caller and the picking phone with each other's offers and bridges them; false when the caller is gone. */
  answerWithPhone(req: SipRequest, tx: ServerTransaction, toCaller: Buffer, toPicker: Buffer, picker?: CallAccount): boolean;
  recordTransfer(result: TransferResult, side: 'b', target: ReferTarget, detail: { status?: number; reason?: string; newLegId?: number; by?: string }): void;
}

/**
 * Pickup of one ringing call: which tenant accounts its legs ring (directed and group pickup
 * find calls by them), a phone's `*8<ext>` / `*8`, live call control's pickup to an extension,
 * and the switchboard's deflect of a call that still rings.
 */
export class CallPickup {
  /** Tenant accounts this call's live legs ring, with a count per account. */
  private readonly ringingAccounts = new Map<string, number>();
  /** Picked up: the Dial that was ringing reports an answer. */
  private pickedUp = false;
  /** Live call control picks the ringing call up to an extension: the ringing Dial reports how that went. */
  private pending?: Promise<SandboxDialResult>;

  constructor(private readonly host: PickupHost) {}

  /** A leg rings `username`'s phones; the returned function says it stopped (answered, failed, cancelled). */
  ringing(username: string): () => void {
    this.ringingAccounts.set(username, (this.ringingAccounts.get(username) ?? 0) + 1);
    let ringing = true;
    return () => {
      if (!ringing) return;
      ringing = false;
      const n = (this.ringingAccounts.get(username) ?? 1) - 1;
      if (n > 0) this.ringingAccounts.set(username, n);
      else this.ringingAccounts.delete(username);
    };
  }

  /** Still ringing (no final answer to the caller) with a leg to `extension`, or to any account of the tenant but `except`. */
  isRingingFor(extension: string | undefined, except?: string): boolean {
    if (!this.host.dialing || this.pickedUp) return false;
    if (extension !== undefined) return this.ringingAccounts.has(extension);
    return [...this.ringingAccounts.keys()].some((u) => u !== except);
  }

  /**
   * What the script's Dial resolves with when a pickup took the call while it rang (undefined:
   * no pickup, the Dial's own result stands). A phone's pickup is an answer for the script.
   */
  dialOutcome(result: DialResult<BridgeableLeg>): Promise<SandboxDialResult> | SandboxDialResult | undefined {
    if (this.pending) return this.pending;
    if (!this.pickedUp) return undefined;
    result.winner?.handle.winner?.bye([reasonHeader(200, 'Call picked up elsewhere')]);
    this.host.dropUnseated();
    return { answered: true, status: 200, reason: 'OK', outcome: 'answered' };
  }

  /**
   * Pickup from live call control: the ringing legs are cancelled and the tenant's extension
   * `destination` is rung instead with the caller's offer; its answer bridges the call as any
   * Dial would. The script's ringing Dial resolves with that leg's outcome.
   */
  async pickupTo(destination: string, by: string): Promise<ControlResult> {
    if (!this.isRingingFor(undefined)) return { ok: false, status: 409, reason: 'The call is not ringing' };
    if (!/^[A-Za-z0-9._+-]{1,64}$/.test(destination)) return { ok: false, status: 422, reason: 'destination must be an extension of the tenant' };
    const r = await this.ringInstead(`${destination}@local`, 'Pickup');
    if (!r.ok) return r;
    this.record(by, { destination });
    return { ok: true };
  }

  /**
   * Deflect (switchboard transfer of a call that still rings): the ringing legs are cancelled and
   * `destination` — an extension, or a sip: URI that the leg destination policy checks like any
   * dialled leg — is rung for the caller with its own offer. Recorded and announced as a blind
   * transfer (`call.transfer.accepted`, then `call.transferred` or `call.transfer.failed`).
   */
  async deflect(destination: string, by: string): Promise<ControlResult> {
    const host = this.host;
    const extension = /^[A-Za-z0-9._+-]{1,64}$/.test(destination);
    // A URI becomes one dial-string leg: nothing in it may start another leg or option list.
    if (!extension && !/^sips?:[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+(:[0-9]{1,5})?$/.test(destination)) {
      return { ok: false, status: 422, reason: 'destination must be an extension of the tenant or a plain sip:user@host URI' };
    }
    const parsed = parseReferTo(extension ? `<sip:${destination}@${host.tenant.domain}>` : `<${destination}>`);
    if (!parsed.ok) return { ok: false, status: 422, reason: parsed.reason };
    host.recordTransfer('accepted', 'b', parsed.target, { by });
    const r = await this.ringInstead(extension ? `${destination}@local` : destination, 'Transfer');
    if (!r.ok) {
      if (!host.ended) host.recordTransfer('failed', 'b', parsed.target, { status: r.status, reason: r.reason, by });
      return r;
    }
    host.recordTransfer('completed', 'b', parsed.target, { status: 200, newLegId: r.legId, by });
    return { ok: true };
  }

  /**
   * Call pickup by a phone of the tenant (`*8<ext>`, `*8`): the ringing legs are cancelled and
   * the caller is bridged to the phone. Each side's offer is the other's answer (the caller's
   * INVITE and the phone's INVITE both carry one); a pair of phones without a common codec would
   * need a re-INVITE, which the switch does not send yet.
   */
  async pickUp(req: SipRequest, tx: ServerTransaction, by: string, picker?: CallAccount): Promise<boolean> {
    const reply = (status: number, reason?: string): false => {
      tx.respond(createResponse(req, status, reason, { toTag: newTag() }));
      return false;
    };
    if (!this.isRingingFor(undefined)) return reply(481);
    if (!isSdpMessage(req)) return reply(488, 'Pickup needs an SDP offer');
    if (!isSdpMessage(this.host.request)) return reply(488, 'The ringing call has no SDP offer');
    const toCaller = relayedBody(req, true);
    const toPicker = relayedBody(this.host.request, true);
    this.pickedUp = true;
    this.host.cancelRinging();
    this.host.dropRinging(false);
    if (!this.host.answerWithPhone(req, tx, toCaller, toPicker, picker)) return reply(481);
    this.record(by, {});
    return true;
  }

  /** Cancels the ringing legs and rings `dialString` for the caller instead; the script's ringing Dial gets its outcome. */
  private async ringInstead(dialString: string, what: string): Promise<{ ok: true; legId: number } | Failure> {
    const host = this.host;
    let settle!: (r: SandboxDialResult) => void;
    this.pending = new Promise((resolve) => { settle = resolve; });
    this.pickedUp = true;
    host.cancelRinging();
    // The rung accounts are out of the call; whoever answers the new leg takes the callee's side.
    host.dropRinging(true);
    try {
      const { result, legOffset } = await host.ring(dialString);
      const branch = result.winner?.handle.winner;
      if (!result.answered || !result.winner || !branch?.dialog || !host.dialing) {
        branch?.bye([reasonHeader(487, 'Caller gone')]);
        host.dropUnseated();
        settle({ answered: false, status: result.status, reason: result.reason, outcome: sandboxOutcome(result) });
        return { ok: false, status: 502, reason: `${what} failed: ${result.status} ${result.reason}` };
      }
      const legId = result.winner.outcome.id + legOffset;
      host.bridgeTo(result.winner.handle, branch, legId);
      settle({ answered: true, status: 200, reason: 'OK', outcome: 'answered' });
      return { ok: true, legId };
    } catch (err) {
      settle({ answered: false, status: 500, reason: (err as Error).message, outcome: 'failed' });
      return { ok: false, status: 502, reason: (err as Error).message };
    } finally {
      // The ringing Dial already holds the promise; a later Dial of the script must not get it.
      this.pending = undefined;
      if (!host.answered) this.pickedUp = false;
    }
  }

  private record(by: string, detail: { destination?: string }): void {
    const at = Date.now();
    this.host.history.push({ type: 'picked-up', at, party: 'callee', by });
    this.host.log.info({ by, ...detail }, 'call picked up');
    this.host.emit({ type: 'call.picked-up', tenantId: this.host.tenant.id, callId: this.host.id, at, party: 'callee', by });
  }
}

function isSdpMessage(msg: SipRequest): boolean {
  return msg.body.length > 0 && msg.headers.get('Content-Type')?.toLowerCase().startsWith('application/sdp') === true;
}
