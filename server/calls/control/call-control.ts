import type { ControllableCall, ControlParty, ControlResult, LiveCallView, ParkedCallView } from './control-types.ts';
import type { CallAnnotations } from './call-annotations.ts';
import { CALL_NOTE_MAX } from './call-notes.ts';

/** Where live call control finds calls: always one tenant's (CallService.controllableCalls). */
export interface CallDirectoryForControl {
  controllableCalls(tenantId: number): ControllableCall[];
  parkedCalls(tenantId: number): ParkedCallView[];
  retrieveParked(tenantId: number, slot: string, destination: string, by: string): Promise<ControlResult>;
  pickupTo(tenantId: number, which: { callId?: string; extension?: string }, destination: string, by: string): Promise<ControlResult>;
  /** Click-to-call: ring the account `from`, then `to`, and bridge them (CallService.clickToCall). */
  clickToCall?(tenant: { id: number; domain: string }, from: string, to: string): Promise<PlaceCallResult>;
}

/** The new call's id, or why none was placed (an HTTP status, and the body field at fault). */
export type PlaceCallResult = { ok: true; callId: string } | { ok: false; status: number; reason: string; field?: string };

/**
 * Live call control for the REST API and the switchboard: list, hang up, hold, unhold and blind
 * transfer a tenant's calls. Every lookup is by tenant first, so another tenant's call id is
 * "not found", never "forbidden" (which would confirm it exists).
 */
export class CallControl {
  constructor(
    private readonly calls: CallDirectoryForControl,
    /** Caller names, notes, hold times on the views (the switchboard's additions). */
    private readonly annotations?: CallAnnotations,
  ) {}

  list(tenantId: number): LiveCallView[] {
    return this.calls.controllableCalls(tenantId).map((c) => this.show(tenantId, c));
  }

  get(tenantId: number, callId: string): LiveCallView | undefined {
    const c = this.find(tenantId, callId);
    return c && this.show(tenantId, c);
  }

  /** Writes the switchboard note of a live call (empty: removes it) → event `call.note`. */
  setNote(tenantId: number, callId: string, note: string, by: string): ControlResult {
    if (!this.annotations) return { ok: false, status: 409, reason: 'Call notes are not kept by this switch' };
    if (note.length > CALL_NOTE_MAX) return { ok: false, status: 422, reason: `note: at most ${CALL_NOTE_MAX} characters` };
    if (!this.find(tenantId, callId)) return notFound();
    this.annotations.setNote(tenantId, callId, note, by);
    return { ok: true };
  }

  private show(tenantId: number, c: ControllableCall): LiveCallView {
    const v = c.view();
    return this.annotations ? this.annotations.view(tenantId, v) : v;
  }

  hangup(tenantId: number, callId: string, by: string): ControlResult {
    const call = this.find(tenantId, callId);
    if (!call) return notFound();
    call.hangup('system', 200, `Hung up by ${by}`);
    return { ok: true };
  }

  hold(tenantId: number, callId: string, party: ControlParty, by: string): Promise<ControlResult> {
    return this.find(tenantId, callId)?.hold(party, by) ?? Promise.resolve(notFound());
  }

  unhold(tenantId: number, callId: string, by: string): Promise<ControlResult> {
    return this.find(tenantId, callId)?.unhold(by) ?? Promise.resolve(notFound());
  }

  transfer(tenantId: number, callId: string, party: ControlParty, destination: string, by: string): Promise<ControlResult> {
    return this.find(tenantId, callId)?.transfer(party, destination, by) ?? Promise.resolve(notFound());
  }

  /** Attended transfer from the switchboard: `party` consults `destination`, the other party waits on hold. */
  consult(tenantId: number, callId: string, party: ControlParty, destination: string, by: string): Promise<ControlResult> {
    return this.find(tenantId, callId)?.consultStart(party, destination, by) ?? Promise.resolve(notFound());
  }

  /** Joins the held party and the consult target; the consulting party leaves. */
  completeConsult(tenantId: number, callId: string, by: string): Promise<ControlResult> {
    return this.find(tenantId, callId)?.consultComplete(by) ?? Promise.resolve(notFound());
  }

  /** Hangs up the consult target; the two original parties talk again. */
  cancelConsult(tenantId: number, callId: string, by: string): Promise<ControlResult> {
    return this.find(tenantId, callId)?.consultCancel(by) ?? Promise.resolve(notFound());
  }

  /** Parks `party` of the call in `slot` (or the tenant's first free one); the other party leaves. */
  park(tenantId: number, callId: string, party: ControlParty, slot: string | undefined, by: string): Promise<ControlResult & { slot?: string }> {
    return this.find(tenantId, callId)?.park(party, slot, by) ?? Promise.resolve(notFound());
  }

  parking(tenantId: number): ParkedCallView[] {
    return this.calls.parkedCalls(tenantId);
  }

  /** The call parked in `slot` goes to the tenant's extension `destination` (404 when the slot is empty). */
  retrieve(tenantId: number, slot: string, destination: string, by: string): Promise<ControlResult> {
    return this.calls.retrieveParked(tenantId, slot, destination, by);
  }

  /** A ringing call (by id, or the oldest ringing `extension`) is picked up to the extension `destination`. */
  pickup(tenantId: number, which: { callId?: string; extension?: string }, destination: string, by: string): Promise<ControlResult> {
    return this.calls.pickupTo(tenantId, which, destination, by);
  }

  /** Click-to-call from the tenant's account `from` to the dial string `to`; the call id at once. */
  place(tenant: { id: number; domain: string }, from: string, to: string): Promise<PlaceCallResult> {
    if (!this.calls.clickToCall) return Promise.resolve({ ok: false, status: 503, reason: 'click-to-call is not running' });
    return this.calls.clickToCall(tenant, from, to);
  }

  private find(tenantId: number, callId: string): ControllableCall | undefined {
    return this.calls.controllableCalls(tenantId).find((c) => c.id === callId);
  }
}

function notFound(): ControlResult {
  return { ok: false, status: 404, reason: 'No such call' };
}
