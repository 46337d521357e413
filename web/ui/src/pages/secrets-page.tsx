import { useState, type FormEvent } from 'react';
import { adminApi, listAll, type SecretInfo } from '../api/index.ts';
import { ConfirmDialog, EmptyState, ErrorBanner, Field, formatTime } from '../app/components.tsx';
import { ListState } from '../app/list-state.tsx';
import { errorsFromApi, RESOURCE_NAME, type FieldErrors } from '../app/form-errors.ts';
import { useAsync } from '../app/use-async.ts';

/** Same bound as the API (SECRET_MAX_VALUE_LENGTH). */
const MAX_VALUE = 4096;

/** Tenant secrets: values are write-only (dialplans read them with sys.Secret); names and dates are listed. */
export function SecretsPage() {
  const [list, reload] = useAsync(() => listAll(adminApi.secrets.list), []);
  const [replacing, setReplacing] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<SecretInfo | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const remove = async (): Promise<void> => {
    if (!deleting) return;
    setBusy(true);
    try {
      await adminApi.secrets.remove(deleting.name);
      reload();
    } catch (e) {
      setError(e);
    } finally {
      setDeleting(null);
      setBusy(false);
    }
  };

  return (
    <section className="page">
      <div className="page-header">
        <div>
          <h1>Secrets</h1>
          <p className="muted page-lead">
            API keys and passwords your dialplans need, read with <code>await sys.Secret("name")</code> so they never sit in dialplan text. Values cannot be read back here.
          </p>
        </div>
      </div>
      <SetSecret key={replacing ?? ''} initialName={replacing ?? ''} onSaved={() => { setReplacing(null); reload(); }} />
      <ListState
        list={list}
        reload={reload}
        label="Secrets"
        actionError={error}
        empty={<EmptyState title="No secrets yet"><p>Set one above, then read it in a dialplan: <code>const key = await sys.Secret("crm-key");</code></p></EmptyState>}
        columns={
          <>
            <th scope="col">Name</th>
            <th scope="col">Value</th>
            <th scope="col">Created</th>
            <th scope="col">Changed</th>
            <th scope="col"><span className="sr-only">Actions</span></th>
          </>
        }
        row={(s) => (
          <tr key={s.name}>
            <td className="mono">{s.name}</td>
            <td className="muted" aria-label="hidden">••••••••</td>
            <td className="nowrap">{formatTime(s.createdAt)}</td>
            <td className="nowrap">{formatTime(s.updatedAt)}</td>
            <td className="cell-actions">
              <div className="button-row button-row-end">
                <button type="button" className="button button-small" onClick={() => setReplacing(s.name)} aria-label={`Replace ${s.name}`}>Replace</button>
                <button type="button" className="button button-small button-danger" onClick={() => setDeleting(s)} aria-label={`Delete ${s.name}`}>Delete</button>
              </div>
            </td>
          </tr>
        )}
      />
      <ConfirmDialog open={deleting !== null} title={`Delete secret ${deleting?.name ?? ''}?`} confirmLabel="Delete secret" danger busy={busy} onConfirm={() => void remove()} onCancel={() => setDeleting(null)}>
        <p>Dialplans calling <code>sys.Secret("{deleting?.name}")</code> get nothing from now on.</p>
      </ConfirmDialog>
    </section>
  );
}

function SetSecret({ initialName, onSaved }: { initialName: string; onSaved(): void }) {
  const [name, setName] = useState(initialName);
  const [value, setValue] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setSaved(null);
    const found: FieldErrors = {};
    if (!RESOURCE_NAME.test(name.trim())) found.name = '1–64 characters of A–Z a–z 0–9 _ . -';
    if (value.length < 1) found.value = 'Enter the value to store.';
    else if (value.length > MAX_VALUE) found.value = `At most ${MAX_VALUE} characters.`;
    setErrors(found);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      await adminApi.secrets.put(name.trim(), value);
      setSaved(`Secret ${name.trim()} saved.`);
      setValue('');
      setName('');
      onSaved();
    } catch (error) {
      setErrors(errorsFromApi(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card form-inline" onSubmit={submit} aria-label="Set a secret" noValidate>
      <Field label="Name" name="name" value={name} autoFocus={initialName !== ''} onChange={(e) => setName(e.target.value)} error={errors.name} hint="e.g. crm-key" />
      <Field label="Value" name="value" type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} error={errors.value} hint={initialName ? `replaces the stored value of ${initialName}` : 'write-only: stored encrypted'} />
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={busy}>{initialName ? 'Replace' : 'Set secret'}</button>
        <span className="ok" role="status" aria-live="polite">{saved ?? ''}</span>
      </div>
      {errors.form && <ErrorBanner error={new Error(errors.form)} />}
    </form>
  );
}
