import { useState, type FormEvent } from 'react';
import { adminApi, type TwoFactorEnrolment } from '../api/index.ts';
import { ErrorBanner, Field, Spinner, formatTime } from '../app/components.tsx';
import { Saved } from '../app/form-controls.tsx';
import { errorsFromApi, MIN_WEB_PASSWORD, type FieldErrors } from '../app/form-errors.ts';
import { ROLE_LABELS } from '../app/roles.ts';
import { useSession, useSignedIn } from '../app/session.tsx';
import { useAsync } from '../app/use-async.ts';

/** My profile: password, two-factor sign-in (enrol with a QR code, disable), my browser sessions. */
export function ProfilePage() {
  const { user } = useSignedIn();
  return (
    <section className="page">
      <div className="page-header">
        <div>
          <h1>My profile</h1>
          <p className="muted page-lead">
            {user.email} · {ROLE_LABELS[user.role]}
          </p>
        </div>
      </div>
      <div className="profile-grid">
        <ChangePassword />
        <TwoFactor />
      </div>
      <Sessions />
    </section>
  );
}

function ChangePassword() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setSaved(null);
    const found: FieldErrors = {};
    if (!current) found.currentPassword = 'Enter your current password.';
    if (next.length < MIN_WEB_PASSWORD) found.newPassword = `At least ${MIN_WEB_PASSWORD} characters.`;
    else if (next.length > 256) found.newPassword = 'At most 256 characters.';
    else if (/[\r\n\0]/.test(next)) found.newPassword = 'One line, please.';
    if (!found.newPassword && again !== next) found.again = 'Does not match the new password.';
    setErrors(found);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      await adminApi.me.changePassword(current, next);
      setCurrent('');
      setNext('');
      setAgain('');
      setSaved('Password changed. Your other sessions were signed out.');
    } catch (error) {
      setErrors(errorsFromApi(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card section" onSubmit={submit} aria-label="Change password" noValidate>
      <h2>Password</h2>
      <Field label="Current password" name="currentPassword" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} error={errors.currentPassword} />
      <Field label="New password" name="newPassword" type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} error={errors.newPassword} hint={`${MIN_WEB_PASSWORD} characters or more`} />
      <Field label="New password again" name="again" type="password" autoComplete="new-password" value={again} onChange={(e) => setAgain(e.target.value)} error={errors.again} />
      <div className="button-row">
        <button type="submit" className="button button-primary" disabled={busy}>Change password</button>
      </div>
      <Saved text={saved} />
      {errors.form && <ErrorBanner error={new Error(errors.form)} />}
    </form>
  );
}

function TwoFactor() {
  const [status, reload] = useAsync(() => adminApi.me.twoFactor(), []);
  const [enrolment, setEnrolment] = useState<TwoFactorEnrolment | null>(null);
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const [recovery, setRecovery] = useState<string[] | null>(null);
  const [disabling, setDisabling] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const s = status.data;

  const run = async (work: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setErrors({});
    try {
      await work();
    } catch (error) {
      setErrors(errorsFromApi(error));
    } finally {
      setBusy(false);
    }
  };

  const confirm = (event: FormEvent): void => {
    event.preventDefault();
    if (!/^\d{6}$/.test(code.trim())) {
      setErrors({ code: 'The 6 digits your authenticator app shows.' });
      return;
    }
    void run(async () => {
      const result = await adminApi.me.confirmTwoFactor(code.trim());
      setRecovery(result.recoveryCodes);
      setEnrolment(null);
      setCode('');
      reload();
    });
  };

  const disable = (event: FormEvent): void => {
    event.preventDefault();
    if (!password) {
      setErrors({ password: 'Enter your password to turn two-factor sign-in off.' });
      return;
    }
    void run(async () => {
      await adminApi.me.disableTwoFactor(password);
      setPassword('');
      setDisabling(false);
      setRecovery(null);
      reload();
    });
  };

  return (
    <div className="card section" role="region" aria-label="Two-factor sign-in">
      <h2>Two-factor sign-in</h2>
      {status.status === 'error' && <ErrorBanner error={status.error} onRetry={reload} />}
      {!s && status.status === 'loading' && <Spinner />}
      {s && (
        <p data-testid="2fa-state">
          {s.enabled ? <><span className="badge badge-lead badge-ok">on</span> Sign-in asks for a code from your authenticator app. {s.recoveryCodesLeft} recovery codes left.</> : <><span className="badge badge-lead badge-muted">off</span> Sign-in needs only your password.</>}
          {s.requiredByTenant && <span className="muted"> Your company requires it.</span>}
        </p>
      )}
      {recovery && (
        <div className="banner banner-info recovery" role="region" aria-label="Recovery codes">
          <div className="section">
            <strong>Save these recovery codes now — they are shown only once.</strong>
            <span>Each one signs you in once if you lose your phone.</span>
            <ul className="recovery-codes mono" data-testid="recovery-codes">
              {recovery.map((c) => <li key={c}>{c}</li>)}
            </ul>
          </div>
          <button type="button" className="button button-small" onClick={() => setRecovery(null)}>I saved them</button>
        </div>
      )}
      {s && !s.enabled && !enrolment && (
        <div className="button-row">
          <button type="button" className="button button-primary" disabled={busy} onClick={() => void run(async () => setEnrolment(await adminApi.me.enrolTwoFactor()))}>Set up two-factor sign-in</button>
        </div>
      )}
      {enrolment && (
        <form className="section" onSubmit={confirm} aria-label="Confirm two-factor sign-in" noValidate>
          <p>Scan this code with an authenticator app (or type the key), then enter the 6 digits it shows.</p>
          <div className="enrol">
            <img src={enrolment.qrCodeDataUrl} alt="QR code of your two-factor secret" width={168} height={168} className="qr" />
            <div className="section">
              <span className="field-hint">Key</span>
              <code className="mono" data-testid="totp-secret">{enrolment.secret}</code>
            </div>
          </div>
          <Field label="Code" name="code" inputMode="numeric" autoComplete="one-time-code" maxLength={6} autoFocus value={code} onChange={(e) => setCode(e.target.value)} error={errors.code} />
          <div className="button-row">
            <button type="submit" className="button button-primary" disabled={busy}>Turn on</button>
            <button type="button" className="button" onClick={() => setEnrolment(null)} disabled={busy}>Cancel</button>
          </div>
        </form>
      )}
      {s?.enabled && !disabling && (
        <div className="button-row">
          <button type="button" className="button button-danger" onClick={() => setDisabling(true)} disabled={s.requiredByTenant}>Turn off</button>
        </div>
      )}
      {s?.enabled && disabling && (
        <form className="section" onSubmit={disable} aria-label="Turn off two-factor sign-in" noValidate>
          <Field label="Your password" name="password" type="password" autoComplete="current-password" autoFocus value={password} onChange={(e) => setPassword(e.target.value)} error={errors.password} />
          <div className="button-row">
            <button type="submit" className="button button-danger" disabled={busy}>Turn off two-factor sign-in</button>
            <button type="button" className="button" onClick={() => setDisabling(false)} disabled={busy}>Cancel</button>
          </div>
        </form>
      )}
      {errors.form && <ErrorBanner error={new Error(errors.form)} />}
    </div>
  );
}

/** A short "Chrome on Linux" from a user agent, else the raw text. */
function browserOf(ua: string | null): string {
  if (!ua) return 'unknown browser';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : null;
  const os = /Windows/.test(ua) ? 'Windows' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : null;
  return browser ? `${browser}${os ? ` on ${os}` : ''}` : ua.slice(0, 60);
}

function Sessions() {
  const { logout } = useSession();
  const [list, reload] = useAsync(() => adminApi.me.sessions(), []);
  const [revoking, setRevoking] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const items = list.data?.items ?? [];
  const revoke = async (id: number, current: boolean): Promise<void> => {
    if (current) {
      await logout();
      return;
    }
    setRevoking(id);
    try {
      await adminApi.me.revokeSession(id);
      reload();
    } catch (e) {
      setError(e);
    } finally {
      setRevoking(null);
    }
  };
  return (
    <div className="section">
      <h2>My sessions</h2>
      {list.status === 'error' && <ErrorBanner error={list.error} onRetry={reload} />}
      {error !== null && <ErrorBanner error={error} />}
      {list.status === 'loading' && !list.data && <Spinner />}
      {items.length > 0 && (
        <div className="table-wrap">
          <table className="table" aria-label="My sessions">
            <thead>
              <tr>
                <th scope="col">Browser</th>
                <th scope="col">From</th>
                <th scope="col">Signed in</th>
                <th scope="col">Last active</th>
                <th scope="col">Expires</th>
                <th scope="col"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {items.map((s) => (
                <tr key={s.id}>
                  <td>{browserOf(s.userAgent)}{s.current && <span className="badge">this browser</span>}</td>
                  <td className="mono nowrap">{s.sourceAddress ?? "—"}</td>
                  <td>{formatTime(s.createdAt)}</td>
                  <td>{formatTime(s.lastSeenAt)}</td>
                  <td>{formatTime(s.expiresAt)}</td>
                  <td className="cell-actions">
                    <button type="button" className="button button-small button-danger" disabled={revoking === s.id} onClick={() => void revoke(s.id, s.current)} aria-label={s.current ? 'Sign out this browser' : `Revoke session ${s.id}`}>
                      {s.current ? 'Sign out' : 'Revoke'}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

