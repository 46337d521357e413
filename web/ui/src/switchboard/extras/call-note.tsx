import { useState, type FormEvent } from 'react';
import { describeError } from '../../app/components.tsx';
import type { BoardCall } from '../board-state.ts';
import { extrasApi } from './extras-api.ts';

export const NOTE_MAX = 2000;

/**
 * The note on a call: shown as the server's events carry it (`call.note`, the call's `note`),
 * edited in a draft that is only sent; what is shown changes when the event comes back.
 */
export function CallNote({ call }: { call: BoardCall }) {
  const [draft, setDraft] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const save = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    if (draft === null) return;
    setSaving(true);
    setError(null);
    try {
      await extrasApi.setNote(call.id, draft);
      setDraft(null);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setSaving(false);
    }
  };
  if (draft === null) {
    return (
      <span className="call-note" onClick={(e) => e.stopPropagation()}>
        {call.note ? <span className="note-text" data-testid="call-note">✎ {call.note}</span> : null}
        <button type="button" className="link-button note-edit" onClick={() => setDraft(call.note ?? '')}>{call.note ? 'Edit note' : 'Add note'}</button>
      </span>
    );
  }
  return (
    <form className="call-note-form" onSubmit={(e) => void save(e)} onClick={(e) => e.stopPropagation()} aria-label={`Note on the call from ${call.caller.account ?? call.caller.uri}`}>
      <input aria-label="Call note" maxLength={NOTE_MAX} value={draft} autoFocus onChange={(e) => setDraft(e.target.value)}
        onKeyDown={(e) => { if (e.key === 'Escape') setDraft(null); }} />
      <button type="submit" className="button button-tiny button-primary" disabled={saving}>Save note</button>
      {error && <span className="field-error" role="alert">{error}</span>}
    </form>
  );
}
