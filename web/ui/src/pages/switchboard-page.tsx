import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { StreamState } from '../api/index.ts';
import { describeError } from '../app/components.tsx';
import { boardActions, BoardActionError } from '../switchboard/board-actions.ts';
import { CallPhase, phaseOf, sortedCalls, type BoardCall } from '../switchboard/board-state.ts';
import { CallsPanel } from '../switchboard/calls-panel.tsx';
import { ExtensionsPanel } from '../switchboard/extensions-panel.tsx';
import { ParkingPanel, slotRange } from '../switchboard/parking-panel.tsx';
import { BoardCommand, commandOfKey, shortcutOf, SHORTCUTS } from '../switchboard/shortcuts.ts';
import { useBoard, useNow, useStoredSetting } from '../switchboard/use-board.ts';
import { CallNote, DndToggle, PhonebookPanel } from '../switchboard/extras/index.ts';
import '../switchboard/switchboard.css';

type PromptMode = 'transfer' | 'consult' | 'pickup';
const PROMPT_LABELS: Record<PromptMode, string> = {
  transfer: 'Transfer to',
  consult: 'Consult (attended transfer) with',
  pickup: 'Pick up the call ringing extension',
};

/**
 * The receptionist's live view of the company's calls (issue 12): calls, the extensions' lamps
 * and the parking lot, all from the event stream; every action is one REST call and one key.
 */
export function SwitchboardPage() {
  const { board, stream } = useBoard();
  const now = useNow();
  const [mine, setMine] = useStoredSetting('patchbay.switchboard.mine', '');
  const [holdAlert, setHoldAlert] = useStoredSetting('patchbay.switchboard.hold-alert-sec', '60');
  const [slotText, setSlotText] = useStoredSetting('patchbay.switchboard.park-slots', '70-79');
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [prompt, setPrompt] = useState<{ mode: PromptMode; callId: string | null } | null>(null);
  const [destination, setDestination] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState<string | null>(null);
  const [helpOpen, setHelpOpen] = useState(false);
  const searchRef = useRef<HTMLInputElement>(null);
  const promptRef = useRef<HTMLInputElement>(null);
  const helpRef = useRef<HTMLDialogElement>(null);

  const myExtension = mine || null;
  const holdAlertSec = Math.max(1, Number(holdAlert) || 60);
  const calls = useMemo(() => sortedCalls(board), [board]);
  const selected: BoardCall | null = calls.find((c) => c.id === selectedId) ?? null;
  const extensionNames = useMemo(() => Object.keys(board.extensions).sort(), [board.extensions]);

  // Keyboard-first: with nothing (or a call that ended) selected, the longest-waiting call is.
  useEffect(() => {
    if (!selected && calls.length > 0) setSelectedId(calls[0]!.id);
  }, [selected, calls]);

  useEffect(() => {
    const dialog = helpRef.current;
    if (!dialog) return;
    if (helpOpen && !dialog.open) dialog.showModal();
    if (!helpOpen && dialog.open) dialog.close();
  }, [helpOpen]);

  useEffect(() => {
    if (prompt) promptRef.current?.focus();
  }, [prompt]);

  const act = useCallback(async (label: string, run: () => Promise<unknown>) => {
    setError(null);
    setPending(label);
    try {
      await run();
    } catch (e) {
      setError(e instanceof BoardActionError ? e.message : `${label}: ${describeError(e)}`);
    } finally {
      setPending((p) => (p === label ? null : p));
    }
  }, []);

  const withCall = useCallback((label: string, run: (c: BoardCall) => Promise<unknown>) => {
    if (!selected) {
      setError('Select a call first (J / K or a click).');
      return;
    }
    void act(label, () => run(selected));
  }, [act, selected]);

  const openPrompt = (mode: PromptMode): void => {
    if (mode !== 'pickup' && !selected) {
      setError('Select a call first (J / K or a click).');
      return;
    }
    setError(null);
    setDestination('');
    setPrompt({ mode, callId: mode === 'pickup' ? null : selected!.id });
  };

  const submitPrompt = (event: FormEvent): void => {
    event.preventDefault();
    if (!prompt) return;
    const dest = destination;
    const call = prompt.callId ? board.calls[prompt.callId] : undefined;
    setPrompt(null);
    if (prompt.mode === 'pickup') {
      void act(`Pick up ${dest}`, () => boardActions.pickupExtension(dest, myExtension));
      return;
    }
    if (!call) {
      setError('That call has ended.');
      return;
    }
    if (prompt.mode === 'transfer') void act(`Transfer to ${dest}`, () => boardActions.transfer(call, dest, myExtension));
    else void act(`Consult ${dest}`, () => boardActions.consult(call, dest, myExtension));
  };

  const run = (command: BoardCommand): void => {
    const index = selected ? calls.indexOf(selected) : -1;
    switch (command) {
      case BoardCommand.Next:
        if (calls.length) setSelectedId(calls[Math.min(calls.length - 1, index + 1)]!.id);
        return;
      case BoardCommand.Previous:
        if (calls.length) setSelectedId(calls[Math.max(0, index - 1)]!.id);
        return;
      case BoardCommand.Answer: return withCall('Answer', (c) => boardActions.answer(c, myExtension));
      case BoardCommand.Transfer: return openPrompt('transfer');
      case BoardCommand.Consult: return openPrompt('consult');
      case BoardCommand.CompleteConsult: return withCall('Complete transfer', (c) => boardActions.completeConsult(c));
      case BoardCommand.CancelConsult: return withCall('Cancel transfer', (c) => boardActions.cancelConsult(c));
      case BoardCommand.Hold: return withCall(selected?.held ? 'Retrieve from hold' : 'Hold', (c) => boardActions.toggleHold(c, myExtension));
      case BoardCommand.Park: return withCall('Park', (c) => boardActions.park(c, myExtension));
      case BoardCommand.Retrieve:
        return withCall('Retrieve', (c) => {
          if (!c.parkedIn) throw new BoardActionError('The selected call is not parked.');
          return boardActions.retrieve(c.parkedIn, myExtension);
        });
      case BoardCommand.PickupExtension: return openPrompt('pickup');
      case BoardCommand.Hangup: return withCall('Hang up', (c) => boardActions.hangup(c));
      case BoardCommand.Search: return searchRef.current?.focus();
      case BoardCommand.Help: return setHelpOpen(true);
    }
  };

  useEffect(() => {
    const onKey = (event: KeyboardEvent): void => {
      if (helpOpen || prompt) return;
      const command = commandOfKey(event);
      if (!command) return;
      event.preventDefault();
      run(command);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [run, helpOpen, prompt]);

  const dropOnExtension = (callId: string, extension: string): void => {
    const call = board.calls[callId];
    if (!call) return;
    void act(phaseOf(call) === CallPhase.Parked ? `Retrieve to ${extension}` : `Transfer to ${extension}`, () => boardActions.transfer(call, extension, myExtension));
  };
  const dropOnSlot = (callId: string, slot: string): void => {
    const call = board.calls[callId];
    if (call) void act(`Park in ${slot}`, () => boardActions.park(call, myExtension, slot));
  };

  const key = (command: BoardCommand) => <kbd>{shortcutOf(command).label}</kbd>;
  const actionButton = (command: BoardCommand, label: string, enabled: boolean, primary = false) => (
    <button type="button" className={`button button-small${primary ? ' button-primary' : ''}`} disabled={!enabled} onClick={() => run(command)}>
      {label} {key(command)}
    </button>
  );
  const phase = selected ? phaseOf(selected) : null;
  const ringing = phase === CallPhase.Ringing || phase === CallPhase.Dialing;
  const bridged = phase === CallPhase.Answered || phase === CallPhase.Held;
  const reconnecting = stream !== StreamState.Live || board.stale;

  return (
    <section className="page page-wide switchboard" aria-label="Switchboard">
      <div className="board-toolbar">
        <h1>Switchboard</h1>
        <span className={`stream-pill stream-${reconnecting ? 'reconnecting' : 'live'}`} data-testid="stream-state">
          <span className="stream-dot" aria-hidden="true" />{reconnecting ? (stream === StreamState.Connecting && board.seq === null ? 'Connecting…' : 'Reconnecting…') : 'Live'}
        </span>
        <div className="board-settings">
          <label className="inline-field">My extension
            <select value={mine} onChange={(e) => setMine(e.target.value)}>
              <option value="">— choose —</option>
              {[...new Set([...extensionNames, ...(mine ? [mine] : [])])].map((u) => <option key={u} value={u}>{u}</option>)}
            </select>
          </label>
          <label className="inline-field">Hold alert after
            <input type="number" min={1} max={3600} className="narrow" value={holdAlert} onChange={(e) => setHoldAlert(e.target.value)} aria-label="Hold alert after (seconds)" /> s
          </label>
          <label className="inline-field">Park slots
            <input className="narrow-wide" value={slotText} onChange={(e) => setSlotText(e.target.value)} aria-label="Park slots" />
          </label>
          <button type="button" className="button button-small" onClick={() => setHelpOpen(true)}>Shortcuts <kbd>?</kbd></button>
        </div>
      </div>

      {reconnecting && board.seq !== null && (
        <div className="banner banner-warn" role="status" data-testid="reconnecting">
          Reconnecting to the switch… the calls shown may be out of date until the stream is back.
        </div>
      )}
      {error && (
        <div className="banner banner-error" role="alert">
          <span>{error}</span>
          <button type="button" className="button button-small" onClick={() => setError(null)}>Dismiss</button>
        </div>
      )}

      <div className="board-actions" role="toolbar" aria-label="Call actions">
        {actionButton(BoardCommand.Answer, 'Answer', ringing, ringing)}
        {actionButton(BoardCommand.Transfer, 'Transfer', selected !== null)}
        {actionButton(BoardCommand.Consult, 'Consult', bridged && !selected?.consult)}
        {actionButton(BoardCommand.CompleteConsult, 'Complete', Boolean(selected?.consult), Boolean(selected?.consult))}
        {actionButton(BoardCommand.CancelConsult, 'Cancel', Boolean(selected?.consult))}
        {actionButton(BoardCommand.Hold, selected?.held ? 'Unhold' : 'Hold', bridged)}
        {actionButton(BoardCommand.Park, 'Park', bridged)}
        {actionButton(BoardCommand.Retrieve, 'Retrieve', phase === CallPhase.Parked)}
        {actionButton(BoardCommand.PickupExtension, 'Pick up ext.', true)}
        {actionButton(BoardCommand.Hangup, 'Hang up', selected !== null)}
        <span className="board-selected" role="status">
          {pending ? `${pending}…` : selected ? '' : 'No call selected'}
        </span>
      </div>

      {prompt && (
        <form className="board-prompt" onSubmit={submitPrompt} aria-label="Call action">
          <label htmlFor="board-prompt-input">{PROMPT_LABELS[prompt.mode]}</label>
          <input id="board-prompt-input" ref={promptRef} list="board-extension-list" autoComplete="off" value={destination}
            placeholder={prompt.mode === 'transfer' ? 'extension or sip: URI' : 'extension'}
            onChange={(e) => setDestination(e.target.value)} onKeyDown={(e) => { if (e.key === 'Escape') setPrompt(null); }} />
          <datalist id="board-extension-list">{extensionNames.map((u) => <option key={u} value={u} />)}</datalist>
          <button type="submit" className="button button-small button-primary">Go <kbd>Enter</kbd></button>
          <button type="button" className="button button-small" onClick={() => setPrompt(null)}>Cancel <kbd>Esc</kbd></button>
        </form>
      )}

      <div className="board-grid">
        <div className="board-column">
          <CallsPanel board={board} calls={calls} now={now} selectedId={selected?.id ?? null} holdAlertSec={holdAlertSec} onSelect={setSelectedId}
            renderExtras={(c) => <CallNote call={c} />} />
          <ParkingPanel board={board} now={now} slots={slotRange(slotText)} onDropCall={dropOnSlot}
            onRetrieve={(slot) => void act(`Retrieve ${slot}`, () => boardActions.retrieve(slot, myExtension))} onSelectCall={setSelectedId} />
        </div>
        <div className="board-column">
          <ExtensionsPanel board={board} now={now} mine={myExtension} searchRef={searchRef} onDropCall={dropOnExtension}
            onPickup={(ext) => void act(`Pick up ${ext}`, () => boardActions.pickupExtension(ext, myExtension))}
            renderExtras={(x) => <DndToggle extension={x} onError={setError} />} />
          <PhonebookPanel onError={setError} />
        </div>
      </div>

      <dialog ref={helpRef} className="dialog shortcuts-dialog" aria-labelledby="shortcuts-title" onCancel={(e) => { e.preventDefault(); setHelpOpen(false); }}>
        <h2 id="shortcuts-title">Keyboard shortcuts</h2>
        <table className="shortcuts-table" aria-label="Keyboard shortcuts">
          <tbody>
            {SHORTCUTS.map((s) => <tr key={s.command}><td><kbd>{s.label}</kbd></td><td>{s.description}</td></tr>)}
            <tr><td><kbd>Drag</kbd></td><td>Drop a call on an extension to transfer it there, on a free slot to park it</td></tr>
          </tbody>
        </table>
        <div className="dialog-actions"><button type="button" className="button" onClick={() => setHelpOpen(false)}>Close <kbd>Esc</kbd></button></div>
      </dialog>
    </section>
  );
}
