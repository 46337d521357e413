import { useState, type FormEvent } from 'react';
import { adminApi, type AuditEntry, type AuditQuery } from '../api/index.ts';
import { EmptyState, formatTime } from '../app/components.tsx';
import { ListState } from '../app/list-state.tsx';
import { Field } from '../app/components.tsx';
import { useOperatorTenant } from '../app/operator-tenant.tsx';
import { useAsync } from '../app/use-async.ts';

type Filters = Omit<AuditQuery, 'limit' | 'cursor'>;

function toIso(local: string): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** Same rule as the API: an action name, or a prefix ending in `.*`. */
const ACTION = /^[A-Za-z0-9_.-]+(\.\*)?$/;

function details(entry: AuditEntry): string {
  if (!entry.details) return '';
  return Object.entries(entry.details)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

/** The audit log, newest first: who changed what, from where; filter by actor, action and time. */
export function AuditPage() {
  const operator = useOperatorTenant();
  const tenantId = operator.isOperator ? operator.tenantId : null;
  const [form, setForm] = useState({ actor: '', action: '', from: '', to: '' });
  const [formError, setFormError] = useState<Record<string, string>>({});
  const [filters, setFilters] = useState<Filters>({});
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const [list, reload] = useAsync(() => adminApi.audit.list({ ...filters, ...(cursor && { cursor }), ...(tenantId !== null && { tenantId }) }), [filters, cursor, tenantId]);
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });

  const apply = (event: FormEvent): void => {
    event.preventDefault();
    const found: Record<string, string> = {};
    if (form.action.trim() && !ACTION.test(form.action.trim())) found.action = 'An action such as account.update, or a prefix such as account.*';
    const from = toIso(form.from);
    const to = toIso(form.to);
    if (from && to && from > to) found.to = 'Must be after “From”.';
    setFormError(found);
    if (Object.keys(found).length) return;
    setCursors([]);
    setFilters({ actor: form.actor.trim() || undefined, action: form.action.trim() || undefined, from, to });
  };

  return (
    <section className="page">
      <div className="page-header">
        <div>
          <h1>Audit log</h1>
          <p className="muted page-lead">Every change made through the API, the web app or the CLI{operator.isOperator && tenantId === null ? ', across all tenants' : ''}.</p>
        </div>
      </div>
      <form className="card filters audit-filters" onSubmit={apply} aria-label="Filter audit log" noValidate>
        <Field label="Actor" name="actor" placeholder="ana@acme.example" value={form.actor} onChange={set('actor')} />
        <Field label="Action" name="action" placeholder="account.* or user.add" value={form.action} onChange={set('action')} error={formError.action} />
        <Field label="From" name="from" type="datetime-local" value={form.from} onChange={set('from')} />
        <Field label="To" name="to" type="datetime-local" value={form.to} onChange={set('to')} error={formError.to} />
        <div className="form-actions"><button type="submit" className="button button-primary">Apply</button></div>
      </form>
      <ListState
        list={list}
        reload={reload}
        label="Audit log"
        empty={<EmptyState title="No entries match these filters." />}
        columns={
          <>
            <th scope="col">Time</th>
            <th scope="col">Actor</th>
            <th scope="col">Action</th>
            <th scope="col">Object</th>
            <th scope="col">Details</th>
            <th scope="col">Source</th>
          </>
        }
        row={(e) => (
          <tr key={e.id}>
            <td className="nowrap">{formatTime(e.at)}</td>
            <td className="party">{e.actor}</td>
            <td className="mono nowrap">{e.action}</td>
            <td className="party">{e.target ?? '—'}</td>
            <td className="mono details-cell">{details(e)}</td>
            <td className="mono nowrap">{e.sourceAddress ?? "—"}</td>
          </tr>
        )}
      />
      <div className="pager">
        {cursors.length > 0 && <button type="button" className="button" onClick={() => setCursors(cursors.slice(0, -1))}>Newer</button>}
        {list.data?.nextCursor && <button type="button" className="button" onClick={() => setCursors([...cursors, list.data!.nextCursor!])}>Older</button>}
      </div>
    </section>
  );
}
