import type { Logger } from 'pino';
import { createResponse, reasonHeader, type SipRequest, type SipUri } from '../../sip/index.ts';
import type { ServerTransaction, SipStack } from '../../sip/index.ts';
import type { DialplanRequest } from '../../../sandbox/index.ts';
import { otherSide, sendInDialog, type Bridge, type BridgeParty, type BridgeSide } from '../bridge/index.ts';
import type { CallAccount, CallServiceOptions } from '../call-service-deps.ts';
import { controlSide } from '../control/control-side.ts';
import type { ControlParty, ControlResult } from '../control/control-types.ts';
import type { TransferPolicy } from '../dial/index.ts';
import { toDialplanRequest, uriText } from '../dialplan/index.ts';
import type { CdrHistoryItem, TransferResult } from '../records/index.ts';
import { joinFarParties, type JoinableCall } from './attended-transfer.ts';
import { blindTransfer, transferByDialplan, type BlindTransferResult, type TransferringCall } from './blind-transfer.ts';
import { referNotify } from './refer-notify.ts';
import { parseReferTo, type ReferTarget } from './refer-to.ts';
import { replacesDialogKeys } from './replaces-dialog.ts';
import { TRANSFER_DIALPLAN, type TransferHost, type TransferOutcome } from './transfer-dialplan-run.ts';

export const TRANSFERS_DISABLED = 'Transfers are disabled on this call';

/** What a transfer decision adds to the CDR's transfer history (and its event). */
export interface TransferDetail {
  status?: number;
  reason?: string;
  newLegId?: number;
  by?: string;
  joinedCallId?: string;
  /** A switchboard consult: attended although no Replaces names a dialog. */
  attended?: boolean;
}

/** What the transfers of a call need of it (the Call implements it). */
export interface TransferCallHost {
  readonly id: string;
  readonly tenant: { id: number; domain: string };
  readonly account: CallAccount;
  /** The INVITE that started the call: the base of the switchboard transfer dialplan's `req`. */
  readonly request: SipRequest;
  readonly opts: CallServiceOptions;
  readonly stack: SipStack;
  readonly log: Logger;
  readonly history: CdrHistoryItem[];
  readonly bridge: Bridge | undefined;
  readonly answered: boolean;
  readonly ended: boolean;
  /** `tr` of the answered dial-string leg: how REFERs are met. */
  readonly transferPolicy: TransferPolicy;
  /** A change of the call's parties is under way (one at a time). */
  transferring: boolean;
  controllableBridge(): { ok: true; value: Bridge } | { ok: false; status: 409; reason: string };
  /** The CDR leg on `side` (the caller's is 0). */
  legId(side: BridgeSide): number;
  setSideLegId(side: BridgeSide, legId: number): void;
  /** Accounts admitted for a side that never took it go. */
  dropUnseated(): void;
  transferringCall(): TransferringCall;
  joinable(): JoinableCall;
  /** Another call of the tenant owning the first of `keys` that names a dialog of ours, and its side. */
  findOtherCall(keys: string[]): { transfers: CallTransfers; side: BridgeSide } | undefined;
  /** A Refer-To naming a park slot of the tenant, and the park it asks for. */
  isParkSlot(uri: SipUri): boolean;
  parkByRefer(side: BridgeSide, req: SipRequest, tx: ServerTransaction, target: ReferTarget): Promise<void>;
  /** The call was joined into another one: it ends. */
  endJoined(): void;
}

/**
 * The transfers of one call: a bridged party's REFER, decided by the answered leg's `tr`
 * (DESIGN.md "Transfer policy"), the switchboard's blind transfer, the other end of an attended
 * transfer joining this call's far party, and the transfer history all of them (and park,
 * pickup, consult) write.
 */
export class CallTransfers {
  constructor(private readonly host: TransferCallHost) {}

  /** A REFER from a bridged party. */
  onRefer(side: BridgeSide, req: SipRequest, tx: ServerTransaction): void {
    const host = this.host;
    const parsed = parseReferTo(req.headers.get('Refer-To'));
    if (!parsed.ok) {
      tx.respond(createResponse(req, 400, parsed.reason));
      return;
    }
    const target = parsed.target;
    if (host.transferring || host.bridge?.busy) {
      tx.respond(createResponse(req, 491));
      return;
    }
    const policy = host.transferPolicy;
    // tr=p passes a Replaces on unchanged: it names the transferor's dialog with us, so the far
    // party's INVITE/Replaces comes back to the switch and is matched there (takeOver).
    if (policy === 'switch' && target.replaces) this.attendedRefer(side, req, tx, target);
    else if (policy === 'switch' && host.isParkSlot(target.uri)) void host.parkByRefer(side, req, tx, target);
    else if (policy === 'pass-through') void this.passTransfer(side, req, tx, target);
    else if (policy === 'switch') {
      host.transferring = true;
      void this.switchTransfer(side, req, tx, target)
        .catch((err: unknown) => host.log.error({ err }, 'transfer failed'))
        .finally(() => { host.transferring = false; });
    } else this.refuse(side, req, tx, target, 603, TRANSFERS_DISABLED);
  }

  /**
   * Blind transfer from the switchboard: `party` stays and is connected to `destination` by the
   * tenant's `transfer` dialplan (the same policy a phone's REFER meets); the other party leaves.
   */
  async transferTo(party: ControlParty, destination: string, by: string): Promise<ControlResult> {
    const host = this.host;
    const bridge = host.controllableBridge();
    if (!bridge.ok) return bridge;
    if (host.transferring || bridge.value.busy) return { ok: false, status: 409, reason: 'Another change of this call is under way' };
    const parsed = parseReferTo(destination.includes(':') ? `<${destination}>` : `<sip:${destination}@${host.tenant.domain}>`);
    if (!parsed.ok) return { ok: false, status: 422, reason: parsed.reason };
    const stored = await host.opts.dialplans.get(host.tenant.id, TRANSFER_DIALPLAN);
    if (!stored) return { ok: false, status: 409, reason: 'The tenant has no transfer dialplan' };
    const stay = controlSide(party);
    const leave = otherSide(stay);
    const target = parsed.target;
    host.transferring = true;
    try {
      this.record('accepted', leave, target, { by });
      const req = this.transferRequest(host.request, target, { referrer: by }, bridge.value.party(stay));
      const r = await this.blind(leave, target, transferByDialplan(stored, target, req), () => undefined, by);
      return r.ok ? { ok: true } : { ok: false, status: 502, reason: `Transfer failed: ${r.status} ${r.reason}` };
    } finally {
      host.transferring = false;
    }
  }

  /** Why this call cannot be joined into another by an attended transfer now, if it cannot. */
  joinRefusal(): { status: number; reason: string } | undefined {
    const host = this.host;
    if (!host.bridge || !host.answered) return { status: 403, reason: 'The replaced call is not answered' };
    if (host.transferPolicy === 'refuse') return { status: 603, reason: TRANSFERS_DISABLED };
    if (host.transferring || host.bridge.busy) return { status: 491, reason: 'Request Pending' };
    return undefined;
  }

  /** Every REFER decision is logged, an event, and a line of the CDR's transfer history. */
  record(result: TransferResult, side: BridgeSide, target: ReferTarget, detailWithKind: TransferDetail): void {
    const host = this.host;
    const { attended, ...detail } = detailWithKind;
    const at = Date.now();
    const legId = host.legId(side);
    const kind = target.replaces || attended ? 'attended' : 'blind';
    host.history.push({ type: 'transfer', at, kind, result, referTo: target.text, legId, ...detail });
    host.log.info({ legId, referTo: target.text, result, ...detail }, `REFER ${result}`);
    host.opts.emit({
      type: result === 'completed' ? 'call.transferred' : `call.transfer.${result}`,
      tenantId: host.tenant.id, callId: host.id, at, legId, kind, referTo: target.text, ...detail,
    });
  }

  private refuse(side: BridgeSide, req: SipRequest, tx: ServerTransaction, target: ReferTarget, status: number, reason: string): void {
    this.record('refused', side, target, { status, reason });
    tx.respond(createResponse(req, status, reason));
  }

  /** tr=p: the other party gets the REFER in its own dialog; its NOTIFYs come back through the bridge. */
  private async passTransfer(side: BridgeSide, req: SipRequest, tx: ServerTransaction, target: ReferTarget): Promise<void> {
    const headers: Array<[string, string]> = [['Refer-To', target.text]];
    const referredBy = req.headers.get('Referred-By');
    if (referredBy) headers.push(['Referred-By', referredBy]);
    const r = await this.host.bridge!.send(otherSide(side), { method: 'REFER', headers });
    this.record('passed', side, target, { status: r.status, reason: r.reason });
    tx.respond(createResponse(req, r.status, r.reason));
  }

  /**
   * tr=c: 202, then the tenant's `transfer` dialplan places the new call (late offer). On answer
   * the staying party is re-INVITEd with the new party's offer, the new party gets the answer in
   * its ACK, the new party takes the referrer's side of the bridge and the referrer gets BYE. The
   * referrer hears each step as a sipfrag NOTIFY; on any failure the old bridge stays as it was.
   */
  private async switchTransfer(side: BridgeSide, req: SipRequest, tx: ServerTransaction, target: ReferTarget): Promise<void> {
    const host = this.host;
    const stored = await host.opts.dialplans.get(host.tenant.id, TRANSFER_DIALPLAN);
    const bridge = host.bridge!;
    if (host.ended) {
      tx.respond(createResponse(req, 481));
      return;
    }
    if (!stored) {
      this.refuse(side, req, tx, target, 603, 'No transfer dialplan');
      return;
    }
    const notify = this.accept(side, req, tx, target, {});
    const referrer = bridge.party(side);
    const who = { referredBy: req.headers.get('Referred-By'), referrer: uriText(referrer.dialog.remoteParty.uri) };
    const dialplanReq = this.transferRequest(req, target, who, bridge.party(otherSide(side)));
    await this.blind(side, target, transferByDialplan(stored, target, dialplanReq), notify);
  }

  /**
   * tr=c with Replaces: the Replaces names the transferor's dialog with us in another call of
   * this tenant; its far party is joined with this call's other party (joinFarParties) and the
   * transferor's two legs end. That call's transfer policy must allow transfers too: a tenant
   * that keeps a leg at tr=n keeps it out of every transfer. Anything not of this tenant, not
   * answered or not found is refused with 403 before the 202, so nothing changes.
   */
  private attendedRefer(side: BridgeSide, req: SipRequest, tx: ServerTransaction, target: ReferTarget): void {
    const host = this.host;
    const found = host.findOtherCall(replacesDialogKeys(target.replaces!));
    if (!found) {
      this.refuse(side, req, tx, target, 403, 'Replaces names no other call of this tenant');
      return;
    }
    const other = found.transfers;
    const why = other.joinRefusal();
    if (why) {
      this.refuse(side, req, tx, target, why.status, why.reason);
      return;
    }
    const joinedCallId = other.host.id;
    const notify = this.accept(side, req, tx, target, { joinedCallId });
    const referrer = host.bridge!.party(side);
    host.transferring = true;
    other.host.transferring = true;
    void joinFarParties(host.joinable(), otherSide(side), other.host.joinable(), otherSide(found.side))
      .then((r) => {
        if (!r.ok) {
          if (!host.ended) notify(r.status, r.reason);
          this.record('failed', side, target, { status: r.status, reason: r.reason, joinedCallId });
          return;
        }
        notify(200, 'OK');
        referrer.bye([reasonHeader(200, 'Call transferred')]);
        this.record('completed', side, target, { status: 200, joinedCallId });
        other.endJoined(found.side, target, host.id);
      })
      .catch((err: unknown) => host.log.error({ err }, 'attended transfer failed'))
      .finally(() => {
        host.transferring = false;
        other.host.transferring = false;
      });
  }

  /** The far party of this call went into another call (attended transfer): the transferor's leg here ends, and so does this call. */
  private endJoined(transferorSide: BridgeSide, target: ReferTarget, joinedInto: string): void {
    this.record('completed', transferorSide, target, { status: 200, joinedCallId: joinedInto });
    this.host.bridge?.party(transferorSide).bye([reasonHeader(200, 'Call transferred')]);
    this.host.endJoined();
  }

  /** 202 to the REFER, and the sipfrag NOTIFYs that tell the referrer how it goes (100 first). */
  private accept(side: BridgeSide, req: SipRequest, tx: ServerTransaction, target: ReferTarget, detail: TransferDetail): (status: number, reason: string) => void {
    tx.respond(createResponse(req, 202, 'Accepted'));
    this.record('accepted', side, target, detail);
    const referrer = this.host.bridge!.party(side);
    const notify = (status: number, reason: string): void => {
      if (!referrer.dialog.terminated) void sendInDialog(this.host.stack, referrer.dialog, referNotify(status, reason));
    };
    notify(100, 'Trying');
    return notify;
  }

  /** The new party placed by `place` takes `leave`'s side; the outcome goes into the history, and to `progress` when it failed. */
  private async blind(
    leave: BridgeSide, target: ReferTarget, place: (host: TransferHost) => Promise<TransferOutcome>,
    progress: (status: number, reason: string) => void, by?: string,
  ): Promise<BlindTransferResult> {
    const host = this.host;
    const who = by === undefined ? {} : { by };
    const r = await blindTransfer(host.transferringCall(), { leave, place, progress });
    host.dropUnseated();
    if (r.ok) {
      this.record('completed', leave, target, { status: 200, newLegId: r.newLegId, ...who });
      host.setSideLegId(leave, r.newLegId);
    } else if (!host.ended) {
      progress(r.status, r.reason);
      this.record('failed', leave, target, { status: r.status, reason: r.reason, ...who });
    }
    return r;
  }

  /** The `req` of the transfer dialplan: `base` (the REFER, or the call's INVITE) with `uri` = the target, and who is who. */
  private transferRequest(base: SipRequest, target: ReferTarget, who: { referrer: string; referredBy?: string }, transferee: BridgeParty): DialplanRequest {
    const host = this.host;
    return {
      ...toDialplanRequest(base, { username: host.account.username, domain: host.tenant.domain, direction: 'out', requestUri: target.uri }),
      transfer: {
        referTo: target.text, ...who, originalCallId: host.id, transferee: uriText(transferee.dialog.remoteParty.uri),
      },
    };
  }
}
