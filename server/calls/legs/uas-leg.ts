import type { Dialog, ServerTransaction, SipRequest, SipStack } from '../../sip/index.ts';
import { sortInDialog, type DialogLeg, type LegEndReason, type LegOwner } from './leg-events.ts';
import { SessionState, sessionStateMachine } from './session-state.ts';

/**
 * Our UAS dialog with a phone that called in (the caller, a phone picking a call up or taking it
 * over), from its answered INVITE on: Confirmed until a BYE either way. The INVITE's answering
 * before that is the CallerLeg's.
 */
export class UasLeg implements DialogLeg {
  private readonly machine = sessionStateMachine(SessionState.Confirmed);
  private owner?: LegOwner;

  constructor(readonly dialog: Dialog, private readonly stack: SipStack, readonly sentSdp?: Buffer) {}

  get state(): SessionState {
    return this.machine.state;
  }

  attach(owner: LegOwner): void {
    this.owner = owner;
  }

  detach(owner: LegOwner): void {
    if (this.owner === owner) this.owner = undefined;
  }

  receive(req: SipRequest, tx: ServerTransaction | undefined): void {
    sortInDialog(this.dialog, this.owner, req, tx, () => this.end('bye-received'));
  }

  bye(headers: Array<[string, string]> = []): void {
    const dialog = this.dialog;
    if (dialog.terminated) return;
    dialog.terminated = true;
    this.end('bye-sent');
    this.stack.sendRequest(dialog.createRequest('BYE', { headers }), { target: dialog.flow });
  }

  private end(reason: LegEndReason): void {
    if (!this.machine.can(SessionState.Terminated)) return;
    this.machine.to(SessionState.Terminated);
    this.owner?.terminated?.(reason);
  }
}
