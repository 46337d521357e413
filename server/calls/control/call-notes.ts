/** A switchboard note is short text shown next to a call; longer belongs in the phonebook. */
export const CALL_NOTE_MAX = 2000;

export interface CallNote {
  tenantId: number;
  note: string;
  /** Who wrote it last (`api:<email>`). */
  by: string;
  at: number;
}

/**
 * Notes on live calls, by Patchbay call id. The id stays the call's through blind and
 * switchboard-attended transfer, park/retrieve and pickup, so the note follows the call by
 * itself; a phone's attended transfer joins two calls and copies the note across
 * (CallAnnotations). The CDR takes the note when the call ends, which also forgets it here, so
 * the map never holds more than the live calls.
 */
export class CallNotes {
  private readonly notes = new Map<string, CallNote>();

  /** An empty note removes the call's note. */
  set(tenantId: number, callId: string, note: string, by: string, at = Date.now()): void {
    if (note === '') this.notes.delete(callId);
    else this.notes.set(callId, { tenantId, note, by, at });
  }

  get(callId: string): CallNote | undefined {
    return this.notes.get(callId);
  }

  /** The note, forgotten (the call ended and its CDR takes it). */
  take(callId: string): CallNote | undefined {
    const n = this.notes.get(callId);
    this.notes.delete(callId);
    return n;
  }

  get size(): number {
    return this.notes.size;
  }
}
