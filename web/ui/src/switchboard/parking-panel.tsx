import { useState, type DragEvent } from 'react';
import { formatDuration, userOf, type BoardState } from './board-state.ts';
import { CALL_DRAG_TYPE } from './calls-panel.tsx';

/** `70-79` → ['70', …, '79']; anything unreadable → []. */
export function slotRange(text: string): string[] {
  const m = /^\s*([1-9][0-9]{0,5})\s*(?:-\s*([1-9][0-9]{0,5}))?\s*$/.exec(text);
  if (!m) return [];
  const first = Number(m[1]);
  const last = Number(m[2] ?? m[1]);
  if (last < first || last - first >= 100) return [];
  return Array.from({ length: last - first + 1 }, (_, i) => String(first + i));
}

export function ParkingPanel({
  board, now, slots, onDropCall, onRetrieve, onSelectCall,
}: {
  board: BoardState;
  now: number;
  /** The tenant's slot numbers (PATCHBAY_PARK_SLOTS, set on the page); occupied ones outside are shown too. */
  slots: string[];
  onDropCall(callId: string, slot: string): void;
  onRetrieve(slot: string): void;
  onSelectCall(callId: string): void;
}) {
  const all = [...new Set([...slots, ...Object.keys(board.parking)])].sort((a, b) => Number(a) - Number(b));
  return (
    <section className="board-panel board-parking" aria-labelledby="board-park-title">
      <header className="board-panel-header">
        <h2 id="board-park-title">Parking lot</h2>
        <span className="count-pill">{Object.keys(board.parking).length} parked</span>
      </header>
      <ul className="park-grid" aria-label="Parking lot">
        {all.map((slot) => <ParkSlot key={slot} board={board} slot={slot} now={now} onDropCall={onDropCall} onRetrieve={onRetrieve} onSelectCall={onSelectCall} />)}
      </ul>
    </section>
  );
}

function ParkSlot({ board, slot, now, onDropCall, onRetrieve, onSelectCall }: { board: BoardState; slot: string; now: number; onDropCall(callId: string, slot: string): void; onRetrieve(slot: string): void; onSelectCall(callId: string): void }) {
  const [over, setOver] = useState(false);
  const parked = board.parking[slot];
  const call = parked ? board.calls[parked.callId] : undefined;
  const accepts = (e: DragEvent): boolean => !parked && e.dataTransfer.types.includes(CALL_DRAG_TYPE);
  const who = call ? (call.callerName ?? call.caller.displayName ?? userOf(call.caller.uri)) : parked ? userOf(parked.party) : null;
  return (
    <li
      className={`park-slot${parked ? ' occupied' : ''}${over ? ' drop-over' : ''}`}
      data-slot={slot}
      aria-label={parked ? `Slot ${slot}: ${who}` : `Slot ${slot}: free`}
      onDragOver={(e) => { if (accepts(e)) { e.preventDefault(); setOver(true); } }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        setOver(false);
        const id = e.dataTransfer.getData(CALL_DRAG_TYPE);
        if (id && !parked) { e.preventDefault(); onDropCall(id, slot); }
      }}
      onClick={() => parked && onSelectCall(parked.callId)}
    >
      <span className="park-number">{slot}</span>
      {parked ? (
        <span className="park-body">
          <strong>{who}</strong>
          <span className="muted park-meta">{formatDuration(now - parked.parkedAt)}{parked.parkedBy ? ` · by ${parked.parkedBy.replace(/^api:/, '')}` : ''}</span>
          <button type="button" className="button button-tiny" onClick={(e) => { e.stopPropagation(); onRetrieve(slot); }}>Retrieve</button>
        </span>
      ) : (
        <span className="park-body muted">free</span>
      )}
    </li>
  );
}
