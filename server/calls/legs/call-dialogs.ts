import type { BridgeSide } from '../bridge/index.ts';

/** Where the CallService routes in-dialog requests: dialog key → the call and the side it belongs to. */
export interface DialogRegistry<C> {
  registerDialog(key: string, call: C, side: BridgeSide): void;
  unregisterDialog(key: string): void;
}

/**
 * The dialogs a call owns in the CallService's registry, and which is each side's. The call
 * unregisters exactly what it owns: a dialog handed off to another call (attended transfer) is
 * that call's to unregister, and unregistering it here would cut the other call off.
 */
export class CallDialogs<C> {
  private readonly owned = new Set<string>();
  private readonly sides: Partial<Record<BridgeSide, string>> = {};

  constructor(private readonly registry: DialogRegistry<C>, private readonly call: C) {}

  /** `key` is the dialog of the party on `side`. */
  add(side: BridgeSide, key: string): void {
    this.sides[side] = key;
    this.route(side, key);
  }

  /**
   * Requests in `key` reach the call as `side`'s, though it is not the side's party (a consult
   * target talking to the consultant); the call still forgets it when it ends.
   */
  route(side: BridgeSide, key: string): void {
    this.owned.add(key);
    this.registry.registerDialog(key, this.call, side);
  }

  /** A new party takes `side`: the leaving party's dialog no longer routes here. */
  replace(side: BridgeSide, key: string): void {
    const old = this.sides[side];
    if (old !== undefined && old !== key) this.release(old);
    this.add(side, key);
  }

  /** `side`'s party moves to another call, which registers its dialog for itself: nothing is unregistered. */
  handOff(side: BridgeSide): string {
    const key = this.sides[side];
    if (key === undefined) throw new Error(`No dialog on side ${side} to hand off`);
    delete this.sides[side];
    this.owned.delete(key);
    return key;
  }

  keyOf(side: BridgeSide): string | undefined {
    return this.sides[side];
  }

  /** Stops routing `key` here (a party left without a successor, a consult cancelled); a key not owned is left alone. */
  release(key: string): void {
    if (!this.owned.delete(key)) return;
    for (const side of ['a', 'b'] as const) if (this.sides[side] === key) delete this.sides[side];
    this.registry.unregisterDialog(key);
  }

  /** The call ended: every dialog it still owns is unregistered. */
  releaseAll(): void {
    for (const key of this.owned) this.registry.unregisterDialog(key);
    this.owned.clear();
    delete this.sides.a;
    delete this.sides.b;
  }
}
