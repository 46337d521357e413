import type { DragEvent, ReactNode } from 'react';
import {
  CallPhase, extensionsInCall, formatDuration, partyLabel, phaseOf, phaseSince, userOf, type BoardCall, type BoardState,
} from './board-state.ts';

/** The drag payload of a call row (dropped on an extension: transfer; on a slot: park). */
export const CALL_DRAG_TYPE = 'application/x-patchbay-call';

const PHASE_LABELS: Record<CallPhase, string> = {
  [CallPhase.Ringing]: 'Ringing',
  [CallPhase.Dialing]: 'Connecting',
  [CallPhase.Answered]: 'Talking',
  [CallPhase.Held]: 'On hold',
  [CallPhase.Parked]: 'Parked',
};

export function callerText(c: BoardCall): { name: string | null; number: string } {
  const number = partyLabel(c.caller);
  const name = c.callerName ?? c.caller.displayName ?? null;
  return { name: name && name !== number ? name : null, number };
}

export function CallsPanel({
  board, calls, now, selectedId, holdAlertSec, onSelect, renderExtras,
}: {
  board: BoardState;
  calls: BoardCall[];
  now: number;
  selectedId: string | null;
  holdAlertSec: number;
  onSelect(id: string): void;
  /** Part of the row owned by optional features (the call note). */
  renderExtras?(call: BoardCall): ReactNode;
}) {
  const waiting = calls.filter((c) => phaseOf(c) === CallPhase.Ringing || phaseOf(c) === CallPhase.Dialing).length;
  return (
    <section className="board-panel board-calls" aria-labelledby="board-calls-title">
      <header className="board-panel-header">
        <h2 id="board-calls-title">Calls</h2>
        <span className="board-counts">
          <span className="count-pill count-ringing" title="Waiting calls">{waiting} waiting</span>
          <span className="count-pill">{calls.length} live</span>
        </span>
      </header>
      {calls.length === 0 ? (
        <p className="board-empty">No live calls. Incoming calls appear here as soon as they ring.</p>
      ) : (
        <ul className="call-list" role="listbox" aria-label="Calls" aria-activedescendant={selectedId ? `call-${selectedId}` : undefined}>
          {calls.map((c) => (
            <CallRow key={c.id} board={board} call={c} now={now} selected={c.id === selectedId} holdAlertSec={holdAlertSec} onSelect={onSelect} extras={renderExtras?.(c)} />
          ))}
        </ul>
      )}
    </section>
  );
}

function CallRow({
  board, call, now, selected, holdAlertSec, onSelect, extras,
}: { board: BoardState; call: BoardCall; now: number; selected: boolean; holdAlertSec: number; onSelect(id: string): void; extras: ReactNode }) {
  const phase = phaseOf(call);
  const elapsed = now - phaseSince(call);
  const alert = phase === CallPhase.Held && elapsed >= holdAlertSec * 1000;
  const { name, number } = callerText(call);
  const inCall = extensionsInCall(board, call.id);
  const callerAccount = call.caller.account;
  const withWhom = inCall.filter((x) => x.user !== callerAccount).map((x) => x.user);
  const dialled = partyLabel(call.callee);
  const drag = (event: DragEvent<HTMLLIElement>): void => {
    event.dataTransfer.setData(CALL_DRAG_TYPE, call.id);
    event.dataTransfer.setData('text/plain', call.id);
    event.dataTransfer.effectAllowed = 'move';
    onSelect(call.id);
  };
  return (
    <li
      id={`call-${call.id}`}
      role="option"
      aria-selected={selected}
      data-call-id={call.id}
      data-phase={phase}
      className={`call-row phase-${phase}${selected ? ' selected' : ''}${alert ? ' hold-alert' : ''}`}
      draggable
      onDragStart={drag}
      onClick={() => onSelect(call.id)}
    >
      <span className={`phase-badge phase-badge-${call.consult ? 'consult' : phase}`}>
        {call.consult ? 'Consulting' : PHASE_LABELS[phase]}{phase === CallPhase.Parked && call.parkedIn ? ` ${call.parkedIn}` : ''}
      </span>
      <span className="call-main">
        <span className="call-caller">
          {name ? <><strong className="caller-name">{name}</strong> <span className="caller-number">{number}</span></> : <strong className="caller-number">{number}</strong>}
        </span>
        <span className="call-detail">
          {phase === CallPhase.Answered || phase === CallPhase.Held ? (
            <>with <strong>{withWhom.length ? withWhom.join(', ') : dialled}</strong>{withWhom.length && !withWhom.includes(dialled) ? <span className="muted"> · dialled {dialled}</span> : null}</>
          ) : phase === CallPhase.Parked ? (
            <>parked in slot <strong>{call.parkedIn}</strong></>
          ) : (
            <>for <strong>{dialled}</strong>{withWhom.length ? <span className="muted"> · ringing {withWhom.join(', ')}</span> : null}</>
          )}
          <span className="direction muted"> · {call.direction === 'inbound' ? 'incoming' : call.direction === 'outbound' ? 'outgoing' : 'internal'}</span>
        </span>
        {call.consult && <ConsultLine board={board} call={call} consult={call.consult} now={now} />}
        {call.transferring && <span className="call-consult" role="status">Transferring to <strong>{userOf(call.transferring.referTo)}</strong>…</span>}
        {extras}
      </span>
      <span className="call-timer" aria-label={`${PHASE_LABELS[phase]} for ${formatDuration(elapsed)}`}>
        {formatDuration(elapsed)}
        {alert && <span className="alert-tag">Hold alert</span>}
      </span>
    </li>
  );
}

/** A consult under way, with the target's lamp: ringing until it answers, then talking (complete or cancel). */
function ConsultLine({ board, call, consult, now }: { board: BoardState; call: BoardCall; consult: NonNullable<BoardCall['consult']>; now: number }) {
  const target = userOf(consult.referTo);
  const lamp = board.extensions[target];
  const answered = lamp !== undefined && lamp.callIds.includes(call.id) && lamp.state !== 'ringing';
  return (
    <span className="call-consult" data-consult-state={answered ? 'talking' : 'ringing'}>
      Consulting <strong>{target}</strong> · {answered ? 'talking' : 'ringing'} {formatDuration(now - consult.since)} — <kbd>O</kbd> complete, <kbd>X</kbd> cancel
    </span>
  );
}
