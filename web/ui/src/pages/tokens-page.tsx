import { useState, type FormEvent } from 'react';
import { adminApi, listAll, type ApiTokenInfo, type TokenScope } from '../api/index.ts';
import { ConfirmDialog, EmptyState, ErrorBanner, Field, formatTime } from '../app/components.tsx';
import { ListState } from '../app/list-state.tsx';
import { CheckField, SelectField } from '../app/form-controls.tsx';
import { errorsFromApi, type FieldErrors } from '../app/form-errors.ts';
import { useAsync } from '../app/use-async.ts';

const SCOPES: Array<{ scope: TokenScope; label: string }> = [
  { scope: 'read', label: 'read — GET anything your role may see' },
  { scope: 'write', label: 'write — change settings' },
  { scope: 'calls', label: 'calls — live call control and the event stream' },
];
const DAY = 86_400_000;
const EXPIRY: Record<string, number | null> = { '30': 30 * DAY, '90': 90 * DAY, '365': 365 * DAY, never: null };

/** My API tokens (for scripts): create (the token is shown once), list, revoke. */
export function TokensPage() {
  const [list, reload] = useAsync(() => listAll(adminApi.tokens.list), []);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ token: string; name: string } | null>(null);
  const [revoking, setRevoking] = useState<ApiTokenInfo | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [copied, setCopied] = useState(false);

  const revoke = async (): Promise<void> => {
    if (!revoking) return;
    setBusy(true);
    try {
      await adminApi.tokens.revoke(revoking.id);
      setRevoking(null);
      reload();
    } catch (e) {
      setError(e);
      setRevoking(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="page">
      <div className="page-header">
        <div>
          <h1>API tokens</h1>
          <p className="muted page-lead">Tokens let scripts use the API as you: send <code>Authorization: Bearer &lt;token&gt;</code>.</p>
        </div>
        <button type="button" className="button button-primary" onClick={() => { setCreated(null); setCreating(true); }} disabled={creating}>New token</button>
      </div>
      {created && (
        <div className="banner banner-info token-once" role="region" aria-label="New token">
          <div className="section">
            <strong>Copy the token “{created.name}” now — it is shown only this once.</strong>
            <code className="mono token-value" data-testid="new-token">{created.token}</code>
          </div>
          <div className="button-row">
            <button type="button" className="button button-small" onClick={() => void navigator.clipboard?.writeText(created.token).then(() => setCopied(true), () => setCopied(false))}>
              {copied ? 'Copied' : 'Copy'}
            </button>
            <button type="button" className="button button-small" onClick={() => setCreated(null)}>Done</button>
          </div>
        </div>
      )}
      {creating && (
        <CreateToken
          onCreated={(token, name) => {
            setCreating(false);
            setCopied(false);
            setCreated({ token, name });
            reload();
          }}
          onCancel={() => setCreating(false)}
        />
      )}
      <ListState
        list={list}
        reload={reload}
        label="API tokens"
        actionError={error}
        empty={<EmptyState title="No API tokens"><p>Create one for a script or an integration; give it only the scopes it needs.</p></EmptyState>}
        columns={
          <>
            <th scope="col">Name</th>
            <th scope="col">Scopes</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">Expires</th>
            <th scope="col"><span className="sr-only">Actions</span></th>
          </>
        }
        row={(t) => (
          <tr key={t.id}>
            <td>{t.name}</td>
            <td>{t.scopes.map((s) => <span key={s} className="badge badge-lead badge-muted">{s}</span>)}</td>
            <td className="nowrap">{formatTime(t.createdAt)}</td>
            <td className="nowrap">{t.lastUsedAt === null ? <span className="muted">never</span> : formatTime(t.lastUsedAt)}</td>
            <td className="nowrap">{t.expiresAt === null ? 'never' : formatTime(t.expiresAt)}</td>
            <td className="cell-actions">
              <button type="button" className="button button-small button-danger" onClick={() => setRevoking(t)} aria-label={`Revoke ${t.name}`}>Revoke</button>
            </td>
          </tr>
        )}
      />
      <ConfirmDialog open={revoking !== null} title={`Revoke “${revoking?.name ?? ''}”?`} confirmLabel="Revoke token" danger busy={busy} onConfirm={() => void revoke()} onCancel={() => setRevoking(null)}>
        <p>Scripts using it get 401 from now on.</p>
      </ConfirmDialog>
    </section>
  );
}

function CreateToken({ onCreated, onCancel }: { onCreated(token: string, name: string): void; onCancel(): void }) {
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<TokenScope[]>(['read']);
  const [expiry, setExpiry] = useState('90');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const found: FieldErrors = {};
    if (!name.trim() || name.length > 255) found.name = 'Give it a name (1–255 characters) that says where it is used.';
    if (scopes.length === 0) found.scopes = 'Pick at least one scope.';
    setErrors(found);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      const lifetime = EXPIRY[expiry];
      const result = await adminApi.tokens.create({ name: name.trim(), scopes, expiresAt: lifetime === null || lifetime === undefined ? null : Date.now() + lifetime });
      onCreated(result.token, result.tokenInfo.name);
    } catch (error) {
      setErrors(errorsFromApi(error));
      setBusy(false);
    }
  };

  return (
    <form className="card section" onSubmit={submit} aria-label="New token" noValidate>
      <div className="form-inline">
        <Field label="Name" name="name" autoFocus value={name} onChange={(e) => setName(e.target.value)} error={errors.name} hint="e.g. CRM integration" />
        <SelectField label="Expires" name="expiry" value={expiry} onChange={(e) => setExpiry(e.target.value)} error={errors.expiresAt}>
          <option value="30">in 30 days</option>
          <option value="90">in 90 days</option>
          <option value="365">in a year</option>
          <option value="never">never</option>
        </SelectField>
      </div>
      <fieldset className={`fieldset${errors.scopes ? ' field-invalid' : ''}`} aria-describedby={errors.scopes ? 'token-scopes-error' : undefined}>
        <legend>Scopes</legend>
        {SCOPES.map(({ scope, label }) => (
          <CheckField key={scope} name={`scope-${scope}`} label={label} checked={scopes.includes(scope)} onChange={(on) => setScopes(on ? [...scopes, scope] : scopes.filter((s) => s !== scope))} />
        ))}
        {errors.scopes && <small className="field-error" id="token-scopes-error" role="alert">{errors.scopes}</small>}
      </fieldset>
      <div className="button-row">
        <button type="submit" className="button button-primary" disabled={busy}>Create token</button>
        <button type="button" className="button" onClick={onCancel} disabled={busy}>Cancel</button>
      </div>
      {errors.form && <ErrorBanner error={new Error(errors.form)} />}
    </form>
  );
}
