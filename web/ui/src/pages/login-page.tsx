import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/index.ts';
import { Field } from '../app/components.tsx';
import { useSession } from '../app/session.tsx';

type Step = 'password' | 'two-factor';

export function LoginPage({ expired }: { expired: boolean }) {
  const { login } = useSession();
  const [step, setStep] = useState<Step>('password');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [useRecovery, setUseRecovery] = useState(false);
  const [error, setError] = useState<{ message: string; field?: string } | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const second = step === 'two-factor' ? (useRecovery ? { recoveryCode: code.trim() } : { totp: code.trim() }) : {};
      await login({ email: email.trim(), password, ...second });
    } catch (err) {
      if (err instanceof ApiError && err.twoFactorRequired) {
        if (step === 'two-factor') setError({ message: 'That code is not valid. Check the time on your device and try again.', field: 'totp' });
        setStep('two-factor');
        setCode('');
      } else if (err instanceof ApiError && err.status === 401) {
        setError({ message: 'E-mail or password is wrong.' });
      } else if (err instanceof ApiError && err.status === 429) {
        setError({ message: 'Too many attempts. Wait a minute before trying again.' });
      } else if (err instanceof ApiError) {
        setError({ message: err.message, field: err.field });
      } else {
        setError({ message: 'Cannot reach the switch. Check your connection and try again.' });
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login">
      <form className="login-card" onSubmit={submit} noValidate aria-labelledby="login-title">
        <div className="brand brand-large" aria-hidden="true">
          <span className="brand-mark" />
          Patchbay
        </div>
        <h1 id="login-title">{step === 'password' ? 'Sign in' : 'Two-factor code'}</h1>
        {expired && step === 'password' && !error && (
          <p className="banner banner-info" role="status">
            Your session ended. Sign in again to continue.
          </p>
        )}
        {error && !error.field && (
          <p className="banner banner-error" role="alert">
            {error.message}
          </p>
        )}
        {step === 'password' ? (
          <>
            <Field label="E-mail" type="email" name="email" autoComplete="username" required autoFocus value={email} onChange={(e) => setEmail(e.target.value)} error={error?.field === 'email' ? error.message : null} />
            <Field label="Password" type="password" name="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} error={error?.field === 'password' ? error.message : null} />
          </>
        ) : (
          <>
            <p className="muted">
              {useRecovery ? 'Enter one of your recovery codes. Each works once.' : 'Enter the 6-digit code from your authenticator app.'}
            </p>
            <Field
              // Mounted when the step changes, so the code field takes the focus at once.
              autoFocus
              key={useRecovery ? 'recovery' : 'totp'}
              label={useRecovery ? 'Recovery code' : 'Authentication code'}
              name={useRecovery ? 'recoveryCode' : 'totp'}
              inputMode={useRecovery ? 'text' : 'numeric'}
              autoComplete="one-time-code"
              pattern={useRecovery ? undefined : '[0-9]{6}'}
              maxLength={useRecovery ? 64 : 6}
              required
              value={code}
              onChange={(e) => setCode(e.target.value)}
              error={error?.field ? error.message : null}
            />
            <button type="button" className="link-button" onClick={() => { setUseRecovery(!useRecovery); setCode(''); setError(null); }}>
              {useRecovery ? 'Use an authenticator code instead' : 'Use a recovery code instead'}
            </button>
          </>
        )}
        <button type="submit" className="button button-primary button-block" disabled={busy || !email || !password || (step === 'two-factor' && !code.trim())}>
          {busy ? 'Signing in…' : step === 'password' ? 'Sign in' : 'Verify'}
        </button>
        {step === 'two-factor' && (
          <button type="button" className="link-button" onClick={() => { setStep('password'); setError(null); setCode(''); }}>
            Back
          </button>
        )}
      </form>
    </main>
  );
}
