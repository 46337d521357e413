import { useState, type FormEvent } from 'react';
import { api, listAll, ApiError } from '../api/index.ts';
import { EmptyState, ErrorBanner, Field } from '../app/components.tsx';
import { ListState } from '../app/list-state.tsx';
import { canManageAccounts } from '../app/roles.ts';
import { Link, navigate } from '../app/router.tsx';
import { useSignedIn } from '../app/session.tsx';
import { useAsync } from '../app/use-async.ts';

/** Same rule as the accounts repository. */
const USERNAME = /^[A-Za-z0-9_.!~*'()&=+$,;?/-]{1,128}$/;
export const MIN_PASSWORD = 8;

export function AccountsPage() {
  const { user } = useSignedIn();
  const [list, reload] = useAsync(() => listAll(api.accounts.list), []);
  const [creating, setCreating] = useState(false);
  return (
    <section className="page">
      <div className="page-header">
        <h1>Accounts</h1>
        {canManageAccounts(user.role) && (
          <button type="button" className="button button-primary" onClick={() => setCreating(true)} disabled={creating}>
            New account
          </button>
        )}
      </div>
      {creating && <CreateAccount onCancel={() => setCreating(false)} />}
      <ListState
        list={list}
        reload={reload}
        label="Accounts"
        empty={
          <EmptyState title="No SIP accounts yet">
            <p>An account is what a phone or softphone registers with. Create one and point the phone at this switch.</p>
          </EmptyState>
        }
        columns={
          <>
            <th scope="col">Account</th>
            <th scope="col">Display name</th>
            <th scope="col">Outgoing dialplan</th>
            <th scope="col">Incoming dialplan</th>
            <th scope="col">Max calls</th>
          </>
        }
        row={(a) => (
          <tr key={a.id}>
            <td><Link to={`/accounts/${a.id}`}>{a.username}@{a.domain}</Link>{a.disabled && <span className="badge badge-muted">disabled</span>}</td>
            <td>{a.displayName ?? '—'}</td>
            <td>{a.outDialplan ?? '—'}</td>
            <td>{a.inDialplan ?? '—'}</td>
            <td>{a.maxCalls ?? 'no limit'}</td>
          </tr>
        )}
      />
    </section>
  );
}

function CreateAccount({ onCancel }: { onCancel(): void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const found: Record<string, string> = {};
    if (!USERNAME.test(username.trim())) found.username = 'Use 1–128 characters allowed in a SIP user name (letters, digits, . _ - and the like).';
    if (password.length < MIN_PASSWORD) found.password = `At least ${MIN_PASSWORD} characters.`;
    setErrors(found);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      const account = await api.accounts.create({ username: username.trim(), password, ...(displayName.trim() && { displayName: displayName.trim() }) });
      navigate(`/accounts/${account.id}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) setErrors({ username: `${username.trim()} exists already.` });
      else if (error instanceof ApiError && error.field) setErrors({ [error.field]: error.message });
      else setErrors({ form: error instanceof Error ? error.message : String(error) });
      setBusy(false);
    }
  };

  return (
    <form className="card form-inline" onSubmit={submit} aria-label="New account" noValidate>
      <Field label="User name" name="username" autoFocus value={username} onChange={(e) => setUsername(e.target.value)} error={errors.username} hint="e.g. 1001" />
      <Field label="SIP password" name="password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} error={errors.password} hint={`${MIN_PASSWORD} characters or more`} />
      <Field label="Display name" name="displayName" value={displayName} onChange={(e) => setDisplayName(e.target.value)} error={errors.displayName} />
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={busy}>Create</button>
        <button type="button" className="button" onClick={onCancel} disabled={busy}>Cancel</button>
      </div>
      {errors.form && <ErrorBanner error={new Error(errors.form)} />}
    </form>
  );
}
