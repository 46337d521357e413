import { useState, type DragEvent, type ReactNode, type Ref } from 'react';
import { activityOf, formatDuration, type BoardExtension, type BoardState } from './board-state.ts';
import { CALL_DRAG_TYPE } from './calls-panel.tsx';

const STATE_LABELS: Record<string, string> = {
  idle: 'Idle', ringing: 'Ringing', busy: 'Busy', held: 'On hold', dnd: 'Do not disturb', offline: 'Offline',
};
const FILTERS = ['all', 'idle', 'ringing', 'busy', 'held', 'dnd', 'offline'] as const;
const CHIP_LABELS: Record<string, string> = { ...STATE_LABELS, held: 'Held', dnd: 'DND' };
type Filter = (typeof FILTERS)[number];

export function ExtensionsPanel({
  board, now, mine, searchRef, onDropCall, onPickup, renderExtras,
}: {
  board: BoardState;
  now: number;
  mine: string | null;
  searchRef: Ref<HTMLInputElement>;
  onDropCall(callId: string, extension: string): void;
  onPickup(extension: string): void;
  /** Part of a tile owned by optional features (the DND toggle). */
  renderExtras?(x: BoardExtension): ReactNode;
}) {
  const [filter, setFilter] = useState<Filter>('all');
  const [q, setQ] = useState('');
  const all = Object.values(board.extensions).sort((a, b) => a.user.localeCompare(b.user, undefined, { numeric: true }));
  const needle = q.trim().toLowerCase();
  const shown = all.filter((x) => {
    if (filter !== 'all' && x.state !== filter) return false;
    if (!needle) return true;
    const activity = activityOf(board, x)?.text ?? '';
    return x.user.toLowerCase().includes(needle) || (x.label ?? '').toLowerCase().includes(needle) || activity.toLowerCase().includes(needle);
  });
  const counts = new Map<string, number>();
  for (const x of all) counts.set(x.state, (counts.get(x.state) ?? 0) + 1);
  return (
    <section className="board-panel board-extensions" aria-labelledby="board-ext-title">
      <header className="board-panel-header">
        <h2 id="board-ext-title">Extensions</h2>
        <input ref={searchRef} type="search" className="board-search" placeholder="Search extensions  ( / )" aria-label="Search extensions" value={q} onChange={(e) => setQ(e.target.value)}
          onKeyDown={(e) => { if (e.key === 'Escape') { setQ(''); e.currentTarget.blur(); } }} />
      </header>
      <div className="filter-chips" role="group" aria-label="Filter extensions by state">
        {FILTERS.map((f) => (
          <button key={f} type="button" className={`chip chip-${f}`} aria-pressed={filter === f} onClick={() => setFilter(f)}>
            {f === 'all' ? 'All' : CHIP_LABELS[f]} <span className="chip-count">{f === 'all' ? all.length : counts.get(f) ?? 0}</span>
          </button>
        ))}
      </div>
      {shown.length === 0 ? (
        <p className="board-empty">{all.length === 0 ? 'No extensions yet.' : 'No extension matches.'}</p>
      ) : (
        <ul className="blf-grid" aria-label="Extensions">
          {shown.map((x) => (
            <ExtensionTile key={x.user} board={board} x={x} now={now} mine={x.user === mine} onDropCall={onDropCall} onPickup={onPickup} extras={renderExtras?.(x)} />
          ))}
        </ul>
      )}
    </section>
  );
}

function ExtensionTile({
  board, x, now, mine, onDropCall, onPickup, extras,
}: { board: BoardState; x: BoardExtension; now: number; mine: boolean; onDropCall(callId: string, extension: string): void; onPickup(extension: string): void; extras: ReactNode }) {
  const [over, setOver] = useState(false);
  const activity = activityOf(board, x);
  const since = activity?.since ?? (x.state !== 'idle' && x.state !== 'offline' ? x.since : null);
  const accepts = (e: DragEvent): boolean => e.dataTransfer.types.includes(CALL_DRAG_TYPE);
  return (
    <li
      className={`blf-tile blf-${x.state}${mine ? ' blf-mine' : ''}${over ? ' drop-over' : ''}`}
      data-extension={x.user}
      data-state={x.state}
      aria-label={`Extension ${x.user}${x.label ? ` (${x.label})` : ''}: ${STATE_LABELS[x.state] ?? x.state}${activity ? `, ${activity.text}` : ''}`}
      onDragOver={(e) => { if (accepts(e)) { e.preventDefault(); e.dataTransfer.dropEffect = 'move'; setOver(true); } }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        setOver(false);
        const id = e.dataTransfer.getData(CALL_DRAG_TYPE);
        if (id) { e.preventDefault(); onDropCall(id, x.user); }
      }}
    >
      <span className="blf-lamp" aria-hidden="true" />
      <span className="blf-body">
        <span className="blf-name">{x.user}{x.label && <span className="blf-label" title={x.label}>{x.label}</span>}{mine && <span className="mine-tag">me</span>}</span>
        <span className="blf-state">{STATE_LABELS[x.state] ?? x.state}{x.dnd && x.state !== 'dnd' ? ' · DND' : ''}</span>
        {activity && <span className="blf-activity">{activity.text}</span>}
      </span>
      <span className="blf-side">
        {since !== null && <span className="blf-time">{formatDuration(now - since)}</span>}
        <span className="blf-buttons">
          {x.state === 'ringing' && !mine && (
            <button type="button" className="button button-tiny button-primary" onClick={() => onPickup(x.user)} title="Pick up to my phone (G)">Pick up</button>
          )}
          {extras}
        </span>
      </span>
    </li>
  );
}
