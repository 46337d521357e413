import { useId, type ReactNode, type SelectHTMLAttributes, type TextareaHTMLAttributes } from 'react';

/** A labelled select with its error beside it, styled like Field. */
export function SelectField({
  label,
  error,
  hint,
  children,
  ...select
}: SelectHTMLAttributes<HTMLSelectElement> & { label: string; error?: string | null; hint?: string; children: ReactNode }) {
  const id = useId();
  const errorId = `${id}-error`;
  return (
    <div className={`field${error ? ' field-invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      <select id={id} aria-invalid={error ? true : undefined} aria-describedby={error ? errorId : undefined} {...select}>
        {children}
      </select>
      {hint && !error && <small className="field-hint">{hint}</small>}
      {error && (
        <small className="field-error" id={errorId} role="alert">
          {error}
        </small>
      )}
    </div>
  );
}

/** A checkbox with its label to the right. */
export function CheckField({ label, checked, onChange, name }: { label: string; checked: boolean; onChange(value: boolean): void; name?: string }) {
  const id = useId();
  return (
    <div className="check-field">
      <input id={id} type="checkbox" name={name} checked={checked} onChange={(e) => onChange(e.target.checked)} />
      <label htmlFor={id}>{label}</label>
    </div>
  );
}

/** A short-lived "Saved." line for screen readers and eyes. */
export function Saved({ text }: { text: string | null }) {
  return (
    <span className="ok saved-note" role="status" aria-live="polite">
      {text ?? ''}
    </span>
  );
}

/** A labelled multi-line input with its error beside it, styled like Field; spans the form grid. */
export function TextAreaField({ label, error, hint, ...textarea }: TextareaHTMLAttributes<HTMLTextAreaElement> & { label: string; error?: string | null; hint?: string }) {
  const id = useId();
  const errorId = `${id}-error`;
  return (
    <div className={`field field-wide${error ? ' field-invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      <textarea id={id} aria-invalid={error ? true : undefined} aria-describedby={error ? errorId : undefined} {...textarea} />
      {hint && !error && <small className="field-hint">{hint}</small>}
      {error && (
        <small className="field-error" id={errorId} role="alert">
          {error}
        </small>
      )}
    </div>
  );
}
