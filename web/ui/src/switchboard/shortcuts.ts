/**
 * Every switchboard action and its key. The page shows the key beside each button, `?` lists
 * them all, and the keyboard handler reads this same table, so what is shown is what works.
 */
export enum BoardCommand {
  Next = 'next',
  Previous = 'previous',
  Answer = 'answer',
  Transfer = 'transfer',
  Consult = 'consult',
  CompleteConsult = 'complete-consult',
  CancelConsult = 'cancel-consult',
  Hold = 'hold',
  Park = 'park',
  Retrieve = 'retrieve',
  PickupExtension = 'pickup-extension',
  Hangup = 'hangup',
  Search = 'search',
  Help = 'help',
}

export interface Shortcut {
  command: BoardCommand;
  /** KeyboardEvent.key values that trigger it. */
  keys: string[];
  /** How the key is written on screen. */
  label: string;
  description: string;
}

export const SHORTCUTS: readonly Shortcut[] = [
  { command: BoardCommand.Next, keys: ['j', 'ArrowDown'], label: 'J / ↓', description: 'Select the next call' },
  { command: BoardCommand.Previous, keys: ['k', 'ArrowUp'], label: 'K / ↑', description: 'Select the previous call' },
  { command: BoardCommand.Answer, keys: ['a'], label: 'A', description: 'Answer the selected ringing call at my extension' },
  { command: BoardCommand.Transfer, keys: ['t'], label: 'T', description: 'Blind-transfer the selected call to an extension or number' },
  { command: BoardCommand.Consult, keys: ['c'], label: 'C', description: 'Attended transfer: consult an extension while the caller waits on hold' },
  { command: BoardCommand.CompleteConsult, keys: ['o'], label: 'O', description: 'Complete the attended transfer (connect caller and target)' },
  { command: BoardCommand.CancelConsult, keys: ['x'], label: 'X', description: 'Cancel the attended transfer (back to the caller)' },
  { command: BoardCommand.Hold, keys: ['h'], label: 'H', description: 'Hold or retrieve the selected call' },
  { command: BoardCommand.Park, keys: ['p'], label: 'P', description: 'Park the selected call in the next free slot' },
  { command: BoardCommand.Retrieve, keys: ['r'], label: 'R', description: 'Retrieve the selected parked call to my extension' },
  { command: BoardCommand.PickupExtension, keys: ['g'], label: 'G', description: 'Pick up the call ringing an extension, to my phone' },
  { command: BoardCommand.Hangup, keys: ['Delete'], label: 'Del', description: 'Hang up the selected call' },
  { command: BoardCommand.Search, keys: ['/'], label: '/', description: 'Search the extensions' },
  { command: BoardCommand.Help, keys: ['?'], label: '?', description: 'Show these shortcuts' },
];

export function shortcutOf(command: BoardCommand): Shortcut {
  const s = SHORTCUTS.find((x) => x.command === command);
  if (!s) throw new Error(`no shortcut for ${command}`);
  return s;
}

/** The command a key press means, or null (typing in a field, a modifier held). */
export function commandOfKey(event: { key: string; ctrlKey: boolean; metaKey: boolean; altKey: boolean; target: EventTarget | null }): BoardCommand | null {
  if (event.ctrlKey || event.metaKey || event.altKey) return null;
  const el = event.target as HTMLElement | null;
  if (el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable)) return null;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  return SHORTCUTS.find((s) => s.keys.includes(key) || s.keys.includes(event.key))?.command ?? null;
}
