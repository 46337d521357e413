import { useMemo, useState, type KeyboardEvent } from 'react';
import { callText, endpointText, summary, type ConsoleRow, type SipRow } from './console-model.ts';

interface Column { key: string; title: string; subtitle: string }

const SWITCH_KEY = 'patchbay';
const ROW_HEIGHT = 34;
const HEADER_HEIGHT = 58;
const TIME_WIDTH = 76;
const COLUMN_SPACING = 300;
/** Characters of a label that fit between two columns. */
const LABEL_CHARS = 40;

/** Which column a message's far end is: the caller's phone on leg a, each dialled party on leg b. */
function remoteKey(row: SipRow): string {
  const remote = row.direction === 'in' ? row.src : row.dst;
  return `${row.leg ?? 'a'}:${endpointText(remote)}`;
}

function columnsOf(rows: readonly ConsoleRow[]): Column[] {
  const a: Column[] = [];
  const b: Column[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    if (row.kind !== 'sip') continue;
    const key = remoteKey(row);
    if (seen.has(key)) continue;
    seen.add(key);
    const remote = endpointText(row.direction === 'in' ? row.src : row.dst);
    if ((row.leg ?? 'a') === 'a') a.push({ key, title: `Caller ${row.fromUser}`.trim(), subtitle: remote });
    else b.push({ key, title: `Callee ${row.toUser}`.trim(), subtitle: remote });
  }
  return [...a, { key: SWITCH_KEY, title: 'Patchbay', subtitle: 'B2BUA' }, ...b];
}

/**
 * The ladder of one call: every SIP message of both legs and the dialplan's log lines on one
 * timeline, one column per party with Patchbay in the middle. A message is a button: it shows
 * its full text below.
 */
export function CallLadder({ callId, rows }: { callId: string; rows: readonly ConsoleRow[] }) {
  const columns = useMemo(() => columnsOf(rows), [rows]);
  const [selected, setSelected] = useState<number | null>(null);
  const x = (key: string): number => TIME_WIDTH + 90 + columns.findIndex((c) => c.key === key) * COLUMN_SPACING;
  const width = TIME_WIDTH + 180 + (columns.length - 1) * COLUMN_SPACING;
  const height = HEADER_HEIGHT + rows.length * ROW_HEIGHT + 16;
  const start = rows[0]?.time ?? 0;
  const chosen = selected === null ? undefined : rows.find((r) => r.seq === selected);

  const exportText = (): void => {
    const blob = new Blob([callText(callId, rows)], { type: 'text/plain' });
    const url = URL.createObjectURL(blob);
    const link = document.createElement('a');
    link.href = url;
    link.download = `call-${callId}.txt`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  const onKey = (event: KeyboardEvent, seq: number): void => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      setSelected(seq);
    }
  };

  return (
    <div className="ladder">
      <div className="ladder-toolbar">
        <span className="muted">{rows.filter((r) => r.kind === 'sip').length} messages, {rows.filter((r) => r.kind === 'log').length} log lines</span>
        <button type="button" className="button button-small" onClick={exportText}>
          Export as text
        </button>
      </div>
      <div className="ladder-scroll">
        <svg className="ladder-svg" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`Ladder diagram of call ${callId}`} data-testid="ladder">
          <defs>
            <marker id="ladder-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" className="ladder-arrowhead" />
            </marker>
          </defs>
          {columns.map((c) => (
            <g key={c.key} data-column={c.key === SWITCH_KEY ? 'patchbay' : c.key.startsWith('a:') ? 'caller' : 'callee'}>
              <text x={x(c.key)} y={20} textAnchor="middle" className={`ladder-title${c.key === SWITCH_KEY ? ' ladder-title-switch' : ''}`}>{c.title}</text>
              <text x={x(c.key)} y={36} textAnchor="middle" className="ladder-subtitle">{c.subtitle.length > 44 ? `${c.subtitle.slice(0, 43)}…` : c.subtitle}</text>
              <line x1={x(c.key)} x2={x(c.key)} y1={HEADER_HEIGHT - 12} y2={height - 8} className={`ladder-life${c.key === SWITCH_KEY ? ' ladder-life-switch' : ''}`} />
            </g>
          ))}
          {rows.map((row, i) => {
            const y = HEADER_HEIGHT + i * ROW_HEIGHT + ROW_HEIGHT / 2;
            const time = <text x={8} y={y + 4} className="ladder-time">+{((row.time - start) / 1000).toFixed(3)}</text>;
            if (row.kind === 'log') {
              const left = TIME_WIDTH + 20;
              return (
                <g key={row.seq} className={`ladder-log ladder-log-${row.level}`} data-kind="log">
                  {time}
                  <rect x={left} y={y - 11} width={width - left - 12} height={22} rx={4} />
                  <text x={left + 10} y={y + 4}>
                    dialplan {row.dialplan}: {row.message}
                  </text>
                </g>
              );
            }
            const remote = x(remoteKey(row));
            const here = x(SWITCH_KEY);
            const [x1, x2] = row.direction === 'in' ? [remote, here] : [here, remote];
            const label = summary(row);
            const isSelected = selected === row.seq;
            return (
              <g
                key={row.seq}
                className={`ladder-msg${isSelected ? ' ladder-msg-selected' : ''}${row.status !== undefined ? ' ladder-msg-response' : ''}`}
                role="button"
                tabIndex={0}
                aria-pressed={isSelected}
                aria-label={`${row.direction === 'in' ? 'Received' : 'Sent'} ${label}, leg ${row.leg ?? 'a'}`}
                data-kind="sip"
                data-leg={row.leg ?? 'a'}
                onClick={() => setSelected(row.seq)}
                onKeyDown={(e) => onKey(e, row.seq)}
              >
                {/* The whole row is the button, drawn first so the arrow and text sit on it. */}
                <rect x={0} y={y - ROW_HEIGHT / 2} width={width} height={ROW_HEIGHT} className="ladder-hit" />
                {time}
                <line x1={x1} x2={x2} y1={y + 6} y2={y + 6} markerEnd="url(#ladder-arrow)" />
                <text x={(x1 + x2) / 2} y={y} textAnchor="middle">{label.length > LABEL_CHARS ? `${label.slice(0, LABEL_CHARS - 1)}…` : label}</text>
              </g>
            );
          })}
        </svg>
      </div>
      {chosen && chosen.kind === 'sip' ? (
        <div className="ladder-detail" data-testid="message-text">
          <p className="ladder-detail-head">
            <strong>{summary(chosen)}</strong>{' '}
            <span className="muted">
              {chosen.direction === 'in' ? 'received from' : 'sent to'} {endpointText(chosen.direction === 'in' ? chosen.src : chosen.dst)} over {chosen.transport.toUpperCase()}, leg {chosen.leg ?? 'a'}
              {chosen.legTarget ? ` (${chosen.legTarget})` : ''}, {new Date(chosen.time).toLocaleTimeString()}
            </span>
          </p>
          <pre>{chosen.text}</pre>
        </div>
      ) : (
        <p className="muted">Select a message to read it in full.</p>
      )}
    </div>
  );
}
