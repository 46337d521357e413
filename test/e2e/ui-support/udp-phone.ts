import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { answerChallenge, parseResponse, registerText } from '../raw-sip-client.ts';
import { DOMAIN, PASSWORD } from '../calls-support.ts';

/**
 * A "phone" for `user` that only listens: REGISTERs (digest) from its own UDP socket, then records
 * every datagram that reaches it, so a test can prove the switch sent it nothing.
 */
export interface ListeningPhone {
  socket: Socket;
  port: number;
  received: string[];
  close(): void;
}

export async function registerListeningPhone(user: string, sipPort: number): Promise<ListeningPhone> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const port = socket.address().port;
  const send = (text: string) =>
    new Promise<ReturnType<typeof parseResponse>>((resolve) => {
      socket.once('message', (m) => resolve(parseResponse(m.toString('latin1'))));
      socket.send(text, sipPort, '127.0.0.1');
    });
  const callId = randomBytes(8).toString('hex');
  const challenge = await send(registerText({ user, domain: DOMAIN, transport: 'udp', localPort: port, callId, cseq: 1 }));
  const ok = await send(registerText({ user, domain: DOMAIN, transport: 'udp', localPort: port, callId, cseq: 2, authorization: answerChallenge(challenge, user, PASSWORD, DOMAIN) }));
  if (ok.status !== 200) throw new Error(`REGISTER ${user}: ${ok.status}`);
  const received: string[] = [];
  socket.on('message', (m) => received.push(m.toString('latin1')));
  return { socket, port, received, close: () => socket.close() };
}
