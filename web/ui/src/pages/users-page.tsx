import { useState, type FormEvent } from 'react';
import { adminApi, listAll, type Role, type WebUser } from '../api/index.ts';
import { ConfirmDialog, EmptyState, ErrorBanner, Field, formatTime } from '../app/components.tsx';
import { ListState } from '../app/list-state.tsx';
import { SelectField } from '../app/form-controls.tsx';
import { errorsFromApi, MIN_WEB_PASSWORD, type FieldErrors } from '../app/form-errors.ts';
import { useOperatorTenant } from '../app/operator-tenant.tsx';
import { ROLE_LABELS } from '../app/roles.ts';
import { useSignedIn } from '../app/session.tsx';
import { useAsync } from '../app/use-async.ts';

const TENANT_ROLES: readonly Role[] = ['admin', 'receptionist', 'member'];
const ROLE_HINTS: Record<Role, string> = {
  operator: 'runs the whole switch, every tenant',
  admin: 'everything in the tenant',
  receptionist: 'live calls, call control and call records',
  member: 'their own SIP accounts and their dialplans',
};
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** Web users of the tenant (operators: of the tenant they chose, or all): create with a role, change role, disable, remove. */
export function UsersPage() {
  const { user: me } = useSignedIn();
  const operator = useOperatorTenant();
  const tenantFilter = operator.isOperator ? operator.tenantId : null;
  const [list, reload] = useAsync(() => listAll((q) => adminApi.users.list({ ...q, ...(tenantFilter !== null && { tenantId: tenantFilter }) })), [tenantFilter]);
  const [creating, setCreating] = useState(false);
  const [removing, setRemoving] = useState<WebUser | null>(null);
  const [rowError, setRowError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const tenantName = (id: number | null) => (id === null ? 'all tenants' : (operator.tenants.find((t) => t.id === id)?.domain ?? `tenant ${id}`));

  const act = async (work: () => Promise<unknown>): Promise<void> => {
    setBusy(true);
    setRowError(null);
    try {
      await work();
      reload();
    } catch (error) {
      setRowError(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="page">
      <div className="page-header">
        <div>
          <h1>Users</h1>
          <p className="muted page-lead">
            People who sign in to this web app{operator.isOperator ? ` (${tenantFilter === null ? 'every tenant and the operators' : tenantName(tenantFilter)})` : ''}.
          </p>
        </div>
        <button type="button" className="button button-primary" onClick={() => setCreating(true)} disabled={creating}>
          New user
        </button>
      </div>
      {creating && (
        <CreateUser
          isOperator={operator.isOperator}
          tenantId={tenantFilter}
          tenantLabel={tenantName(tenantFilter)}
          onDone={() => {
            setCreating(false);
            reload();
          }}
          onCancel={() => setCreating(false)}
        />
      )}
      <ListState
        list={list}
        reload={reload}
        label="Users"
        actionError={rowError}
        empty={<EmptyState title="No users yet"><p>Create one and hand them their e-mail and first password.</p></EmptyState>}
        columns={
          <>
            <th scope="col">E-mail</th>
            <th scope="col">Role</th>
            {operator.isOperator && <th scope="col">Tenant</th>}
            <th scope="col">2FA</th>
            <th scope="col">Status</th>
            <th scope="col" className="hide-narrow">Created</th>
            <th scope="col"><span className="sr-only">Actions</span></th>
          </>
        }
        row={(u) => {
          const self = u.id === me.id;
          return (
            <tr key={u.id}>
              <td className="party">{u.email}{self && <span className="badge badge-muted">you</span>}</td>
              <td>
                {u.role === 'operator' || self ? (
                  ROLE_LABELS[u.role]
                ) : (
                  <select className="inline-select" aria-label={`Role of ${u.email}`} value={u.role} disabled={busy} onChange={(e) => void act(() => adminApi.users.update(u.id, { role: e.target.value as Role }))}>
                    {TENANT_ROLES.map((r) => <option key={r} value={r}>{ROLE_LABELS[r]}</option>)}
                  </select>
                )}
              </td>
              {operator.isOperator && <td>{u.tenantId === null ? '—' : tenantName(u.tenantId)}</td>}
              <td>{u.totpEnabled ? <span className="badge badge-lead badge-ok">on</span> : <span className="muted">off</span>}</td>
              <td>{u.disabled ? <span className="badge badge-lead badge-muted">disabled</span> : 'active'}</td>
              <td className="nowrap hide-narrow">{formatTime(u.createdAt)}</td>
              <td className="cell-actions">
                {!self && (
                  <div className="button-row button-row-end">
                    {u.totpEnabled && (
                      <button type="button" className="button button-small" disabled={busy} onClick={() => void act(() => adminApi.users.resetTwoFactor(u.id))} aria-label={`Reset 2FA of ${u.email}`}>Reset 2FA</button>
                    )}
                    <button type="button" className="button button-small" disabled={busy} onClick={() => void act(() => adminApi.users.update(u.id, { disabled: !u.disabled }))} aria-label={`${u.disabled ? 'Enable' : 'Disable'} ${u.email}`}>
                      {u.disabled ? 'Enable' : 'Disable'}
                    </button>
                    <button type="button" className="button button-small button-danger" disabled={busy} onClick={() => setRemoving(u)} aria-label={`Remove ${u.email}`}>Remove</button>
                  </div>
                )}
              </td>
            </tr>
          );
        }}
      />
      <ConfirmDialog
        open={removing !== null}
        title={`Remove ${removing?.email ?? ''}?`}
        confirmLabel="Remove user"
        danger
        busy={busy}
        onConfirm={() => {
          const u = removing!;
          setRemoving(null);
          void act(() => adminApi.users.remove(u.id));
        }}
        onCancel={() => setRemoving(null)}
      >
        <p>They are signed out everywhere and their API tokens stop working. Their SIP accounts stay.</p>
      </ConfirmDialog>
    </section>
  );
}

function CreateUser({ isOperator, tenantId, tenantLabel, onDone, onCancel }: { isOperator: boolean; tenantId: number | null; tenantLabel: string; onDone(): void; onCancel(): void }) {
  const roles: readonly Role[] = isOperator ? (tenantId === null ? ['operator'] : TENANT_ROLES) : TENANT_ROLES;
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>(roles.includes('member') ? 'member' : roles[0]!);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const found: FieldErrors = {};
    const e = email.trim().toLowerCase();
    if (!EMAIL.test(e) || e.length < 3 || e.length > 255) found.email = 'An e-mail address such as ana@acme.example.';
    if (password.length < MIN_WEB_PASSWORD) found.password = `At least ${MIN_WEB_PASSWORD} characters.`;
    else if (/[\r\n\0]/.test(password)) found.password = 'One line, please.';
    setErrors(found);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      await adminApi.users.create({ email: e, password, role, ...(isOperator && role !== 'operator' && { tenantId }) });
      onDone();
    } catch (error) {
      setErrors(errorsFromApi(error, { field: 'email', message: `${e} has a user already.` }));
      setBusy(false);
    }
  };

  return (
    <form className="card form-inline" onSubmit={submit} aria-label="New user" noValidate>
      <Field label="E-mail" name="email" type="email" autoComplete="off" autoFocus value={email} onChange={(ev) => setEmail(ev.target.value)} error={errors.email} />
      <Field label="First password" name="password" type="password" autoComplete="new-password" value={password} onChange={(ev) => setPassword(ev.target.value)} error={errors.password} hint={`${MIN_WEB_PASSWORD} characters or more; they change it in their profile`} />
      <SelectField label="Role" name="role" value={role} onChange={(ev) => setRole(ev.target.value as Role)} error={errors.role} hint={ROLE_HINTS[role]}>
        {roles.map((r) => <option key={r} value={r}>{ROLE_LABELS[r]}</option>)}
      </SelectField>
      {isOperator && <p className="muted form-note">{tenantId === null ? 'No tenant chosen: the new user is an operator.' : `In ${tenantLabel}.`}</p>}
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={busy}>Create user</button>
        <button type="button" className="button" onClick={onCancel} disabled={busy}>Cancel</button>
      </div>
      {(errors.form || errors.tenantId) && <ErrorBanner error={new Error(errors.form ?? errors.tenantId)} />}
    </form>
  );
}
