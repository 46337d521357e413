import type { DryRunInput, DryRunOutcomeRule, DialplanLanguage } from '../api/index.ts';

/** A rule without its pattern: the default outcome, or a row before its pattern is added. */
type LegOutcome = NonNullable<DryRunInput['defaultOutcome']>;

/** What a leg does, as the form offers it (the API's `action`). */
export type LegAction = 'answer' | 'busy' | 'no-answer' | 'fail' | 'redirect';

export const LEG_ACTIONS: ReadonlyArray<{ value: LegAction; label: string }> = [
  { value: 'answer', label: 'Answer' },
  { value: 'busy', label: 'Busy (486)' },
  { value: 'no-answer', label: 'No answer' },
  { value: 'fail', label: 'Fail with code' },
  { value: 'redirect', label: 'Redirect (302) to' },
];

export interface OutcomeRow {
  id: number;
  pattern: string;
  action: LegAction;
  /** Seconds as typed; blank = at once. */
  after: string;
  status: string;
  target: string;
}

export interface WebGetRow {
  id: number;
  url: string;
  real: boolean;
  body: string;
}

export interface DryRunFormState {
  direction: 'out' | 'in';
  fromAccount: string;
  fromNumber: string;
  displayName: string;
  to: string;
  sourceAddress: string;
  /** `Name: value`, one a line. */
  headers: string;
  rows: OutcomeRow[];
  defaultAction: LegAction;
  defaultStatus: string;
  useRealKv: boolean;
  webGet: WebGetRow[];
}

let nextRowId = 1;
export const newRowId = (): number => nextRowId++;

export function initialForm(): DryRunFormState {
  return {
    direction: 'out', fromAccount: '', fromNumber: '', displayName: '', to: '', sourceAddress: '', headers: '',
    rows: [{ id: newRowId(), pattern: '*', action: 'answer', after: '', status: '', target: '' }],
    defaultAction: 'fail', defaultStatus: '480', useRealKv: false, webGet: [],
  };
}

/** A number as typed, or the text itself so the API names the field when it is not one. */
function numberOrText(text: string): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : (t as unknown as number);
}

function action(kind: LegAction, after: string, status: string, target: string): LegOutcome {
  const delay = numberOrText(after);
  const timed = delay === undefined ? {} : { after: delay };
  switch (kind) {
    case 'answer': return { action: 'answer', ...timed };
    case 'busy': return { action: 'busy', ...timed };
    case 'no-answer': return { action: 'no-answer' };
    case 'fail': return { action: 'fail', status: numberOrText(status) ?? (0 as number), ...timed };
    case 'redirect': return { action: 'redirect', target: target.trim(), ...timed };
  }
}

/** The request body for the editor's current content. */
export function toDryRunInput(form: DryRunFormState, source: string, language: DialplanLanguage): DryRunInput {
  const headers: Record<string, string> = {};
  for (const line of form.headers.split('\n')) {
    const colon = line.indexOf(':');
    if (line.trim() === '') continue;
    if (colon <= 0) headers[line.trim()] = '';
    else headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  const display = form.displayName.trim() ? { displayName: form.displayName.trim() } : {};
  return {
    source,
    language,
    call: {
      direction: form.direction,
      from: form.direction === 'out' ? { account: form.fromAccount.trim(), ...display } : { number: form.fromNumber.trim(), ...display },
      to: form.to.trim(),
      ...(Object.keys(headers).length > 0 && { headers }),
      ...(form.sourceAddress.trim() && { sourceAddress: form.sourceAddress.trim() }),
    },
    outcomes: form.rows.map((r) => ({ pattern: r.pattern.trim(), ...action(r.action, r.after, r.status, r.target) }) as DryRunOutcomeRule),
    defaultOutcome: action(form.defaultAction, '', form.defaultStatus, ''),
    useRealKv: form.useRealKv,
    ...(form.webGet.length > 0 && { webGet: form.webGet.map((w) => (w.real ? { url: w.url.trim(), real: true } : { url: w.url.trim(), body: w.body })) }),
  };
}
