import type { BridgeSide } from '../bridge/index.ts';
import type { ControlParty } from './control-types.ts';

/** The caller is the bridge's A side (a transfer may have replaced who sits there). */
export function controlSide(party: ControlParty): BridgeSide {
  return party === 'caller' ? 'a' : 'b';
}
