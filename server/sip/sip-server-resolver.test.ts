import { describe, expect, it } from 'vitest';
import { parseUri } from './uri.ts';
import { SipServerResolver, type SipDns, type SrvAnswer } from './sip-server-resolver.ts';

function fakeDns(zone: { srv?: Record<string, SrvAnswer[]>; a?: Record<string, string[]>; naptrRecords?: Record<string, Awaited<ReturnType<SipDns['resolveNaptr']>>> }) {
  const calls: string[] = [];
  const nx = () => Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
  const dns: SipDns = {
    resolveNaptr: async (n) => { calls.push(`naptr ${n}`); const r = zone.naptrRecords?.[n]; if (!r) throw nx(); return r; },
    resolveSrv: async (n) => { calls.push(`srv ${n}`); const r = zone.srv?.[n]; if (!r) throw nx(); return r; },
    resolve4: async (n) => { calls.push(`a ${n}`); const r = zone.a?.[n]; if (!r) throw nx(); return r.map((address) => ({ address, ttl: 120 })); },
    resolve6: async (n) => { calls.push(`aaaa ${n}`); throw nx(); },
  };
  return { dns, calls };
}

describe('RFC 3263 server location', () => {
  it('numeric host or explicit port: no NAPTR/SRV', async () => {
    const { dns, calls } = fakeDns({ a: { 'sip.example': ['192.0.2.1'] } });
    const r = new SipServerResolver({ dns });
    expect(await r.resolve(parseUri('sip:203.0.113.5;transport=tcp'))).toEqual([{ transport: 'tcp', address: '203.0.113.5', port: 5060 }]);
    expect(await r.resolve(parseUri('sip:sip.example:5080'))).toEqual([{ transport: 'udp', address: '192.0.2.1', port: 5080 }]);
    expect(calls).toEqual(['a sip.example', 'aaaa sip.example']);
  });

  it('NAPTR → SRV → A, in NAPTR order, SRV priority, and the first transport with servers', async () => {
    const { dns } = fakeDns({
      naptrRecords: {
        'carrier.example': [
          { flags: 's', service: 'SIP+D2T', regexp: '', replacement: '_sip._tcp.carrier.example', order: 20, preference: 0 },
          { flags: 's', service: 'SIP+D2U', regexp: '', replacement: '_sip._udp.carrier.example', order: 10, preference: 0 },
        ],
      },
      srv: {
        '_sip._udp.carrier.example': [
          { name: 'b.carrier.example', port: 5070, priority: 20, weight: 0 },
          { name: 'a.carrier.example', port: 5060, priority: 10, weight: 0 },
        ],
        '_sip._tcp.carrier.example': [{ name: 't.carrier.example', port: 5060, priority: 1, weight: 0 }],
      },
      a: { 'a.carrier.example': ['192.0.2.10'], 'b.carrier.example': ['192.0.2.20'], 't.carrier.example': ['192.0.2.30'] },
    });
    const r = new SipServerResolver({ dns, random: () => 0 });
    expect(await r.resolve(parseUri('sip:carrier.example'))).toEqual([
      { transport: 'udp', address: '192.0.2.10', port: 5060 },
      { transport: 'udp', address: '192.0.2.20', port: 5070 },
    ]);
  });

  it('no NAPTR: SRV for UDP, then TCP; no SRV at all: A on 5060', async () => {
    const { dns } = fakeDns({ srv: { '_sip._tcp.x.example': [{ name: 'h.x.example', port: 5062, priority: 0, weight: 0 }] }, a: { 'h.x.example': ['192.0.2.7'], 'y.example': ['192.0.2.8'] } });
    const r = new SipServerResolver({ dns });
    expect(await r.resolve(parseUri('sip:x.example'))).toEqual([{ transport: 'tcp', address: '192.0.2.7', port: 5062 }]);
    expect(await r.resolve(parseUri('sip:y.example'))).toEqual([{ transport: 'udp', address: '192.0.2.8', port: 5060 }]);
    expect(await r.resolve(parseUri('sip:nowhere.example'))).toEqual([]);
  });

  it('sips: TLS targets carry the URI host as the name their certificate must show (RFC 5922), not the SRV target', async () => {
    const { dns } = fakeDns({ srv: { '_sips._tcp.secure.example': [{ name: 'edge1.provider.net', port: 5061, priority: 0, weight: 0 }] }, a: { 'edge1.provider.net': ['192.0.2.40'] } });
    const r = new SipServerResolver({ dns });
    expect(await r.resolve(parseUri('sips:secure.example'))).toEqual([{ transport: 'tls', address: '192.0.2.40', port: 5061, serverName: 'secure.example' }]);
    expect(await r.resolve(parseUri('sip:192.0.2.41;transport=tls'))).toEqual([{ transport: 'tls', address: '192.0.2.41', port: 5061 }]);
  });

  it('weights decide the order within a priority (RFC 2782)', () => {
    const records: SrvAnswer[] = [
      { name: 'light', port: 1, priority: 0, weight: 10 },
      { name: 'heavy', port: 1, priority: 0, weight: 90 },
      { name: 'backup', port: 1, priority: 5, weight: 100 },
    ];
    expect(new SipServerResolver({ dns: fakeDns({}).dns, random: () => 0.05 }).orderSrv(records).map((r) => r.name)).toEqual(['light', 'heavy', 'backup']);
    expect(new SipServerResolver({ dns: fakeDns({}).dns, random: () => 0.5 }).orderSrv(records).map((r) => r.name)).toEqual(['heavy', 'light', 'backup']);
  });

  it('answers are cached by TTL (A: its TTL; SRV/NAPTR: 60 s; misses: 30 s)', async () => {
    let now = 0;
    const { dns, calls } = fakeDns({ srv: { '_sip._udp.c.example': [{ name: 'h.c.example', port: 5060, priority: 0, weight: 0 }] }, a: { 'h.c.example': ['192.0.2.9'] } });
    const r = new SipServerResolver({ dns, now: () => now });
    await r.resolve(parseUri('sip:c.example'));
    const first = calls.length;
    now += 20_000;
    await r.resolve(parseUri('sip:c.example'));
    expect(calls.length).toBe(first);
    const srvQueries = () => calls.filter((c) => c === 'srv _sip._udp.c.example').length;
    now = 59_000;
    await r.resolve(parseUri('sip:c.example'));
    expect(srvQueries()).toBe(1);
    now = 61_000;
    await r.resolve(parseUri('sip:c.example'));
    expect(srvQueries()).toBe(2);
  });
});
