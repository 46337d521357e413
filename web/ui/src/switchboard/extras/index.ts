// Switchboard extras built against the contract of issue 12 (phonebook, call notes, DND); the
// page uses only these three, so the part can be dropped by removing them there.
export { CallNote } from './call-note.tsx';
export { DndToggle } from './dnd-toggle.tsx';
export { PhonebookPanel } from './phonebook-panel.tsx';
export { extrasApi } from './extras-api.ts';
export type { Contact, ContactInput, ImportResult } from './extras-api.ts';
