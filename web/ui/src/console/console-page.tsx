import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { EventStream, StreamState, type StreamEvent } from '../api/index.ts';
import { EmptyState } from '../app/components.tsx';
import { useOperatorTenant } from '../app/operator-tenant.tsx';
import { useSignedIn } from '../app/session.tsx';
import { CallLadder } from './call-ladder.tsx';
import { compileFilter, EMPTY_FILTER, endpointText, METHODS, rowOf, summary, type ConsoleFilter, type ConsoleRow } from './console-model.ts';
import './console.css';

const CAPS = [200, 1000, 5000] as const;

const STATE_LABELS: Record<StreamState, string> = {
  [StreamState.Connecting]: 'Connecting…',
  [StreamState.Live]: 'Live',
  [StreamState.Reconnecting]: 'Reconnecting…',
  [StreamState.Closed]: 'Closed',
};

function eventsUrl(tenant: number | null): string {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${window.location.host}/api/v1/events${tenant === null ? '' : `?tenant=${tenant}`}`;
}

/**
 * The live console: the tenant's SIP trace and dialplan log as they happen (the switch traces
 * only while someone watches), filtered in the page; a call opens as a ladder diagram.
 * Members get their own calls' dialplan log lines only (the switch sends them no SIP traces).
 */
export default function ConsolePage() {
  const { user } = useSignedIn();
  const isOperator = user.role === 'operator';
  // Operators watch the tenant chosen in the top bar (the shell asks for one before this page).
  const operatorTenant = useOperatorTenant();
  const tenant = isOperator ? operatorTenant.tenantId : null;
  const tenantDomain = operatorTenant.tenants.find((t) => t.id === tenant)?.domain;
  const [rows, setRows] = useState<ConsoleRow[]>([]);
  const [pending, setPending] = useState<ConsoleRow[]>([]);
  const [paused, setPaused] = useState(false);
  const [cap, setCap] = useState<number>(1000);
  const [state, setState] = useState<StreamState>(StreamState.Connecting);
  const [filter, setFilter] = useState<ConsoleFilter>(EMPTY_FILTER);
  const [openCall, setOpenCall] = useState<string | null>(null);
  const callAccounts = useRef(new Map<string, Set<string>>());
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const capRef = useRef(cap);
  capRef.current = cap;

  useEffect(() => {
    if (isOperator && tenant === null) return;
    const noteAccounts = (e: StreamEvent): void => {
      const callId = typeof e['callId'] === 'string' ? e['callId'] : undefined;
      if (!callId) return;
      const set = callAccounts.current.get(callId) ?? new Set<string>();
      for (const party of [e['caller'], e['callee']]) {
        const account = party && typeof party === 'object' ? (party as { account?: unknown }).account : undefined;
        if (typeof account === 'string') set.add(account);
      }
      if (typeof e['account'] === 'string') set.add(e['account']);
      callAccounts.current.set(callId, set);
    };
    const stream = new EventStream({
      url: eventsUrl(tenant),
      subscribe: ['sip.trace', 'dialplan.log', 'call.*'],
      onSnapshot: () => {},
      onEvent: (e) => {
        if (e.type.startsWith('call.')) noteAccounts(e);
        const row = rowOf(e);
        if (!row) return;
        // In time order: a call's first messages are held until the call claims them and arrive after later ones.
        const add = (list: ConsoleRow[]): ConsoleRow[] => {
          let at = list.length;
          while (at > 0 && list[at - 1]!.time > row.time) at--;
          const next = [...list.slice(0, at), row, ...list.slice(at)];
          return next.length > capRef.current ? next.slice(next.length - capRef.current) : next;
        };
        if (pausedRef.current) setPending(add);
        else setRows(add);
      },
      onState: setState,
    });
    stream.start();
    return () => stream.close();
  }, [isOperator, tenant]);

  useEffect(() => {
    setRows((list) => (list.length > cap ? list.slice(list.length - cap) : list));
  }, [cap]);

  const resume = (): void => {
    setRows((list) => {
      const next = [...list, ...pending];
      return next.length > cap ? next.slice(next.length - cap) : next;
    });
    setPending([]);
    setPaused(false);
  };
  const clear = (): void => {
    setRows([]);
    setPending([]);
    callAccounts.current.clear();
  };

  const compiled = useMemo(() => compileFilter(filter), [filter]);
  const accountsOf = (callId: string): readonly string[] => [...(callAccounts.current.get(callId) ?? [])];
  const visible = compiled.ok ? rows.filter((r) => compiled.test(r, accountsOf)) : rows;
  // By time, not arrival: a call's first messages are traced before the call exists and reach the stream after its first log lines.
  const callRows = openCall === null ? [] : rows.filter((r) => r.callId === openCall).sort((a, b) => a.time - b.time || a.seq - b.seq);

  return (
    <section className="page page-console">
      <div className="page-header">
        <div>
          <h1>Live console</h1>
          <p className="muted console-sub">
            SIP messages and dialplan log lines of {isOperator ? (tenantDomain ?? 'the chosen tenant') : 'your company'} as they happen.
            {user.role === 'member' && ' Members see the dialplan log of their own accounts\u2019 calls.'}
          </p>
        </div>
        <div className="console-controls">
          <span className={`stream-state stream-${state}`} data-testid="stream-state" role="status">{STATE_LABELS[state]}</span>
          {paused ? (
            <button type="button" className="button button-primary" onClick={resume}>Resume{pending.length ? ` (${pending.length} new)` : ''}</button>
          ) : (
            <button type="button" className="button" onClick={() => setPaused(true)}>Pause</button>
          )}
          <button type="button" className="button" onClick={clear}>Clear</button>
          <label className="inline-field">
            Keep{' '}
            <select aria-label="Rows kept" value={cap} onChange={(e) => setCap(Number(e.target.value))}>
              {CAPS.map((c) => <option key={c} value={c}>{c}</option>)}
            </select>{' '}
            rows
          </label>
        </div>
      </div>

      {openCall !== null ? (
        <div className="section" data-testid="call-view">
          <div className="console-call-head">
            <button type="button" className="button button-small" onClick={() => setOpenCall(null)}>← Back to the stream</button>
            <h2>Call <span className="mono">{openCall}</span></h2>
          </div>
          {callRows.length === 0 ? <EmptyState title="Nothing of this call is kept any more (cleared or past the row limit)." /> : <CallLadder callId={openCall} rows={callRows} />}
        </div>
      ) : (
        <>
          <ConsoleFilters filter={filter} onChange={setFilter} error={compiled.ok ? undefined : compiled.message} />
          <p className="muted console-count" aria-live="polite" data-testid="row-count">
            {visible.length} of {rows.length} rows{paused ? ' · paused' : ''}
          </p>
          <ConsoleTable rows={visible} onOpenCall={setOpenCall} />
        </>
      )}
    </section>
  );
}

function ConsoleFilters({ filter, onChange, error }: { filter: ConsoleFilter; onChange(f: ConsoleFilter): void; error?: string }) {
  const set = <K extends keyof ConsoleFilter>(key: K, value: ConsoleFilter[K]): void => onChange({ ...filter, [key]: value });
  return (
    <form className="filters console-filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
      <div className="field">
        <label htmlFor="f-method">Method</label>
        <select id="f-method" value={filter.method} onChange={(e) => set('method', e.target.value)}>
          <option value="">Any</option>
          {METHODS.map((m) => <option key={m} value={m}>{m}</option>)}
        </select>
      </div>
      <div className="field">
        <label htmlFor="f-status">Status</label>
        <select id="f-status" value={filter.statusClass} onChange={(e) => set('statusClass', e.target.value)}>
          <option value="">Any</option>
          <option value="request">Requests</option>
          {['1', '2', '3', '4', '5', '6'].map((c) => <option key={c} value={c}>{c}xx</option>)}
        </select>
      </div>
      <div className="field">
        <label htmlFor="f-account">Account</label>
        <input id="f-account" value={filter.account} placeholder="1001" onChange={(e) => set('account', e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="f-call">Call id</label>
        <input id="f-call" value={filter.callId} placeholder="part of a call id" onChange={(e) => set('callId', e.target.value)} />
      </div>
      <div className={`field field-grow${error ? ' field-invalid' : ''}`}>
        <label htmlFor="f-text">Text</label>
        <input id="f-text" value={filter.text} aria-invalid={error ? true : undefined} aria-describedby={error ? 'f-text-error' : undefined} placeholder={filter.regex ? 'regular expression' : 'anything in the message'} onChange={(e) => set('text', e.target.value)} />
        {error && <small id="f-text-error" className="field-error" role="alert">{error}</small>}
      </div>
      <label className="checkbox console-regex">
        <input type="checkbox" checked={filter.regex} onChange={(e) => set('regex', e.target.checked)} /> Regex
      </label>
    </form>
  );
}

function ConsoleTable({ rows, onOpenCall }: { rows: readonly ConsoleRow[]; onOpenCall(callId: string): void }) {
  const scroller = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  // Follows the newest row while the user is at the bottom; scrolled up, the view stays put.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [rows]);
  if (rows.length === 0) {
    return <EmptyState title="Nothing yet.">Messages appear here as calls and registrations happen.</EmptyState>;
  }
  const shown = rows.length > 1000 ? rows.slice(rows.length - 1000) : rows;
  return (
    <div
      className="console-scroll"
      ref={scroller}
      onScroll={(e) => {
        const el = e.currentTarget;
        stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
      }}
    >
      <table className="table console-table" aria-label="Live messages">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col"><span className="sr-only">Direction</span></th>
            <th scope="col">Message</th>
            <th scope="col">Between</th>
            <th scope="col">Call</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((row) => (
            <tr key={row.seq} className={row.kind === 'log' ? `console-log console-log-${row.level}` : `console-sip${row.status !== undefined ? ' console-response' : ''}`} data-kind={row.kind}>
              <td className="nowrap mono">{new Date(row.time).toLocaleTimeString(undefined, { hour12: false })}.{String(row.time % 1000).padStart(3, '0')}</td>
              <td className="console-dir">
                {row.kind === 'log' ? (
                  <span className="console-tag console-tag-log">log</span>
                ) : (
                  <span className={`console-tag console-tag-${row.direction}`} title={row.direction === 'in' ? 'received by Patchbay' : 'sent by Patchbay'}>{row.direction}</span>
                )}
              </td>
              <td className="console-msg">
                {row.kind === 'log' ? (
                  <>
                    <span className="muted">{row.dialplan}:</span> {row.message}
                  </>
                ) : (
                  <span className="mono">{summary(row)}</span>
                )}
              </td>
              <td className="mono nowrap">{row.kind === 'sip' ? `${endpointText(row.src)} → ${endpointText(row.dst)}` : ''}</td>
              <td>
                {row.callId ? (
                  <button type="button" className="link-button mono" title="Open the ladder of this call" onClick={() => onOpenCall(row.callId!)}>
                    {row.callId.slice(0, 8)}
                  </button>
                ) : (
                  <span className="muted">—</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
