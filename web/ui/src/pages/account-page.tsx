import { useState, type FormEvent } from 'react';
import { api, listAll, ApiError, type Account, type Binding, type UpdateAccountInput } from '../api/index.ts';
import { ConfirmDialog, EmptyState, ErrorBanner, Field, formatTime, Spinner } from '../app/components.tsx';
import { canManageAccounts } from '../app/roles.ts';
import { Link, navigate } from '../app/router.tsx';
import { useSignedIn } from '../app/session.tsx';
import { useAsync } from '../app/use-async.ts';
import { MIN_PASSWORD } from './accounts-page.tsx';

export function AccountPage({ id }: { id: number }) {
  const [account, reload] = useAsync(() => api.accounts.get(id), [id]);
  if (account.status === 'error' && !account.data) {
    return (
      <section className="page">
        <h1>Account</h1>
        <ErrorBanner error={account.error} onRetry={reload} />
        <Link to="/accounts">Back to the accounts</Link>
      </section>
    );
  }
  if (!account.data) return <Spinner />;
  return <AccountDetail account={account.data} />;
}

function AccountDetail({ account: initial }: { account: Account }) {
  const { user } = useSignedIn();
  const [account, setAccount] = useState(initial);
  const [displayName, setDisplayName] = useState(initial.displayName ?? '');
  const [maxCalls, setMaxCalls] = useState(initial.maxCalls === null ? '' : String(initial.maxCalls));
  const [outDialplan, setOutDialplan] = useState(initial.outDialplan ?? '');
  const [inDialplan, setInDialplan] = useState(initial.inDialplan ?? '');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [dialplans] = useAsync(() => listAll(api.dialplans.list), []);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const found: Record<string, string> = {};
    if (password && password.length < MIN_PASSWORD) found.password = `At least ${MIN_PASSWORD} characters.`;
    // The API's bounds: 0 to 10,000.
    if (maxCalls !== '' && (!/^\d{1,5}$/.test(maxCalls) || Number(maxCalls) > 10_000)) found.maxCalls = 'A whole number, or empty for no limit.';
    setErrors(found);
    setSaved(false);
    if (Object.keys(found).length) return;
    const patch: UpdateAccountInput = {
      displayName: displayName.trim() || null,
      maxCalls: maxCalls === '' ? null : Number(maxCalls),
      outDialplan: outDialplan || null,
      inDialplan: inDialplan || null,
      ...(password && { password }),
    };
    setBusy(true);
    try {
      setAccount(await api.accounts.update(account.id, patch));
      setPassword('');
      setSaved(true);
    } catch (error) {
      setErrors(error instanceof ApiError && error.field ? { [error.field]: error.message } : { form: error instanceof Error ? error.message : String(error) });
    } finally {
      setBusy(false);
    }
  };

  const remove = async (): Promise<void> => {
    setBusy(true);
    try {
      await api.accounts.remove(account.id);
      navigate('/accounts');
    } catch (error) {
      setErrors({ form: error instanceof Error ? error.message : String(error) });
      setConfirmDelete(false);
      setBusy(false);
    }
  };

  const names = dialplans.data?.items.map((d) => d.name) ?? [];
  const dialplanSelect = (id: string, label: string, value: string, set: (v: string) => void) => (
    <div className={`field${errors[id] ? ' field-invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => set(e.target.value)}>
        <option value="">(none)</option>
        {[...new Set([...names, ...(value ? [value] : [])])].map((n) => <option key={n} value={n}>{n}</option>)}
      </select>
      {errors[id] && <small className="field-error" role="alert">{errors[id]}</small>}
    </div>
  );

  return (
    <section className="page">
      <div className="page-header">
        <div>
          <p className="breadcrumb"><Link to="/accounts">Accounts</Link> /</p>
          <h1>{account.username}@{account.domain}</h1>
        </div>
        {canManageAccounts(user.role) && <button type="button" className="button button-danger" onClick={() => setConfirmDelete(true)}>Delete</button>}
      </div>
      <form className="card form-grid" onSubmit={submit} aria-label="Account settings" noValidate>
        <Field label="Display name" name="displayName" value={displayName} onChange={(e) => setDisplayName(e.target.value)} error={errors.displayName} />
        <Field label="Max concurrent calls" name="maxCalls" inputMode="numeric" value={maxCalls} onChange={(e) => setMaxCalls(e.target.value)} error={errors.maxCalls} hint="empty: no limit" />
        {dialplanSelect('outDialplan', 'Outgoing dialplan', outDialplan, setOutDialplan)}
        {dialplanSelect('inDialplan', 'Incoming dialplan', inDialplan, setInDialplan)}
        <Field label="New SIP password" name="password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} error={errors.password} hint="leave empty to keep the current one" />
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={busy}>Save settings</button>
          {saved && <span className="ok" role="status">Saved.</span>}
        </div>
        {errors.form && <ErrorBanner error={new Error(errors.form)} />}
      </form>
      <Bindings accountId={account.id} />
      <ConfirmDialog open={confirmDelete} title={`Delete ${account.username}@${account.domain}?`} confirmLabel="Delete account" danger busy={busy} onConfirm={() => void remove()} onCancel={() => setConfirmDelete(false)}>
        <p>Its phones are unregistered and can no longer place or receive calls.</p>
      </ConfirmDialog>
    </section>
  );
}

function Bindings({ accountId }: { accountId: number }) {
  const [bindings, reload] = useAsync(() => listAll((q) => api.accounts.bindings(accountId, q)), [accountId]);
  const [error, setError] = useState<unknown>(null);
  const [pending, setPending] = useState<Binding | null>(null);
  const unregister = async (): Promise<void> => {
    if (!pending) return;
    try {
      await api.accounts.unregister(accountId, pending.id);
      reload();
    } catch (err) {
      setError(err);
    } finally {
      setPending(null);
    }
  };
  const items = bindings.data?.items ?? [];
  return (
    <div className="section">
      <div className="page-header">
        <h2>Registrations</h2>
        <button type="button" className="button button-small" onClick={reload}>Refresh</button>
      </div>
      {bindings.status === 'error' && <ErrorBanner error={bindings.error} onRetry={reload} />}
      {error !== null && <ErrorBanner error={error} />}
      {!bindings.data && bindings.status === 'loading' && <Spinner />}
      {bindings.data && items.length === 0 && <EmptyState title="No phone is registered to this account." />}
      {items.length > 0 && (
        <div className="table-wrap"><table className="table" aria-label="Registrations">
          <thead>
            <tr><th scope="col">Contact</th><th scope="col">Source</th><th scope="col">Transport</th><th scope="col">User agent</th><th scope="col">Expires</th><th scope="col"><span className="sr-only">Actions</span></th></tr>
          </thead>
          <tbody>
            {items.map((b) => (
              <tr key={b.id}>
                <td className="mono">{b.contact}</td>
                <td className="mono">{b.sourceAddress}</td>
                <td>{b.transport.toUpperCase()}</td>
                <td>{b.userAgent ?? '—'}</td>
                <td>{formatTime(b.expiresAt)}</td>
                <td className="cell-actions"><button type="button" className="button button-small" onClick={() => setPending(b)}>Unregister</button></td>
              </tr>
            ))}
          </tbody>
        </table></div>
      )}
      <ConfirmDialog open={pending !== null} title="Unregister this phone?" confirmLabel="Unregister" danger onConfirm={() => void unregister()} onCancel={() => setPending(null)}>
        <p className="mono">{pending?.contact}</p>
        <p>Calls stop reaching it until it registers again (most phones do within their re-register interval).</p>
      </ConfirmDialog>
    </div>
  );
}
