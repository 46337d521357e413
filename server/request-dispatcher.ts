import type { Logger } from 'pino';
import { callIdForLog, createResponse, type SipRequest } from './sip/index.ts';
import type { SipStack } from './sip/index.ts';
import type { ServerTransaction } from './sip/index.ts';

/** A service that may take a request; false means "not mine". */
export interface RequestHandler {
  handleRequest(req: SipRequest, tx: ServerTransaction | undefined): boolean;
}

export interface RequestDispatcherOptions {
  stack: SipStack;
  logger: Logger;
  registrar: { handle(req: SipRequest, tx?: ServerTransaction): Promise<unknown> };
  /** The B2BUA, once wired: INVITE, in-dialog requests, CANCEL, ACK. */
  calls?: RequestHandler;
  /** SUBSCRIBE/NOTIFY notifier (server/presence), once wired. */
  presence?: RequestHandler;
  userAgent: string;
}

/** Option tags we implement; anything else in Require gets 420 (RFC 3261 §8.2.2.3). */
const SUPPORTED_EXTENSIONS = new Set<string>(['path', 'replaces']);

/**
 * The switch's core: the checks every request passes (§8.2.1–8.2.3, §16.3 step 3) and the
 * routing by method to the registrar and the B2BUA. Answers nothing twice and never throws
 * into the transport.
 */
export class RequestDispatcher {
  constructor(private readonly opts: RequestDispatcherOptions) {}

  get allow(): string {
    const methods = ['REGISTER', 'OPTIONS'];
    if (this.opts.calls) methods.push('INVITE', 'ACK', 'BYE', 'CANCEL', 'UPDATE', 'INFO', 'REFER');
    if (this.opts.presence) methods.push('SUBSCRIBE');
    return methods.join(', ');
  }

  dispatch(req: SipRequest, tx: ServerTransaction | undefined): void {
    try {
      this.route(req, tx);
    } catch (err) {
      this.opts.logger.error({ err, callId: callIdForLog(req), method: req.method }, 'request handling failed');
      if (tx && req.method !== 'ACK') this.reply(tx, 500, 'Server Internal Error');
    }
  }

  private route(req: SipRequest, tx: ServerTransaction | undefined): void {
    const method = req.method;
    if (method === 'ACK') {
      // ACK for a 2xx belongs to a dialog; ACKs for non-2xx never leave the transaction layer.
      this.opts.calls?.handleRequest(req, tx);
      return;
    }
    if (!tx) return;
    if (req.uri.scheme !== 'sip' && req.uri.scheme !== 'sips') {
      this.reply(tx, 416, 'Unsupported URI Scheme');
      return;
    }
    if (method !== 'CANCEL') {
      const unsupported = unsupportedRequires(req);
      if (unsupported.length > 0) {
        this.reply(tx, 420, 'Bad Extension', { Unsupported: unsupported.join(', ') });
        return;
      }
    }
    const hasToTag = req.to.params.tag !== undefined;
    if (req.maxForwards === 0 && !(method === 'OPTIONS' && !hasToTag)) {
      this.reply(tx, 483, 'Too Many Hops');
      return;
    }
    if (method === 'REGISTER') {
      void this.opts.registrar.handle(req, tx);
      return;
    }
    if (method === 'SUBSCRIBE' && this.opts.presence?.handleRequest(req, tx)) return;
    if (this.opts.calls?.handleRequest(req, tx)) return;
    if (method === 'OPTIONS' && !hasToTag) {
      this.reply(tx, 200, 'OK', { Accept: 'application/sdp', 'Accept-Language': 'en', Supported: [...SUPPORTED_EXTENSIONS].join(', ') });
      return;
    }
    if (method === 'CANCEL') {
      // The stack answers CANCELs that match an INVITE; one that matches nothing is 481.
      this.reply(tx, 481, 'Call/Transaction Does Not Exist');
      return;
    }
    if (hasToTag && this.opts.calls) {
      this.reply(tx, 481, 'Call/Transaction Does Not Exist');
      return;
    }
    this.reply(tx, 405, 'Method Not Allowed');
  }

  private reply(tx: ServerTransaction, status: number, reason: string, headers: Record<string, string> = {}): void {
    const res = createResponse(tx.request, status, reason, { headers: { Allow: this.allow, Server: this.opts.userAgent, ...headers } });
    tx.respond(res);
  }
}

function unsupportedRequires(req: SipRequest): string[] {
  return req.headers
    .getAll('Require')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t.length > 0 && !SUPPORTED_EXTENSIONS.has(t));
}

