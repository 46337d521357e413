import { DigestClient } from './digest-client.ts';
import { formatUri } from './uri.ts';
import type { SipRequest, SipResponse } from './message.ts';
import type { ClientTransaction, ClientTransactionHandler } from './transactions/transaction.ts';

/** Username/password a UAC answers 401/407 challenges with (a provider's trunk account). */
export interface ClientCredentials {
  username: string;
  password: string;
}

/**
 * How often one request is re-sent with credentials. A second challenge after an answer with
 * a fresh nonce means wrong credentials (or `stale=true`, answered once more); more never helps.
 */
const MAX_AUTH_ATTEMPTS = 2;
/** Call-IDs with credentials kept at once; the oldest is forgotten first (a bounded table). */
const MAX_AUTHENTICATED_CALLS = 50_000;

interface CallAuth {
  client: DigestClient;
  /**
   * The realm the first answered challenge named (the provider's). Later challenges in another
   * realm are not answered: a far end behind the provider must not get digest answers it could
   * run a dictionary against.
   */
  realm?: string;
  /** Highest CSeq number sent in this Call-ID: a re-sent request moved past its dialog's count. */
  lastSeq: number;
}

/**
 * Answers digest challenges for every request of a Call-ID whose first request was sent with
 * credentials (RFC 3261 §22.2–22.3): the challenged request goes out again with a new branch, a
 * higher CSeq and an (Proxy-)Authorization header — an INVITE, its re-INVITEs, BYE, REFER.
 * Later requests of the Call-ID are numbered past the re-sent ones, so a dialog whose own CSeq
 * count lags behind stays in order at the far end.
 */
export class CallCredentialStore {
  private readonly calls = new Map<string, CallAuth>();

  register(callId: string, credentials: ClientCredentials, firstSeq: number): void {
    const known = this.calls.get(callId);
    this.calls.delete(callId);
    // A REGISTER refresh re-registers its Call-ID: the numbering goes on past authenticated re-sends.
    this.calls.set(callId, { client: new DigestClient(credentials), lastSeq: Math.max(known?.lastSeq ?? 0, firstSeq - 1), realm: known?.realm });
    if (this.calls.size > MAX_AUTHENTICATED_CALLS) {
      const oldest = this.calls.keys().next().value;
      if (oldest !== undefined) this.calls.delete(oldest);
    }
  }

  has(callId: string): boolean {
    return this.calls.has(callId);
  }

  forget(callId: string): void {
    this.calls.delete(callId);
  }

  get size(): number {
    return this.calls.size;
  }

  /**
   * Sends `req` through `send` and answers its challenges; undefined when the Call-ID has no
   * credentials (the caller sends it plainly).
   */
  send(
    req: SipRequest,
    handler: ClientTransactionHandler,
    send: (req: SipRequest, handler: ClientTransactionHandler) => ClientTransaction,
  ): ClientTransaction | undefined {
    const auth = this.calls.get(req.callId);
    if (!auth || req.method === 'ACK') return undefined;
    if (req.method !== 'CANCEL') this.numberPast(auth, req);
    if (req.method === 'CANCEL') return undefined;
    return new AuthenticatingTransaction(req, handler, send, auth, this);
  }

  numberPast(auth: CallAuth, req: SipRequest): void {
    if (req.cseq.seq <= auth.lastSeq) req.headers.set('CSeq', `${auth.lastSeq + 1} ${req.method}`);
    auth.lastSeq = req.cseq.seq;
  }
}

/** One request and its authenticated re-sends; `request` and `cancel` follow the latest one. */
class AuthenticatingTransaction implements ClientTransaction {
  private current: ClientTransaction;
  private attempts = 0;
  private cancelRequested = false;

  constructor(
    private readonly req: SipRequest,
    private readonly handler: ClientTransactionHandler,
    private readonly sendOne: (req: SipRequest, handler: ClientTransactionHandler) => ClientTransaction,
    private readonly auth: CallAuth,
    private readonly store: CallCredentialStore,
  ) {
    this.current = this.sendOne(req, this.wrapped());
  }

  get request(): SipRequest {
    return this.current.request;
  }

  get state(): string {
    return this.current.state;
  }

  cancel(): void {
    this.cancelRequested = true;
    this.current.cancel();
  }

  stopRetransmitting(): void {
    this.current.stopRetransmitting?.();
  }

  private wrapped(): ClientTransactionHandler {
    return {
      onProvisional: (r) => this.handler.onProvisional?.(r),
      onFinal: (r) => this.onFinal(r),
      onAccepted2xx: (r) => this.handler.onAccepted2xx?.(r),
      onTimeout: () => this.handler.onTimeout?.(),
      onTransportError: (err) => this.handler.onTransportError?.(err),
    };
  }

  private onFinal(res: SipResponse): void {
    if ((res.status === 401 || res.status === 407) && !this.cancelRequested && this.attempts < MAX_AUTH_ATTEMPTS) {
      const answer = this.auth.client.authorize(res, { method: this.req.method, uri: formatUri(this.req.uri) });
      if (answer && (this.auth.realm === undefined || this.auth.realm === answer.realm)) {
        this.auth.realm = answer.realm;
        this.attempts++;
        // Same request object: whoever built it (a dialog's ACK, a leg's CANCEL) sees the CSeq and
        // Via the far end saw. The old transaction sent its bytes already and keeps them.
        const h = this.req.headers;
        h.remove('Via');
        h.set(answer.headerName, answer.headerValue);
        h.set('CSeq', `${this.req.cseq.seq + 1} ${this.req.method}`);
        this.store.numberPast(this.auth, this.req);
        this.current = this.sendOne(this.req, this.wrapped());
        return;
      }
    }
    const isInitialInvite = this.req.method === 'INVITE' && this.req.to.params['tag'] === undefined;
    if (this.req.method === 'BYE' || (isInitialInvite && res.status >= 300)) this.store.forget(this.req.callId);
    this.handler.onFinal?.(res);
  }
}
