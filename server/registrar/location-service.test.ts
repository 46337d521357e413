import { describe, expect, it } from 'vitest';
import type { Binding } from './binding.ts';
import { LocationService } from './location-service.ts';
import type { RegistrationEvent } from './registration-event.ts';
import { fakeClock, makeAccount, makeHarness, MemoryBindingStore } from './test-support.ts';

function binding(id: string, expiresAt: number, extra: Partial<Binding> = {}): Binding {
  return {
    id, accountId: 1, tenantId: 7, user: 'alice', domain: 'example.com', contactUri: `sip:alice@10.0.0.${id.length}`,
    contactParams: {}, expiresAt, callId: 'c', cseq: 1, source: { transport: 'udp', address: '203.0.113.5', port: 5060 },
    path: [], registeredAt: 0, updatedAt: 0, natKeepAlive: false, keepAliveMethod: 'crlf', ...extra,
  };
}

describe('LocationService', () => {
  it('sweeps expired bindings and raises registration.expired', async () => {
    const h = makeHarness();
    h.directory.add(makeAccount('alice', 'secret', { allowedCidrs: ['203.0.113.0/24'], trustUdpSource: true }));
    await h.register({ user: 'alice', contacts: ['<sip:alice@10.0.0.2>;expires=120', '<sip:alice@10.0.0.3>;expires=600'] });
    h.clock.advance(119_000);
    expect(h.location.sweep()).toBe(0);
    h.clock.advance(1_000);
    // An expired binding is no longer served even before the sweeper runs.
    expect(h.location.lookup('alice', 'example.com')).toHaveLength(1);
    expect(h.location.sweep()).toBe(1);
    expect(h.events.at(-1)).toMatchObject({ type: 'registration.expired', contactUri: 'sip:alice@10.0.0.2', tenantId: 7 });
    expect(h.location.size).toBe(1);
  });

  it('persists write-behind in batches and restores on load, dropping expired bindings', async () => {
    const h = makeHarness();
    h.directory.add(makeAccount('alice', 'secret', { allowedCidrs: ['203.0.113.0/24'], trustUdpSource: true }));
    await h.register({ user: 'alice', contacts: ['<sip:alice@10.0.0.2>;expires=120', '<sip:alice@10.0.0.3>;expires=600'] });
    expect(h.store.rows.size).toBe(0);
    expect(h.location.pendingWrites).toBe(2);
    await h.location.flush();
    expect(h.store.batches).toHaveLength(1);
    expect(h.store.batches[0].upserts).toHaveLength(2);
    expect(h.store.rows.size).toBe(2);

    // Refresh then remove before the next flush: only the removal is written.
    await h.register({ user: 'alice', contacts: ['<sip:alice@10.0.0.3>'], expires: 0 });
    await h.location.close();
    expect(h.store.batches[1]).toEqual({ upserts: [], deletes: [expect.any(String)] });
    expect(h.store.rows.size).toBe(1);

    // Restart 200 s later: the 120 s binding is gone (and deleted from the store).
    const restored = await h.store.loadAll();
    expect(restored).toHaveLength(1);
    const clock = fakeClock(h.clock.now() + 200_000);
    const events: RegistrationEvent[] = [];
    const fresh = new LocationService({ store: h.store, emit: (e) => events.push(e), now: clock.now });
    h.store.rows.set('old', binding('old', clock.now() - 1));
    expect(await fresh.load()).toBe(0);
    expect(fresh.size).toBe(0);
    await fresh.close();
    expect(h.store.rows.size).toBe(0);
  });

  it('restores live bindings with their targets', async () => {
    const store = new MemoryBindingStore();
    const clock = fakeClock();
    store.rows.set('b1', binding('b1', clock.now() + 60_000, { source: { transport: 'tcp', address: '203.0.113.9', port: 50000, connectionId: 'conn-1' } }));
    const location = new LocationService({ store, emit: () => {}, now: clock.now });
    expect(await location.load()).toBe(1);
    expect(location.lookup('alice', 'EXAMPLE.com')[0].target).toEqual({ transport: 'tcp', address: '203.0.113.9', port: 50000, connectionId: 'conn-1' });
  });

  it('keeps a failed batch and retries it on the next flush', async () => {
    const store = new MemoryBindingStore();
    const clock = fakeClock();
    const location = new LocationService({ store, emit: () => {}, now: clock.now });
    location.upsert(binding('b1', clock.now() + 60_000));
    store.failNext = true;
    await location.flush();
    expect(store.rows.size).toBe(0);
    expect(location.pendingWrites).toBe(1);
    await location.flush();
    expect(store.rows.has('b1')).toBe(true);
    expect(location.pendingWrites).toBe(0);
  });
});
