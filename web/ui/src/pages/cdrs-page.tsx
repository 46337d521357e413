import { useState, type FormEvent } from 'react';
import { api, type Cdr, type CdrDirection, type CdrQuery } from '../api/index.ts';
import { EmptyState, formatTime } from '../app/components.tsx';
import { ListState } from '../app/list-state.tsx';
import { useAsync } from '../app/use-async.ts';

type Filters = Omit<CdrQuery, 'limit' | 'cursor'>;

function toIso(local: string): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

const DIRECTIONS: Record<CdrDirection, string> = { inbound: 'incoming', outbound: 'outgoing', internal: 'internal' };

/** Final SIP codes people filter by; the API matches the code exactly. */
const STATUSES: [string, string][] = [
  ['200', 'answered (200)'],
  ['486', 'busy (486)'],
  ['480', 'unavailable (480)'],
  ['408', 'no answer (408)'],
  ['487', 'cancelled (487)'],
  ['404', 'not found (404)'],
  ['603', 'declined (603)'],
  ['503', 'service unavailable (503)'],
];

/**
 * `sip:1001@acme.test` → `1001@acme.test` (the scheme says nothing in a list of calls), with a
 * line-break opportunity after the `@` so a long number wraps before its host, not inside it.
 */
function party(uri: string) {
  const text = uri.replace(/^sips?:/i, '');
  const at = text.indexOf('@');
  return at < 0 ? text : <>{text.slice(0, at + 1)}<wbr />{text.slice(at + 1)}</>;
}

function duration(c: Cdr): string {
  return c.answeredAt === null ? '—' : `${Math.floor(c.durationSec / 60)}:${String(c.durationSec % 60).padStart(2, '0')}`;
}

export function CdrsPage() {
  const [form, setForm] = useState({ from: '', to: '', account: '', direction: '', status: '', q: '' });
  const [filters, setFilters] = useState<Filters>({});
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [list, reload] = useAsync(() => api.cdrs.list({ ...filters, cursor }), [filters, cursor]);

  const apply = (event: FormEvent): void => {
    event.preventDefault();
    setCursor(undefined);
    setFilters({ from: toIso(form.from), to: toIso(form.to), account: form.account.trim() || undefined, direction: (form.direction || undefined) as CdrDirection | undefined, status: form.status || undefined, q: form.q.trim() || undefined });
  };
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });

  return (
    <section className="page">
      <div className="page-header">
        <h1>Call records</h1>
        <div className="button-row">
          <a className="button" href={api.cdrs.exportUrl('csv', filters)} download>Export CSV</a>
          <a className="button" href={api.cdrs.exportUrl('json', filters)} download>Export JSON</a>
        </div>
      </div>
      <form className="card filters" onSubmit={apply} aria-label="Filter call records">
        <div className="field"><label htmlFor="cdr-from">From</label><input id="cdr-from" type="datetime-local" value={form.from} onChange={set('from')} /></div>
        <div className="field"><label htmlFor="cdr-to">To</label><input id="cdr-to" type="datetime-local" value={form.to} onChange={set('to')} /></div>
        <div className="field"><label htmlFor="cdr-account">Account</label><input id="cdr-account" placeholder="1001" value={form.account} onChange={set('account')} /></div>
        <div className="field"><label htmlFor="cdr-direction">Direction</label>
          <select id="cdr-direction" value={form.direction} onChange={set('direction')}><option value="">any</option>{Object.entries(DIRECTIONS).map(([value, label]) => <option key={value} value={value}>{label}</option>)}</select></div>
        <div className="field"><label htmlFor="cdr-status">Status</label>
          <select id="cdr-status" value={form.status} onChange={set('status')}><option value="">any</option>{STATUSES.map(([value, label]) => <option key={value} value={value}>{label}</option>)}</select></div>
        <div className="field field-grow"><label htmlFor="cdr-q">Text</label><input id="cdr-q" type="search" placeholder="number, name, call id" value={form.q} onChange={set('q')} /></div>
        <div className="form-actions"><button type="submit" className="button button-primary">Apply</button></div>
      </form>
      <ListState
        list={list}
        reload={reload}
        label="Call records"
        empty={
          Object.values(filters).some((v) => v !== undefined && v !== '') || cursor !== undefined ? (
            <EmptyState title="No calls match these filters." />
          ) : (
            <EmptyState title="No calls yet"><p>Each call is listed here once it has ended.</p></EmptyState>
          )
        }
        columns={
          <>
            <th scope="col">Started</th>
            <th scope="col">From</th>
            <th scope="col">To</th>
            <th scope="col">Direction</th>
            <th scope="col">Status</th>
            <th scope="col">Duration</th>
          </>
        }
        row={(c) => (
          <tr key={c.id}>
            <td className="nowrap">{formatTime(c.startedAt)}</td>
            <td className="party">{party(c.caller)}</td>
            <td className="party">{party(c.callee)}</td>
            <td>{DIRECTIONS[c.direction] ?? c.direction}</td>
            <td>{c.outcome ?? 'ended'}<span className="muted"> · {c.status}{c.hangupCause ? ` ${c.hangupCause}` : ''}</span></td>
            <td className="nowrap">{duration(c)}</td>
          </tr>
        )}
      />
      <div className="pager">
        {cursor && <button type="button" className="button" onClick={() => setCursor(undefined)}>First page</button>}
        {list.data?.nextCursor && <button type="button" className="button" onClick={() => setCursor(list.data?.nextCursor ?? undefined)}>Next page</button>}
      </div>
    </section>
  );
}
