import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { api, ApiError, CompileFailedError, listAll, type CompileError, type DialplanLanguage, type DryRunReport } from '../api/index.ts';
import { describeError } from '../app/components.tsx';
import { useAsync } from '../app/use-async.ts';
import { DryRunTimeline } from './dry-run-timeline.tsx';
import { initialForm, LEG_ACTIONS, newRowId, toDryRunInput, type DryRunFormState, type LegAction, type OutcomeRow } from './dry-run-form.ts';
import './dry-run.css';

type RunState =
  | { status: 'idle' }
  | { status: 'running' }
  | { status: 'done'; report: DryRunReport }
  | { status: 'compile-failed'; errors: CompileError[] }
  | { status: 'failed'; error: unknown };

export interface DryRunPanelProps {
  name: string;
  language: DialplanLanguage;
  /** The editor's current content (saved or not): what Run runs. */
  source: string;
  dirty: boolean;
  /** Shows a line of the source in the editor. */
  onReveal(line: number, column: number): void;
}

/**
 * The editor's dry run: describe a call and what each dialled destination does, run the editor's
 * content in the switch's sandbox against simulated legs, and read the timeline.
 */
export default function DryRunPanel({ name, language, source, dirty, onReveal }: DryRunPanelProps) {
  const [form, setForm] = useState<DryRunFormState>(initialForm);
  const [run, setRun] = useState<RunState>({ status: 'idle' });
  const [accounts] = useAsync(() => listAll(api.accounts.list), []);
  const ids = useId();
  const resultRef = useRef<HTMLDivElement>(null);
  // The answer is below the form: bring it into view when it arrives (focus stays on Run).
  useEffect(() => {
    if (run.status === 'done' || run.status === 'compile-failed') resultRef.current?.scrollIntoView({ block: 'start' });
  }, [run]);
  const set = <K extends keyof DryRunFormState>(key: K, value: DryRunFormState[K]): void => setForm((f) => ({ ...f, [key]: value }));
  const setRow = (id: number, patch: Partial<OutcomeRow>): void => setForm((f) => ({ ...f, rows: f.rows.map((r) => (r.id === id ? { ...r, ...patch } : r)) }));

  const field = run.status === 'failed' && run.error instanceof ApiError && run.error.status === 400 ? run.error.field : undefined;
  const fieldError = (path: string): string | undefined => (field === path && run.status === 'failed' ? describeError(run.error) : undefined);
  const generalError = run.status === 'failed' && (field === undefined || !KNOWN_FIELD.test(field)) ? run.error : null;

  const start = async (): Promise<void> => {
    if (run.status === 'running') return;
    setRun({ status: 'running' });
    try {
      setRun({ status: 'done', report: await api.dialplans.dryRun(name, toDryRunInput(form, source, language)) });
    } catch (error) {
      if (error instanceof CompileFailedError) setRun({ status: 'compile-failed', errors: error.errors });
      else setRun({ status: 'failed', error });
    }
  };

  return (
    <div className="dry-run">
      <form
        className="dry-run-form card"
        aria-label="Dry run"
        onSubmit={(event) => {
          event.preventDefault();
          void start();
        }}
      >
        <p className="muted dry-run-intro">
          Runs {dirty ? <strong>the editor's unsaved content</strong> : 'the saved version'} in the switch's sandbox with the real limits. Dialled legs are
          simulated: no call is placed, no call record written{form.useRealKv ? '' : ', and KV writes are forgotten'}.
        </p>
        <fieldset className="dry-run-fieldset">
          <legend>The call</legend>
          <div className="dry-run-grid">
            <Labelled label="Direction" id={`${ids}-dir`}>
              <select id={`${ids}-dir`} value={form.direction} onChange={(e) => set('direction', e.target.value as 'in' | 'out')}>
                <option value="out">Outgoing: an account calls</option>
                <option value="in">Incoming: a number calls</option>
              </select>
            </Labelled>
            {form.direction === 'out' ? (
              <Labelled label="From account" id={`${ids}-from`} error={fieldError('call.from.account')}>
                <input id={`${ids}-from`} list={`${ids}-accounts`} value={form.fromAccount} placeholder="1001" onChange={(e) => set('fromAccount', e.target.value)} />
              </Labelled>
            ) : (
              <Labelled label="From number" id={`${ids}-from`} error={fieldError('call.from.number')}>
                <input id={`${ids}-from`} value={form.fromNumber} placeholder="+4930123456" onChange={(e) => set('fromNumber', e.target.value)} />
              </Labelled>
            )}
            <Labelled label="Caller name" id={`${ids}-name`} error={fieldError('call.from.displayName')}>
              <input id={`${ids}-name`} value={form.displayName} placeholder="(none)" onChange={(e) => set('displayName', e.target.value)} />
            </Labelled>
            <Labelled label="To" id={`${ids}-to`} error={fieldError('call.to')}>
              <input id={`${ids}-to`} value={form.to} placeholder="1002" onChange={(e) => set('to', e.target.value)} />
            </Labelled>
            <Labelled label="Source address" id={`${ids}-src`} error={fieldError('call.sourceAddress')}>
              <input id={`${ids}-src`} value={form.sourceAddress} placeholder="192.0.2.10:5060" onChange={(e) => set('sourceAddress', e.target.value)} />
            </Labelled>
            <Labelled label="Headers (Name: value, one a line)" id={`${ids}-hdr`} error={field?.startsWith('call.headers') ? fieldError(field) : undefined} wide>
              <textarea id={`${ids}-hdr`} rows={1} value={form.headers} placeholder="X-Campaign: spring" onChange={(e) => set('headers', e.target.value)} />
            </Labelled>
          </div>
          <datalist id={`${ids}-accounts`}>
            {(accounts.data?.items ?? []).map((a) => <option key={a.id} value={a.username} />)}
          </datalist>
        </fieldset>

        <fieldset className="dry-run-fieldset">
          <legend>What the dialled legs do</legend>
          <p className="muted dry-run-help">
            The first row whose pattern matches a leg decides (<code>*</code> matches anything): <code>1002@local</code>, <code>*@mytrunk</code>.
          </p>
          <table className="dry-run-rules" aria-label="Destination outcomes">
            <thead>
              <tr>
                <th scope="col">Destination pattern</th>
                <th scope="col">Does</th>
                <th scope="col">Code / target</th>
                <th scope="col">After (s)</th>
                <th scope="col"><span className="sr-only">Remove</span></th>
              </tr>
            </thead>
            <tbody>
              {form.rows.map((row, i) => (
                <tr key={row.id} data-testid="outcome-row">
                  <td>
                    <CellInput label={`Pattern of row ${i + 1}`} value={row.pattern} onChange={(v) => setRow(row.id, { pattern: v })} error={fieldError(`outcomes.${i}.pattern`)} placeholder="1002@local" />
                  </td>
                  <td>
                    <select aria-label={`Outcome of row ${i + 1}`} value={row.action} onChange={(e) => setRow(row.id, { action: e.target.value as LegAction })}>
                      {LEG_ACTIONS.map((a) => <option key={a.value} value={a.value}>{a.label}</option>)}
                    </select>
                  </td>
                  <td>
                    {row.action === 'fail' && (
                      <CellInput label={`Status code of row ${i + 1}`} value={row.status} onChange={(v) => setRow(row.id, { status: v })} error={fieldError(`outcomes.${i}.status`)} placeholder="503" inputMode="numeric" />
                    )}
                    {row.action === 'redirect' && (
                      <CellInput label={`Redirect target of row ${i + 1}`} value={row.target} onChange={(v) => setRow(row.id, { target: v })} error={fieldError(`outcomes.${i}.target`)} placeholder="1003" />
                    )}
                  </td>
                  <td>
                    {row.action !== 'no-answer' && (
                      <CellInput label={`Seconds until row ${i + 1} happens`} value={row.after} onChange={(v) => setRow(row.id, { after: v })} error={fieldError(`outcomes.${i}.after`)} placeholder="0" inputMode="decimal" narrow />
                    )}
                  </td>
                  <td>
                    <button type="button" className="button button-small" aria-label={`Remove row ${i + 1}`} onClick={() => setForm((f) => ({ ...f, rows: f.rows.filter((r) => r.id !== row.id) }))}>
                      ✕
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="dry-run-row-actions">
            <button type="button" className="button button-small" onClick={() => setForm((f) => ({ ...f, rows: [...f.rows, { id: newRowId(), pattern: '', action: 'answer', after: '', status: '', target: '' }] }))}>
              Add destination
            </button>
            <label className="inline-field">
              Any other leg:{' '}
              <select aria-label="What any other leg does" value={form.defaultAction} onChange={(e) => set('defaultAction', e.target.value as LegAction)}>
                {LEG_ACTIONS.filter((a) => a.value !== 'redirect').map((a) => <option key={a.value} value={a.value}>{a.label}</option>)}
              </select>
            </label>
            {form.defaultAction === 'fail' && (
              <CellInput label="Status code of any other leg" value={form.defaultStatus} onChange={(v) => set('defaultStatus', v)} error={fieldError('defaultOutcome.status')} narrow inputMode="numeric" />
            )}
          </div>
        </fieldset>

        <fieldset className="dry-run-fieldset">
          <legend>Outside world</legend>
          <label className="checkbox">
            <input type="checkbox" checked={form.useRealKv} onChange={(e) => set('useRealKv', e.target.checked)} /> Use the real key/value store (DBWrite and DBDelete change it)
          </label>
          {form.webGet.map((w, i) => (
            <div className="dry-run-webget" key={w.id} data-testid="webget-row">
              <CellInput label={`WebGet URL ${i + 1}`} value={w.url} placeholder="https://crm.example.com/*" error={fieldError(`webGet.${i}.url`)} onChange={(v) => setForm((f) => ({ ...f, webGet: f.webGet.map((x) => (x.id === w.id ? { ...x, url: v } : x)) }))} />
              <label className="checkbox">
                <input type="checkbox" checked={w.real} onChange={(e) => setForm((f) => ({ ...f, webGet: f.webGet.map((x) => (x.id === w.id ? { ...x, real: e.target.checked } : x)) }))} /> fetch it for real
              </label>
              {!w.real && (
                <CellInput label={`WebGet answer ${i + 1}`} value={w.body} placeholder="answer body" error={fieldError(`webGet.${i}.body`)} onChange={(v) => setForm((f) => ({ ...f, webGet: f.webGet.map((x) => (x.id === w.id ? { ...x, body: v } : x)) }))} />
              )}
              <button type="button" className="button button-small" aria-label={`Remove WebGet ${i + 1}`} onClick={() => setForm((f) => ({ ...f, webGet: f.webGet.filter((x) => x.id !== w.id) }))}>
                ✕
              </button>
            </div>
          ))}
          <div>
            <button type="button" className="button button-small" onClick={() => setForm((f) => ({ ...f, webGet: [...f.webGet, { id: newRowId(), url: '', real: false, body: '' }] }))}>
              Add WebGet answer
            </button>
            <span className="muted"> A WebGet with no matching URL fails.</span>
          </div>
        </fieldset>

        <div className="dry-run-actions">
          <button type="submit" className="button button-primary" disabled={run.status === 'running'}>
            {run.status === 'running' ? 'Running…' : 'Run'}
          </button>
        </div>
      </form>

      <div ref={resultRef} className="dry-run-anchor">
      {generalError !== null && (
        <div className="banner banner-error" role="alert">
          <span>{describeError(generalError)}</span>
        </div>
      )}
      {run.status === 'compile-failed' && (
        <div className="banner banner-error compile-errors" role="alert" data-testid="dry-run-compile-errors">
          <p>The editor's content does not compile, so it could not run.</p>
          <ul>
            {run.errors.map((e, i) => (
              <li key={i}>
                <button type="button" className="link-button" onClick={() => onReveal(e.line, e.column)}>
                  Line {e.line}, column {e.column}
                </button>
                : {e.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      {run.status === 'done' && <DryRunTimeline report={run.report} onReveal={onReveal} />}
      </div>
    </div>
  );
}

/** Fields the form shows beside an input; any other field error goes in the banner. */
const KNOWN_FIELD = /^(call\.(from\.(account|number|displayName)|to|sourceAddress|headers.*)|outcomes\.\d+\.(pattern|status|target|after)|defaultOutcome\.status|webGet\.\d+\.(url|body))$/;

function Labelled({ label, id, error, wide, children }: { label: string; id: string; error?: string; wide?: boolean; children: ReactNode }) {
  return (
    <div className={`field${error ? ' field-invalid' : ''}${wide ? ' dry-run-wide' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children}
      {error && <small className="field-error" role="alert">{error}</small>}
    </div>
  );
}

function CellInput({ label, value, onChange, error, placeholder, inputMode, narrow }: {
  label: string; value: string; onChange(v: string): void; error?: string; placeholder?: string; inputMode?: 'numeric' | 'decimal'; narrow?: boolean;
}) {
  return (
    <div className={`field${error ? ' field-invalid' : ''}${narrow ? ' dry-run-narrow' : ''}`}>
      <input aria-label={label} aria-invalid={error ? true : undefined} value={value} placeholder={placeholder} inputMode={inputMode} onChange={(e) => onChange(e.target.value)} />
      {error && <small className="field-error" role="alert">{error}</small>}
    </div>
  );
}
