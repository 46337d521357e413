import { useState } from 'react';
import { describeError } from '../../app/components.tsx';
import type { BoardExtension } from '../board-state.ts';
import { extrasApi } from './extras-api.ts';

/** Do-not-disturb of an extension: pressed state from its lamp's `dnd`, changed only by the server's event. */
export function DndToggle({ extension, onError }: { extension: BoardExtension; onError(message: string): void }) {
  const [busy, setBusy] = useState(false);
  const toggle = async (): Promise<void> => {
    setBusy(true);
    try {
      await extrasApi.setDnd(extension.accountId, !extension.dnd);
    } catch (e) {
      onError(`DND of ${extension.user}: ${describeError(e)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <button type="button" className={`button button-tiny dnd-toggle${extension.dnd ? ' dnd-on' : ''}`} aria-pressed={extension.dnd} disabled={busy}
      aria-label={`Do not disturb ${extension.user}`} title="Do not disturb (phones: *78 on, *79 off)" onClick={() => void toggle()}>
      DND
    </button>
  );
}
