import type { CallNoteEvent, CallServiceEvent } from '../../events/index.ts';
import type { CdrSink } from '../call-service-deps.ts';
import type { CallParty, CdrRecord } from '../records/index.ts';
import type { CallerNames } from './caller-names.ts';
import { CallNotes } from './call-notes.ts';
import type { LiveCallView } from './control-types.ts';

export interface CallAnnotationsOptions {
  names: CallerNames;
  notes?: CallNotes;
  /** Where `call.note` goes (the event bus). */
  emit(event: CallNoteEvent): void;
  now?: () => number;
}

/**
 * What the switchboard adds to the switch's own view of a call, kept beside the calls rather than
 * in them: the caller's phonebook name, the receptionist's note, when the hold began. It decorates
 * the three places a call is seen — live views (REST, WS snapshot), call events, the CDR — so
 * all of them say the same.
 */
export class CallAnnotations {
  readonly notes: CallNotes;
  private readonly now: () => number;

  constructor(private readonly opts: CallAnnotationsOptions) {
    this.notes = opts.notes ?? new CallNotes();
    this.now = opts.now ?? Date.now;
  }

  /** The phonebook name for the caller, else the caller's SIP display name. */
  callerName(tenantId: number, caller: CallParty): string | undefined {
    return this.opts.names.nameFor(tenantId, caller.uri) ?? (caller.displayName || undefined);
  }

  view(tenantId: number, v: LiveCallView): LiveCallView {
    const out: LiveCallView = { ...v };
    const name = this.callerName(tenantId, v.caller);
    if (name !== undefined) out.callerName = name;
    const note = this.notes.get(v.id);
    if (note) out.note = note.note;
    if (v.held) {
      // The last hold of the held party: the call's history has every hold and unhold, in order.
      const hold = [...v.history].reverse().find((h) => h.type === 'hold' && 'party' in h && h.party === v.held);
      if (hold) out.heldAt = hold.at;
    }
    return out;
  }

  /** The event as the bus should carry it: call objects with the caller's name and the note. */
  event<E extends CallServiceEvent>(e: E): E {
    switch (e.type) {
      case 'call.created':
      case 'call.answered':
      case 'call.ended': {
        const name = this.callerName(e.tenantId, e.caller);
        const note = e.type === 'call.created' ? undefined : this.notes.get(e.callId)?.note;
        if (name === undefined && note === undefined) return e;
        return { ...e, ...(name !== undefined && { callerName: name }), ...(note !== undefined && { note }) };
      }
      case 'call.transferred': {
        // A phone's attended transfer joins two calls: the note of either goes to both.
        if (e.joinedCallId) this.shareNote(e.tenantId, e.callId, e.joinedCallId);
        return e;
      }
      default:
        return e;
    }
  }

  /** Writes (empty: removes) the note of a live call and says so on the bus. */
  setNote(tenantId: number, callId: string, note: string, by: string): void {
    const at = this.now();
    this.notes.set(tenantId, callId, note, by, at);
    this.opts.emit({ type: 'call.note', tenantId, callId, at, note, by });
  }

  /** The sink the calls write CDRs to: the note goes into the CDR (and leaves memory). */
  cdrSink(inner: CdrSink): CdrSink {
    return {
      write: (cdr: CdrRecord) => {
        const note = this.notes.take(cdr.callId);
        return inner.write(note ? { ...cdr, note: note.note } : cdr);
      },
    };
  }

  private shareNote(tenantId: number, a: string, b: string): void {
    const na = this.notes.get(a);
    const nb = this.notes.get(b);
    if (na && !nb) this.notes.set(tenantId, b, na.note, na.by, na.at);
    else if (nb && !na) this.notes.set(tenantId, a, nb.note, nb.by, nb.at);
  }
}
