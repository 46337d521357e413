import { useState, type FormEvent } from 'react';
import { adminApi, listAll, type Tenant } from '../api/index.ts';
import { ConfirmDialog, EmptyState, ErrorBanner, Field, formatTime } from '../app/components.tsx';
import { ListState } from '../app/list-state.tsx';
import { CheckField, Saved } from '../app/form-controls.tsx';
import { DOMAIN_NAME, errorsFromApi, type FieldErrors } from '../app/form-errors.ts';
import { useAsync } from '../app/use-async.ts';
import { navigate } from '../app/router.tsx';
import { useOperatorTenant } from '../app/operator-tenant.tsx';

/** Splits "a.test, b.test c.test" into domains. */
function domainsOf(text: string): string[] {
  return text.split(/[\s,]+/).map((d) => d.trim().toLowerCase()).filter(Boolean);
}

/** Tenants (operators only): create with domain and aliases, edit, delete with confirmation. */
export function TenantsPage() {
  const [list, reload] = useAsync(() => listAll(adminApi.tenants.list), []);
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<number | null>(null);
  const [deleting, setDeleting] = useState<Tenant | null>(null);
  const [deleteError, setDeleteError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const { refreshTenants, choose } = useOperatorTenant();
  const items = list.data?.items ?? [];
  const changed = (): void => {
    reload();
    refreshTenants();
  };

  const remove = async (): Promise<void> => {
    if (!deleting) return;
    setBusy(true);
    try {
      await adminApi.tenants.remove(deleting.id);
      setDeleting(null);
      setEditing(null);
      changed();
    } catch (error) {
      setDeleteError(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="page">
      <div className="page-header">
        <div>
          <h1>Tenants</h1>
          <p className="muted page-lead">Each tenant is a company with its own SIP domain, accounts, dialplans and users.</p>
        </div>
        <button type="button" className="button button-primary" onClick={() => setCreating(true)} disabled={creating}>
          New tenant
        </button>
      </div>
      {creating && (
        <CreateTenant
          onDone={() => {
            setCreating(false);
            changed();
          }}
          onCancel={() => setCreating(false)}
        />
      )}
      <ListState
        list={list}
        reload={reload}
        label="Tenants"
        empty={
          <EmptyState title="No tenants yet">
            <p>Create the first one with its SIP domain (the host part phones register to, e.g. acme.example).</p>
          </EmptyState>
        }
        columns={
          <>
            <th scope="col">Domain</th>
            <th scope="col">Name</th>
            <th scope="col">Aliases</th>
            <th scope="col">2FA</th>
            <th scope="col" className="hide-narrow">Created</th>
            <th scope="col"><span className="sr-only">Actions</span></th>
          </>
        }
        row={(t) => (
          <tr key={t.id}>
            <td className="party">{t.domain}</td>
            <td>{t.name}</td>
            <td className="party">{t.aliases.length ? t.aliases.join(', ') : '—'}</td>
            <td>{t.require2fa ? <span className="badge badge-lead badge-ok">required</span> : <span className="muted">optional</span>}</td>
            <td className="nowrap hide-narrow">{formatTime(t.createdAt)}</td>
            <td className="cell-actions">
              <div className="button-row button-row-end">
                <button type="button" className="button button-small" onClick={() => { choose(t.id); navigate('/accounts'); }} aria-label={`Work on ${t.domain}`} title="Work on this tenant: its accounts, dialplans, providers and more">
                  Open
                </button>
                <button type="button" className="button button-small" aria-expanded={editing === t.id} onClick={() => setEditing(editing === t.id ? null : t.id)} aria-label={`Edit ${t.domain}`}>
                  Edit
                </button>
                <button type="button" className="button button-small button-danger" onClick={() => { setDeleteError(null); setDeleting(t); }} aria-label={`Delete ${t.domain}`}>
                  Delete
                </button>
              </div>
            </td>
          </tr>
        )}
      />
      {editing !== null && items.find((t) => t.id === editing) && (
        <EditTenant key={editing} tenant={items.find((t) => t.id === editing)!} onChanged={changed} onClose={() => setEditing(null)} />
      )}
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete ${deleting?.domain ?? ''}?`}
        confirmLabel="Delete tenant"
        danger
        busy={busy}
        onConfirm={() => void remove()}
        onCancel={() => setDeleting(null)}
      >
        <p>
          This removes the tenant with all its SIP accounts, dialplans, providers, users, secrets and call records. Phones of{' '}
          {deleting?.domain} stop working at once. It cannot be undone.
        </p>
        {deleteError !== null && <ErrorBanner error={deleteError} />}
      </ConfirmDialog>
    </section>
  );
}

function CreateTenant({ onDone, onCancel }: { onDone(): void; onCancel(): void }) {
  const [domain, setDomain] = useState('');
  const [name, setName] = useState('');
  const [aliases, setAliases] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const found: FieldErrors = {};
    const d = domain.trim().toLowerCase();
    if (!DOMAIN_NAME.test(d)) found.domain = 'A domain name such as acme.example (letters, digits, dots and hyphens).';
    if (name.length > 255) found.name = 'At most 255 characters.';
    const bad = domainsOf(aliases).find((a) => !DOMAIN_NAME.test(a));
    if (bad) found.aliases = `"${bad}" is not a domain name.`;
    setErrors(found);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      const tenant = await adminApi.tenants.create({ domain: d, ...(name.trim() && { name: name.trim() }) });
      for (const alias of domainsOf(aliases)) {
        try {
          await adminApi.tenants.addAlias(tenant.id, alias);
        } catch (error) {
          // The tenant exists now; say which alias failed and leave the form for another try in Edit.
          setErrors({ aliases: `Tenant created, but alias ${alias} was refused: ${errorsFromApi(error).domain ?? errorsFromApi(error).form ?? 'duplicate'}` });
          setBusy(false);
          return;
        }
      }
      onDone();
    } catch (error) {
      setErrors(errorsFromApi(error, { field: 'domain', message: `${d} is taken by a tenant already.` }));
      setBusy(false);
    }
  };

  return (
    <form className="card form-inline" onSubmit={submit} aria-label="New tenant" noValidate>
      <Field label="SIP domain" name="domain" autoFocus value={domain} onChange={(e) => setDomain(e.target.value)} error={errors.domain} hint="e.g. acme.example" />
      <Field label="Name" name="name" value={name} onChange={(e) => setName(e.target.value)} error={errors.name} hint="defaults to the domain" />
      <Field label="Aliases" name="aliases" value={aliases} onChange={(e) => setAliases(e.target.value)} error={errors.aliases} hint="other domains, comma separated" />
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={busy}>Create</button>
        <button type="button" className="button" onClick={onCancel} disabled={busy}>Cancel</button>
      </div>
      {errors.form && <ErrorBanner error={new Error(errors.form)} />}
    </form>
  );
}

function EditTenant({ tenant, onChanged, onClose }: { tenant: Tenant; onChanged(): void; onClose(): void }) {
  const [name, setName] = useState(tenant.name);
  const [require2fa, setRequire2fa] = useState(tenant.require2fa);
  const [cdrDays, setCdrDays] = useState(String(tenant.cdrRetentionDays));
  const [auditDays, setAuditDays] = useState(String(tenant.auditRetentionDays));
  const [alias, setAlias] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const days = (text: string): number | null => (/^\d{1,5}$/.test(text.trim()) && Number(text) >= 1 && Number(text) <= 36_500 ? Number(text) : null);

  const save = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setSaved(null);
    const found: FieldErrors = {};
    if (!name.trim() || name.length > 255) found.name = '1–255 characters.';
    if (days(cdrDays) === null) found.cdrRetentionDays = 'Whole days, 1 to 36500.';
    if (days(auditDays) === null) found.auditRetentionDays = 'Whole days, 1 to 36500.';
    setErrors(found);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      await adminApi.tenants.update(tenant.id, { name: name.trim(), require2fa, cdrRetentionDays: days(cdrDays)!, auditRetentionDays: days(auditDays)! });
      setSaved('Saved.');
      onChanged();
    } catch (error) {
      setErrors(errorsFromApi(error));
    } finally {
      setBusy(false);
    }
  };

  const addAlias = async (): Promise<void> => {
    const a = alias.trim().toLowerCase();
    if (!DOMAIN_NAME.test(a)) {
      setErrors({ alias: 'A domain name such as acme-corp.example.' });
      return;
    }
    setBusy(true);
    try {
      await adminApi.tenants.addAlias(tenant.id, a);
      setAlias('');
      setErrors({});
      onChanged();
    } catch (error) {
      const e = errorsFromApi(error, { field: 'alias', message: `${a} is in use already.` });
      setErrors(e.domain ? { alias: e.domain } : e);
    } finally {
      setBusy(false);
    }
  };

  const removeAlias = async (domain: string): Promise<void> => {
    setBusy(true);
    try {
      await adminApi.tenants.removeAlias(tenant.id, domain);
      onChanged();
    } catch (error) {
      setErrors(errorsFromApi(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="card section" role="region" aria-label={`Edit ${tenant.domain}`}>
      <div className="page-header">
        <h2>{tenant.domain}</h2>
        <button type="button" className="button button-small" onClick={onClose}>Close</button>
      </div>
      <form className="form-grid" onSubmit={save} aria-label="Tenant settings" noValidate>
        <Field label="Name" name="name" value={name} onChange={(e) => setName(e.target.value)} error={errors.name} />
        <Field label="Keep call records (days)" name="cdrRetentionDays" inputMode="numeric" value={cdrDays} onChange={(e) => setCdrDays(e.target.value)} error={errors.cdrRetentionDays} />
        <Field label="Keep audit log (days)" name="auditRetentionDays" inputMode="numeric" value={auditDays} onChange={(e) => setAuditDays(e.target.value)} error={errors.auditRetentionDays} />
        <CheckField label="Require two-factor sign-in for its users" checked={require2fa} onChange={setRequire2fa} />
        <div className="form-actions form-actions-tight">
          <button type="submit" className="button button-primary" disabled={busy}>Save tenant</button>
          <Saved text={saved} />
        </div>
      </form>
      <div className="section">
        <h3>Domain aliases</h3>
        {tenant.aliases.length === 0 && <p className="muted">No aliases: phones use {tenant.domain} only.</p>}
        {tenant.aliases.length > 0 && (
          <ul className="chip-list" aria-label="Aliases">
            {tenant.aliases.map((a) => (
              <li key={a} className="chip">
                {a}
                <button type="button" className="chip-remove" onClick={() => void removeAlias(a)} disabled={busy} aria-label={`Remove alias ${a}`}>×</button>
              </li>
            ))}
          </ul>
        )}
        <div className="form-inline">
          <Field label="New alias" name="alias" value={alias} onChange={(e) => setAlias(e.target.value)} error={errors.alias} onKeyDown={(e) => { if (e.key === 'Enter') { e.preventDefault(); void addAlias(); } }} />
          <div className="form-actions">
            <button type="button" className="button" onClick={() => void addAlias()} disabled={busy}>Add alias</button>
          </div>
        </div>
        {errors.form && <ErrorBanner error={new Error(errors.form)} />}
      </div>
    </div>
  );
}
