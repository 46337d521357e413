import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DOMAIN, expectSippOk, useSwitch } from './calls-support.ts';
import { answerChallenge, RawUdpPeer, registerText } from './raw-sip-client.ts';

/**
 * Issue 13 item 7 with real peers: a sipp REGISTER and sipp calls through a sandboxed dialplan,
 * then a scrape of GET /metrics with the bearer token; every counter moved by what those peers
 * did. Wire counts (requests/responses) include retransmissions, so they are checked as "at
 * least"; counts of things (registrations, calls, executions, bans) exactly.
 */

const TOKEN = 'metrics-e2e-token-0123456789abcdef';
const GUESSER = '127.0.0.9';

const { sw, sipp } = useSwitch(['1001', '1002'], { PATCHBAY_METRICS_TOKEN: TOKEN, PATCHBAY_AUTH_FAILURES_PER_SOURCE: '3' });

const metricsUrl = (): string => `http://127.0.0.1:${sw.running.httpAddress.port}/metrics`;

/** Samples of the text format by `name{label="v",…}` with labels sorted (prom-client's order is its own). */
type Samples = Map<string, number>;

function parseSamples(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels = m[2] ? [...m[2].matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((l) => `${l[1]}="${l[2]}"`).sort().join(',') : '';
    out.set(labels ? `${m[1]}{${labels}}` : m[1]!, Number(m[3]));
  }
  return out;
}

async function scrape(): Promise<Samples> {
  const res = await fetch(metricsUrl(), { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseSamples(await res.text());
}

/** The value of a sample; a sample that is missing fails the test (a series we promise must exist). */
function value(samples: Samples, series: string): number {
  const v = samples.get(series);
  if (v === undefined) throw new Error(`no sample ${series}; have ${[...samples.keys()].filter((k) => k.startsWith('patchbay_')).join(' ')}`);
  return v;
}

function moved(before: Samples, after: Samples, series: string): number {
  return value(after, series) - value(before, series);
}

const req = (direction: 'in' | 'out', method: string) => `patchbay_sip_requests_total{direction="${direction}",method="${method}"}`;
const res = (direction: 'in' | 'out', cls: string) => `patchbay_sip_responses_total{class="${cls}",direction="${direction}"}`;
const executions = (outcome: 'completed' | 'failed') => `patchbay_sandbox_execution_seconds_count{outcome="${outcome}"}`;

async function until(condition: () => Promise<boolean>, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('GET /metrics (Prometheus)', () => {
  it('refuses a missing, wrong, query-string or non-Bearer token with 401 and never shows a sample', async () => {
    const attempts: Array<[string, RequestInit]> = [
      [metricsUrl(), {}],
      [metricsUrl(), { headers: { authorization: 'Bearer wrong-token-0123456789abcdef' } }],
      [metricsUrl(), { headers: { authorization: `Bearer ${TOKEN}x` } }],
      [metricsUrl(), { headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}` } }],
      [metricsUrl(), { headers: { authorization: 'Bearer ' } }],
      [metricsUrl(), { headers: { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` } }],
      [metricsUrl(), { headers: { authorization: TOKEN } }],
      [`${metricsUrl()}?token=${TOKEN}`, {}],
    ];
    for (const [url, init] of attempts) {
      const answer = await fetch(url, init);
      expect(answer.status, JSON.stringify(init)).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="patchbay-metrics"');
      expect(await answer.text()).not.toMatch(/patchbay_|process_/);
    }
    const post = await fetch(metricsUrl(), { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(post.status).toBe(405);
  });

  it('counts a sipp REGISTER, an answered and a failed sipp call through a dialplan, and a ban', async () => {
    const start = await scrape();
    // Default metrics of the process: memory and event-loop lag.
    expect(value(start, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(start.has('nodejs_eventloop_lag_seconds')).toBe(true);
    expect(start.has('nodejs_heap_size_used_bytes')).toBe(true);
    expect(value(start, 'patchbay_sandbox_worker_resident_memory_bytes')).toBeGreaterThan(0);
    expect(value(start, 'patchbay_registrations')).toBe(0);

    // REGISTER, 401, REGISTER with digest, 200.
    await expectSippOk(await sipp('register-digest.xml', { remote: sw.target, user: '1002' }));
    const registered = await scrape();
    expect(moved(start, registered, 'patchbay_registrations')).toBe(1);
    expect(moved(start, registered, req('in', 'REGISTER'))).toBeGreaterThanOrEqual(2);
    expect(moved(start, registered, res('out', '4xx'))).toBeGreaterThanOrEqual(1);
    expect(moved(start, registered, res('out', '2xx'))).toBeGreaterThanOrEqual(1);
    expect(moved(start, registered, req('in', 'INVITE'))).toBe(0);

    // An answered call: INVITE, 407, ACK, INVITE with digest → dialplan → Dial the sipp UAS → 200, ACK, BYE.
    const callee = await sipp('call-uas-answer.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:uas@127.0.0.1:${callee.port}");`);
    await expectSippOk(await sipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '2000', user: '1001' }), callee);
    await sw.waitForEvent((e) => e.type === 'call.ended');
    const answered = await scrape();
    expect(moved(registered, answered, 'patchbay_calls_started_total')).toBe(1);
    expect(moved(registered, answered, 'patchbay_calls_answered_total')).toBe(1);
    expect(moved(registered, answered, 'patchbay_calls_failed_total')).toBe(0);
    expect(moved(registered, answered, executions('completed'))).toBe(1);
    expect(moved(registered, answered, executions('failed'))).toBe(0);
    expect(moved(registered, answered, 'patchbay_sandbox_execution_seconds_sum{outcome="completed"}')).toBeGreaterThan(0);
    expect(moved(registered, answered, req('in', 'INVITE'))).toBeGreaterThanOrEqual(2);
    expect(moved(registered, answered, req('out', 'INVITE'))).toBeGreaterThanOrEqual(1);
    expect(moved(registered, answered, req('in', 'ACK'))).toBeGreaterThanOrEqual(2);
    expect(moved(registered, answered, req('out', 'ACK'))).toBeGreaterThanOrEqual(1);
    expect(moved(registered, answered, req('in', 'BYE'))).toBeGreaterThanOrEqual(1);
    expect(moved(registered, answered, req('out', 'BYE'))).toBeGreaterThanOrEqual(1);
    expect(moved(registered, answered, res('in', '2xx'))).toBeGreaterThanOrEqual(2); // the UAS's 200 to INVITE and to BYE
    expect(moved(registered, answered, req('in', 'REGISTER'))).toBe(0);
    await until(async () => value(await scrape(), 'patchbay_calls') === 0, 'no live call');

    // A failed call: the callee answers 486; the caller gets it.
    const busy = await sipp('call-uas-busy.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:uas@127.0.0.1:${busy.port}");`);
    await expectSippOk(await sipp('e2e-uac-auth-fail-486.xml', { remote: sw.target, service: '2000', user: '1001' }), busy);
    await until(async () => moved(answered, await scrape(), 'patchbay_calls_failed_total') === 1, 'the failed call counted');
    const failed = await scrape();
    expect(moved(answered, failed, 'patchbay_calls_started_total')).toBe(1);
    expect(moved(answered, failed, 'patchbay_calls_answered_total')).toBe(0);
    expect(moved(answered, failed, executions('completed')) + moved(answered, failed, executions('failed'))).toBe(1);
    expect(moved(answered, failed, res('out', '4xx'))).toBeGreaterThanOrEqual(2); // 407 and 486 to the caller
    expect(moved(answered, failed, res('in', '4xx'))).toBeGreaterThanOrEqual(1); // 486 from the callee
    expect(value(failed, 'patchbay_shed_total{reason="calls"}')).toBe(0);

    // A guesser from its own loopback address: three wrong passwords ban it.
    expect(value(failed, 'patchbay_bans')).toBe(0);
    const peer = await RawUdpPeer.open(GUESSER);
    try {
      const port = Number(sw.target.split(':')[1]);
      for (let i = 1; i <= 3; i++) {
        const base = { user: '1002', domain: DOMAIN, transport: 'udp' as const, localAddress: GUESSER, localPort: peer.port, callId: `metrics-ban-${i}` };
        const challenge = await peer.request(registerText(base), port);
        expect(challenge?.status).toBe(401);
        const refused = await peer.request(registerText({ ...base, cseq: 2, authorization: answerChallenge(challenge!, '1002', `wrong-${i}`, DOMAIN) }), port);
        expect(refused?.status).toBe(403);
      }
    } finally {
      peer.close();
    }
    expect(value(await scrape(), 'patchbay_bans')).toBe(1);
  });

  it('counts event-stream clients and a resume from a seq the switch never handed out (resync)', async () => {
    const db = sw.running.db;
    const user = await db.users.add({ email: `metrics-${Date.now()}@x.test`, password: 'password123', role: 'admin', tenantId: sw.tenantId });
    const { token } = await db.tokens.create({ userId: user.id, name: 'metrics e2e' });
    const base = `ws://127.0.0.1:${sw.running.httpAddress.port}/api/v1/events?token=${token}`;
    const before = await scrape();
    const open = (query: string) =>
      new Promise<{ ws: WebSocket; types: string[] }>((resolve, reject) => {
        const ws = new WebSocket(`${base}${query}`);
        const types: string[] = [];
        ws.on('message', (data) => {
          const type = (JSON.parse(String(data)) as { type: string }).type;
          types.push(type);
          if (type === 'snapshot') resolve({ ws, types });
        });
        ws.once('error', reject);
      });
    const fresh = await open('');
    // A seq from "before a restart" (below this process's first seq) is no longer in the ring.
    const resumed = await open('&since=1');
    expect(resumed.types).toEqual(['resync', 'snapshot']);
    try {
      const during = await scrape();
      expect(moved(before, during, 'patchbay_event_stream_clients')).toBe(2);
      expect(moved(before, during, 'patchbay_event_stream_resyncs_total{reason="stale_since"}')).toBe(1);
      expect(moved(before, during, 'patchbay_event_stream_resyncs_total{reason="overrun"}')).toBe(0);
    } finally {
      fresh.ws.close();
      resumed.ws.close();
    }
    await until(async () => value(await scrape(), 'patchbay_event_stream_clients') === value(before, 'patchbay_event_stream_clients'), 'the clients gone');
  });
});

