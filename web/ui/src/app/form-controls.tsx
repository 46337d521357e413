import { useId, type ReactNode, type SelectHTMLAttributes, type TextareaHTMLAttributes } from 'react';
import { FieldFrame } from './components.tsx';

/** A labelled select with its error beside it, styled like Field. */
export function SelectField({
  label,
  error,
  hint,
  children,
  ...select
}: SelectHTMLAttributes<HTMLSelectElement> & { label: string; error?: string | null; hint?: string; children: ReactNode }) {
  return <FieldFrame label={label} error={error} hint={hint} control={(wiring) => <select {...wiring} {...select}>{children}</select>} />;
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
  return <FieldFrame label={label} error={error} hint={hint} wide control={(wiring) => <textarea {...wiring} {...textarea} />} />;
}
