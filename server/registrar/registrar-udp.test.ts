import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DigestClient } from '../sip/index.ts';
import { DigestServer } from '../sip/index.ts';
import { SipHeaders } from '../sip/index.ts';
import { SipRequest, type Endpoint, type SipResponse } from '../sip/index.ts';
import { SipStack } from '../sip/index.ts';
import { parseUri } from '../sip/index.ts';
import { LocationService } from './location-service.ts';
import { Registrar } from './registrar.ts';
import type { RegistrationEvent } from './registration-event.ts';
import { FakeDirectory, makeAccount, MemoryBindingStore } from './test-support.ts';

const logger = pino({ level: 'silent' });
const stacks: SipStack[] = [];

afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.stop()));
});

function register(cseq: number, authorization?: string): SipRequest {
  const headers = new SipHeaders();
  headers.append('From', '<sip:alice@example.com>;tag=udp1');
  headers.append('To', '<sip:alice@example.com>');
  headers.append('Call-ID', 'udp-register-1');
  headers.append('CSeq', `${cseq} REGISTER`);
  headers.append('Contact', '<sip:alice@192.168.1.50:5060>');
  headers.append('Expires', '300');
  if (authorization) headers.append('Authorization', authorization);
  return new SipRequest({ method: 'REGISTER', uri: parseUri('sip:example.com'), headers });
}

function send(stack: SipStack, req: SipRequest, target: Endpoint): Promise<SipResponse> {
  return new Promise((resolve, reject) => {
    stack.sendRequest(req, { target, handler: { onFinal: resolve, onTimeout: () => reject(new Error('timeout')), onTransportError: reject } });
  });
}

describe('Registrar over a real UDP SipStack', () => {
  it('challenges, accepts the digest answer and records the source as the target', async () => {
    const directory = new FakeDirectory();
    directory.add(makeAccount('alice', 'secret'));
    const events: RegistrationEvent[] = [];
    const emit = (e: RegistrationEvent): void => {
      events.push(e);
    };
    const location = new LocationService({ store: new MemoryBindingStore(), emit });
    const registrar = new Registrar({ directory, location, emit, digest: new DigestServer({ secret: 'udp-test-secret-0123456789' }) });

    const server = new SipStack({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], logger });
    const phone = new SipStack({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], logger });
    stacks.push(server, phone);
    server.onRequest = (req, tx) => {
      if (req.method === 'REGISTER') void registrar.handle(req, tx);
    };
    await server.start();
    await phone.start();
    const target: Endpoint = { transport: 'udp', address: '127.0.0.1', port: server.listening()[0].port };

    const challenge = await send(phone, register(1), target);
    expect(challenge.status).toBe(401);
    expect(challenge.headers.getAll('WWW-Authenticate')).toHaveLength(2);

    const auth = new DigestClient({ username: 'alice', password: 'secret' }).authorize(challenge, { method: 'REGISTER', uri: 'sip:example.com' });
    const ok = await send(phone, register(2, auth!.headerValue), target);
    expect(ok.status).toBe(200);
    expect(ok.headers.getAll('Contact')).toEqual(['<sip:alice@192.168.1.50:5060>;expires=300']);

    const [binding] = location.lookup('alice', 'example.com');
    expect(binding.target).toMatchObject({ transport: 'udp', address: '127.0.0.1', port: phone.listening()[0].port });
    expect(binding.requestUri).toBe('sip:alice@192.168.1.50:5060');
    expect(events.map((e) => e.type)).toEqual(['registration.added']);
    await location.close();
  });
});
