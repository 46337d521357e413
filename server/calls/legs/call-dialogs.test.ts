import { describe, expect, it } from 'vitest';
import { CallDialogs, type DialogRegistry } from './call-dialogs.ts';

type Side = 'a' | 'b';

/** The CallService's dialog map, shared by every call, as the calls leave it. */
class FakeRegistry implements DialogRegistry<string> {
  readonly routes = new Map<string, { call: string; side: Side }>();
  readonly unregistered: string[] = [];

  registerDialog(key: string, call: string, side: Side): void {
    this.routes.set(key, { call, side });
  }

  unregisterDialog(key: string): void {
    this.unregistered.push(key);
    this.routes.delete(key);
  }
}

function setup() {
  const registry = new FakeRegistry();
  return { registry, x: new CallDialogs(registry, 'x'), y: new CallDialogs(registry, 'y') };
}

describe('CallDialogs', () => {
  it('registers each side with the call', () => {
    const { registry, x } = setup();
    x.add('a', 'ka');
    x.add('b', 'kb');
    expect(registry.routes.get('ka')).toEqual({ call: 'x', side: 'a' });
    expect(registry.routes.get('kb')).toEqual({ call: 'x', side: 'b' });
    expect(x.keyOf('b')).toBe('kb');
  });

  it('a hand-off unregisters nothing; the adopting call routes the dialog from then on', () => {
    const { registry, x, y } = setup();
    x.add('a', 'xa');
    x.add('b', 'xb');
    y.add('a', 'ya');
    y.add('b', 'yb');
    const moved = x.handOff('b');
    expect(moved).toBe('xb');
    expect(registry.unregistered).toEqual([]);
    expect(x.keyOf('b')).toBeUndefined();
    y.replace('a', moved);
    expect(registry.routes.get('xb')).toEqual({ call: 'y', side: 'a' });
    expect(y.keyOf('a')).toBe('xb');
  });

  it('replace unregisters the leaving party\'s dialog only', () => {
    const { registry, x } = setup();
    x.add('a', 'ka');
    x.add('b', 'old');
    x.replace('b', 'new');
    expect(registry.unregistered).toEqual(['old']);
    expect([...registry.routes.keys()].sort()).toEqual(['ka', 'new']);
  });

  it('releaseAll unregisters the dialogs the call owns, never one it handed off', () => {
    const { registry, x, y } = setup();
    x.add('a', 'xa');
    x.add('b', 'xb');
    x.route('a', 'consult');
    y.add('a', 'ya');
    y.add('b', 'yb');
    y.replace('a', x.handOff('b'));
    x.releaseAll();
    expect(registry.unregistered.sort()).toEqual(['consult', 'xa', 'ya']);
    expect(registry.routes.get('xb')).toEqual({ call: 'y', side: 'a' });
    expect(registry.routes.get('yb')).toEqual({ call: 'y', side: 'b' });
    y.releaseAll();
    expect(registry.routes.size).toBe(0);
  });

  it('a routed dialog that takes a side is unregistered once; a released one not again', () => {
    const { registry, x } = setup();
    x.add('a', 'ka');
    x.add('b', 'kb');
    x.route('b', 'target');
    x.replace('b', 'target');
    expect(registry.unregistered).toEqual(['kb']);
    x.release('ka');
    expect(x.keyOf('a')).toBeUndefined();
    x.releaseAll();
    expect(registry.unregistered).toEqual(['kb', 'ka', 'target']);
  });
});
