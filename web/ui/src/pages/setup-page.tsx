import { useEffect, useState, type FormEvent } from 'react';
import { adminApi } from '../api/index.ts';
import { Field, Spinner } from '../app/components.tsx';
import { errorsFromApi, MIN_WEB_PASSWORD, type FieldErrors } from '../app/form-errors.ts';
import { navigate } from '../app/router.tsx';
import { useSession } from '../app/session.tsx';

const EMAIL = /^[^\s@]+@[^\s@]+$/;

function tokenFromLink(): string {
  return new URLSearchParams(window.location.hash.slice(1)).get('token') ?? '';
}

/** First run: the link printed at start creates the first operator account here. */
export function SetupPage() {
  const { retry } = useSession();
  const [open, setOpen] = useState<boolean | null>(null);
  const [token, setToken] = useState(tokenFromLink);
  const [showToken] = useState(() => tokenFromLink() === '');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    adminApi.setup.status().then(
      (s) => setOpen(s.open),
      () => setOpen(false),
    );
  }, []);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const found: FieldErrors = {};
    if (!token.trim()) found.token = 'Paste the token from the setup link (or from <data dir>/setup-token).';
    if (!EMAIL.test(email.trim())) found.email = 'An e-mail address such as you@example.com.';
    if (password.length < MIN_WEB_PASSWORD) found.password = `At least ${MIN_WEB_PASSWORD} characters.`;
    else if (again !== password) found.again = 'Does not match the password.';
    setErrors(found);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      await adminApi.setup.createOperator({ token: token.trim(), email: email.trim(), password });
      // Signed in by the answer's cookie: drop the token from the address bar and start the app.
      window.history.replaceState(null, '', '/tenants');
      navigate('/tenants', { replace: true, force: true });
      retry();
    } catch (error) {
      const e = errorsFromApi(error);
      if (e.form?.startsWith('setup is closed')) setOpen(false);
      setErrors(e);
      setBusy(false);
    }
  };

  return (
    <div className="login">
      <form className="login-card" onSubmit={submit} aria-label="Set up Patchbay" noValidate>
        <span className="brand brand-large">
          <span className="brand-mark" aria-hidden="true" />
          Patchbay
        </span>
        <h1>Set up this switch</h1>
        {open === null && <Spinner />}
        {open === false && (
          <div className="banner banner-info" role="status">
            <span>
              This switch is set up already. <a href="/">Sign in</a> instead.
            </span>
          </div>
        )}
        {open && (
          <>
            <p className="muted">Create the operator account: it runs the switch, its tenants and their users.</p>
            {(showToken || errors.token) && (
              <Field label="Setup token" name="token" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} error={errors.token} hint="printed at start, also in <data dir>/setup-token" />
            )}
            <Field label="E-mail" name="email" type="email" autoComplete="username" autoFocus value={email} onChange={(e) => setEmail(e.target.value)} error={errors.email} />
            <Field label="Password" name="password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} error={errors.password} hint={`${MIN_WEB_PASSWORD} characters or more`} />
            <Field label="Password again" name="again" type="password" autoComplete="new-password" value={again} onChange={(e) => setAgain(e.target.value)} error={errors.again} />
            <button type="submit" className="button button-primary button-block" disabled={busy}>
              Create operator account
            </button>
            {errors.form && (
              <div className="banner banner-error" role="alert">
                {errors.form}
              </div>
            )}
          </>
        )}
      </form>
    </div>
  );
}
