import { useState, type FormEvent } from 'react';
import { adminApi, listAll, type Provider, type ProviderRegistrationState } from '../api/index.ts';
import { ConfirmDialog, EmptyState, ErrorBanner, Field, formatTime } from '../app/components.tsx';
import { ListState } from '../app/list-state.tsx';
import { CheckField, SelectField, TextAreaField } from '../app/form-controls.tsx';
import { errorsFromApi, RESOURCE_NAME, type FieldErrors } from '../app/form-errors.ts';
import { useAsync } from '../app/use-async.ts';
import { createSettings, NUMBER_FORMAT_LABELS, settingsFieldOf, settingsFormOf, settingsPayload, type NumberFormat, type SettingsForm } from './provider-settings-form.ts';

const SIP_URI = /^sips?:[^\s]+$/i;
const STATE_LABELS: Record<ProviderRegistrationState, { text: string; className: string }> = {
  registered: { text: 'registered', className: 'badge badge-lead badge-ok' },
  registering: { text: 'registering…', className: 'badge badge-lead' },
  unregistered: { text: 'unregistered', className: 'badge badge-lead badge-muted' },
  failed: { text: 'failed', className: 'badge badge-lead badge-danger' },
  'needs-attention': { text: 'needs attention', className: 'badge badge-lead badge-danger' },
};

function RegistrationState({ p }: { p: Provider }) {
  if (!p.register) return <span className="muted">not registering</span>;
  const r = p.registration;
  if (!r) return <span className="badge badge-lead badge-muted">not yet</span>;
  const label = STATE_LABELS[r.state];
  return (
    <span>
      <span className={label.className}>{label.text}</span>
      {r.state === 'registered' && r.expiresAt !== null && <span className="muted"> until {formatTime(r.expiresAt)}</span>}
      {r.lastError && <span className="field-error provider-error"> {r.lastError}</span>}
    </span>
  );
}

/** Providers (trunks): registration state, create, edit and delete; the password is write-only. */
export function ProvidersPage() {
  const [list, reload] = useAsync(() => listAll(adminApi.providers.list), []);
  const [editing, setEditing] = useState<Provider | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Provider | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const remove = async (): Promise<void> => {
    if (!deleting) return;
    setBusy(true);
    try {
      await adminApi.providers.remove(deleting.id);
      if (editing !== 'new' && editing?.id === deleting.id) setEditing(null);
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
          <h1>Providers</h1>
          <p className="muted page-lead">SIP trunks your dialplans reach with <code>number@provider</code>.</p>
        </div>
        <div className="button-row">
          <button type="button" className="button" onClick={reload}>Refresh</button>
          <button type="button" className="button button-primary" onClick={() => setEditing('new')} disabled={editing === 'new'}>New provider</button>
        </div>
      </div>
      {editing !== null && (
        <ProviderForm key={editing === 'new' ? 'new' : editing.id} provider={editing === 'new' ? null : editing} onDone={() => { setEditing(null); reload(); }} onCancel={() => setEditing(null)} />
      )}
      <ListState
        list={list}
        reload={reload}
        label="Providers"
        actionError={error}
        empty={<EmptyState title="No providers yet"><p>Add your carrier's SIP server to call numbers outside the switch.</p></EmptyState>}
        columns={
          <>
            <th scope="col">Name</th>
            <th scope="col">Server</th>
            <th scope="col">User</th>
            <th scope="col">Password</th>
            <th scope="col">Registration</th>
            <th scope="col"><span className="sr-only">Actions</span></th>
          </>
        }
        row={(p) => (
          <tr key={p.id}>
            <td className="mono">{p.name}</td>
            <td className="party">{p.serverUri}{p.outboundProxy && <div className="muted">via {p.outboundProxy}</div>}</td>
            <td>{p.username ?? '—'}</td>
            <td>{p.hasPassword ? 'set' : <span className="muted">none</span>}</td>
            <td><RegistrationState p={p} /></td>
            <td className="cell-actions">
              <div className="button-row button-row-end">
                <button type="button" className="button button-small" onClick={() => setEditing(p)} aria-label={`Edit ${p.name}`}>Edit</button>
                <button type="button" className="button button-small button-danger" onClick={() => setDeleting(p)} aria-label={`Delete ${p.name}`}>Delete</button>
              </div>
            </td>
          </tr>
        )}
      />
      <ConfirmDialog open={deleting !== null} title={`Delete provider ${deleting?.name ?? ''}?`} confirmLabel="Delete provider" danger busy={busy} onConfirm={() => void remove()} onCancel={() => setDeleting(null)}>
        <p>Dial strings naming {deleting?.name} fail from now on, and its registration ends.</p>
      </ConfirmDialog>
    </section>
  );
}

function ProviderForm({ provider, onDone, onCancel }: { provider: Provider | null; onDone(): void; onCancel(): void }) {
  const [f, setF] = useState({
    name: provider?.name ?? '',
    serverUri: provider?.serverUri ?? '',
    outboundProxy: provider?.outboundProxy ?? '',
    username: provider?.username ?? '',
    authUser: provider?.authUser ?? '',
    password: '',
    fromUser: provider?.fromUser ?? '',
    registerExpiry: String(provider?.registerExpiry ?? 3600),
  });
  const [register, setRegister] = useState(provider?.register ?? false);
  const [clearPassword, setClearPassword] = useState(false);
  const [s, setS] = useState<SettingsForm>(() => settingsFormOf(provider));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const set = (key: keyof typeof f) => (e: { target: { value: string } }) => setF({ ...f, [key]: e.target.value });
  const setSetting = (key: Exclude<keyof SettingsForm, 'assertIdentity' | 'numberFormat'>) => (e: { target: { value: string } }) => setS({ ...s, [key]: e.target.value });

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const found: FieldErrors = {};
    if (!provider && !RESOURCE_NAME.test(f.name.trim())) found.name = '1–64 characters of A–Z a–z 0–9 _ . -';
    if (!SIP_URI.test(f.serverUri.trim())) found.serverUri = 'A sip: or sips: URI, e.g. sip:sip.carrier.example';
    if (f.outboundProxy.trim() && !SIP_URI.test(f.outboundProxy.trim())) found.outboundProxy = 'A sip: or sips: URI, or empty.';
    const expiry = Number(f.registerExpiry);
    if (!/^\d+$/.test(f.registerExpiry.trim()) || expiry < 30 || expiry > 86_400) found.registerExpiry = 'Seconds, 30 to 86400.';
    if (f.password.length > 255) found.password = 'At most 255 characters.';
    const settings = settingsPayload(s);
    if (!settings.ok) Object.assign(found, settings.errors);
    setErrors(found);
    if (Object.keys(found).length || !settings.ok) return;
    const { settings: callSettings, customHeaders } = settings.payload;
    const common = {
      serverUri: f.serverUri.trim(),
      outboundProxy: f.outboundProxy.trim() || null,
      username: f.username.trim() || null,
      authUser: f.authUser.trim() || null,
      fromUser: f.fromUser.trim() || null,
      register,
      registerExpiry: expiry,
    };
    setBusy(true);
    try {
      if (provider) {
        // Absent keeps the stored password, null removes it.
        await adminApi.providers.update(provider.id, {
          ...common,
          customHeaders,
          settings: callSettings,
          ...(f.password ? { password: f.password } : clearPassword ? { password: null } : {}),
        });
      } else {
        await adminApi.providers.create({ name: f.name.trim(), ...common, customHeaders, settings: createSettings(callSettings), ...(f.password && { password: f.password }) });
      }
      onDone();
    } catch (error) {
      // A setting's error lands beside its field whichever layer named it (schema or repository).
      const apiErrors = errorsFromApi(error, { field: 'name', message: `A provider named ${f.name.trim()} exists already.` });
      setErrors(Object.fromEntries(Object.entries(apiErrors).map(([field, message]) => [settingsFieldOf(field), message])));
      setBusy(false);
    }
  };

  return (
    <form className="card section" onSubmit={submit} aria-label={provider ? `Edit provider ${provider.name}` : 'New provider'} noValidate>
      <h2>{provider ? `Edit ${provider.name}` : 'New provider'}</h2>
      <div className="form-grid">
        {!provider && <Field label="Name" name="name" autoFocus value={f.name} onChange={set('name')} error={errors.name} hint="used in dial strings: 0800123@name" />}
        <Field label="Server" name="serverUri" value={f.serverUri} onChange={set('serverUri')} error={errors.serverUri} hint="sip:sip.carrier.example" />
        <Field label="Outbound proxy" name="outboundProxy" value={f.outboundProxy} onChange={set('outboundProxy')} error={errors.outboundProxy} hint="optional" />
        <Field label="User name" name="username" autoComplete="off" value={f.username} onChange={set('username')} error={errors.username} />
        <Field label="Auth user" name="authUser" autoComplete="off" value={f.authUser} onChange={set('authUser')} error={errors.authUser} hint="if it differs from the user name" />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          value={f.password}
          onChange={set('password')}
          error={errors.password}
          hint={provider?.hasPassword ? 'stored; leave empty to keep it' : 'write-only: stored encrypted'}
        />
        <Field label="From user" name="fromUser" value={f.fromUser} onChange={set('fromUser')} error={errors.fromUser} hint="caller id user part, optional" />
        <Field label="Registration expiry (s)" name="registerExpiry" inputMode="numeric" value={f.registerExpiry} onChange={set('registerExpiry')} error={errors.registerExpiry} />
      </div>
      <div className="button-row">
        <CheckField label="Register with this provider" checked={register} onChange={setRegister} />
        {provider?.hasPassword && <CheckField label="Remove the stored password" checked={clearPassword} onChange={setClearPassword} />}
      </div>
      <div className="form-group" role="group" aria-labelledby="provider-calls-title">
        <h3 className="form-group-title" id="provider-calls-title">Outgoing calls</h3>
        <div className="form-grid">
          <Field label="From host" name="fromHost" value={s.fromHost} onChange={setSetting('fromHost')} error={errors.fromHost} hint="default: the server's host" />
          <Field label="Display name" name="displayName" value={s.displayName} onChange={setSetting('displayName')} error={errors.displayName} hint="when the call has no caller name" />
          <Field label="Privacy" name="privacy" value={s.privacy} onChange={setSetting('privacy')} error={errors.privacy} hint="RFC 3323, e.g. id or none; empty: no header" />
          <SelectField label="Number format" name="numberFormat" value={s.numberFormat} onChange={(e) => setS({ ...s, numberFormat: e.target.value as NumberFormat })} error={errors.numberFormat}>
            {Object.entries(NUMBER_FORMAT_LABELS).map(([value, label]) => <option key={value} value={value}>{label}</option>)}
          </SelectField>
          <Field label="Country code" name="countryCode" inputMode="numeric" value={s.countryCode} onChange={setSetting('countryCode')} error={errors.countryCode} hint="without +, e.g. 49" />
          <Field label="National prefix" name="nationalPrefix" inputMode="numeric" value={s.nationalPrefix} onChange={setSetting('nationalPrefix')} error={errors.nationalPrefix} hint="default 0" />
          <Field label="International prefix" name="internationalPrefix" inputMode="numeric" value={s.internationalPrefix} onChange={setSetting('internationalPrefix')} error={errors.internationalPrefix} hint="default 00" />
          <Field label="Provisional timeout (ms)" name="provisionalTimeoutMs" inputMode="numeric" value={s.provisionalTimeoutMs} onChange={setSetting('provisionalTimeoutMs')} error={errors.provisionalTimeoutMs} hint="next server after; default 5000, 0 = 32 s" />
          <Field label="Ping interval (s)" name="pingIntervalSeconds" inputMode="numeric" value={s.pingIntervalSeconds} onChange={setSetting('pingIntervalSeconds')} error={errors.pingIntervalSeconds} hint="OPTIONS health pings; empty: none" />
          <Field label="Source networks" name="sourceNetworks" value={s.sourceNetworks} onChange={setSetting('sourceNetworks')} error={errors.sourceNetworks} hint="extra CIDRs its calls come from" />
        </div>
        <CheckField label="Send P-Asserted-Identity" checked={s.assertIdentity} onChange={(assertIdentity) => setS({ ...s, assertIdentity })} />
        <div className="form-grid">
          <TextAreaField label="Custom headers" name="customHeaders" rows={3} spellCheck={false} value={s.customHeaders} onChange={setSetting('customHeaders')} error={errors.customHeaders} placeholder="X-Account: 4930123456" hint="Name: value, one a line; added to every INVITE to this provider" />
        </div>
      </div>
      <div className="button-row">
        <button type="submit" className="button button-primary" disabled={busy}>{provider ? 'Save provider' : 'Add provider'}</button>
        <button type="button" className="button" onClick={onCancel} disabled={busy}>Cancel</button>
      </div>
      {errors.form && <ErrorBanner error={new Error(errors.form)} />}
    </form>
  );
}
