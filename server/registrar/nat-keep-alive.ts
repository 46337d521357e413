import type { Logger } from 'pino';
import { newCallId, newTag, SipRequest, type Endpoint } from '../sip/index.ts';
import { SipHeaders } from '../sip/index.ts';
import type { ClientTransaction, ClientTransactionHandler } from '../sip/index.ts';
import { parseUri } from '../sip/index.ts';
import type { Binding } from './binding.ts';
import type { LocationService } from './location-service.ts';

interface InFlightProbe {
  /** location.now() when sent. */
  startedAt: number;
  lost(reason: 'qualify-timeout' | 'transport-error'): void;
}

/** The part of SipStack keep-alives need (a fake in tests). */
export interface KeepAliveTransport {
  sendKeepAlive(target: Endpoint): void;
  sendRequest(req: SipRequest, opts: { target?: Endpoint; handler?: ClientTransactionHandler }): ClientTransaction;
}

export interface NatKeepAliveOptions {
  stack: KeepAliveTransport;
  location: LocationService;
  logger?: Logger;
  /** Keep-alive period for UDP bindings of accounts with the NAT flag. Default 20 s; 0 = off. */
  keepAliveIntervalSec?: number;
  /**
   * OPTIONS qualify period for those bindings (any transport). Default 60 s; 0 = off. A probe
   * still unanswered when the next round starts counts as a timeout, so a period shorter than
   * Timer F (64*T1) detects a silent device sooner.
   */
  qualifyIntervalSec?: number;
  /** Value for the probes' From user. Default "patchbay". */
  fromUser?: string;
}

/**
 * NAT keep-alives and qualify probes for bindings of accounts with `natKeepAlive`.
 *
 * UDP bindings get a CRLF keep-alive (RFC 5626 §4.4.1) every interval — or an OPTIONS when the
 * account asks for that, since some NAT boxes only keep mappings alive for real SIP. An OPTIONS
 * qualify probe checks the device still answers: any response counts as alive (a 404 or 405
 * still proves the device and the NAT mapping); a timeout or transport error removes the binding.
 */
export class NatKeepAlive {
  private readonly stack: KeepAliveTransport;
  private readonly location: LocationService;
  private readonly logger: Logger | undefined;
  private readonly keepAliveMs: number;
  private readonly qualifyMs: number;
  private readonly fromUser: string;
  /** Probes in flight by binding id: never two at once for one binding. */
  private readonly inFlight = new Map<string, InFlightProbe>();
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private qualifyTimer: NodeJS.Timeout | undefined;

  constructor(opts: NatKeepAliveOptions) {
    this.stack = opts.stack;
    this.location = opts.location;
    this.logger = opts.logger;
    this.keepAliveMs = (opts.keepAliveIntervalSec ?? 20) * 1000;
    this.qualifyMs = (opts.qualifyIntervalSec ?? 60) * 1000;
    this.fromUser = opts.fromUser ?? 'patchbay';
  }

  start(): void {
    if (this.keepAliveTimer || this.qualifyTimer) return;
    // 0 means off: setInterval(fn, 0) would spin every millisecond.
    if (this.keepAliveMs > 0) {
      this.keepAliveTimer = setInterval(() => this.sendKeepAlives(), this.keepAliveMs);
      this.keepAliveTimer.unref();
    }
    if (this.qualifyMs > 0) {
      this.qualifyTimer = setInterval(() => this.qualify(), this.qualifyMs);
      this.qualifyTimer.unref();
    }
  }

  stop(): void {
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    if (this.qualifyTimer) clearInterval(this.qualifyTimer);
    this.keepAliveTimer = this.qualifyTimer = undefined;
  }

  /** One keep-alive round; returns how many bindings were pinged. */
  sendKeepAlives(): number {
    let sent = 0;
    for (const binding of [...this.location.all()]) {
      if (!binding.natKeepAlive || binding.source.transport !== 'udp') continue;
      if (binding.keepAliveMethod === 'options') {
        if (this.probe(binding)) sent++;
      } else {
        try {
          this.stack.sendKeepAlive({ ...binding.source });
          sent++;
        } catch (err) {
          this.logger?.debug({ err, bindingId: binding.id }, 'keep-alive send failed');
        }
      }
    }
    return sent;
  }

  /** One qualify round; returns how many probes were started. */
  qualify(): number {
    if (this.qualifyMs > 0) {
      const now = this.location.now();
      for (const probe of [...this.inFlight.values()]) {
        if (now - probe.startedAt >= this.qualifyMs) probe.lost('qualify-timeout');
      }
    }
    let started = 0;
    for (const binding of [...this.location.all()]) {
      if (binding.natKeepAlive && this.probe(binding)) started++;
    }
    return started;
  }

  /** Number of OPTIONS probes awaiting an answer. */
  get probesInFlight(): number {
    return this.inFlight.size;
  }

  private probe(binding: Binding): boolean {
    if (this.inFlight.has(binding.id)) return false;
    let req: SipRequest;
    try {
      req = this.buildOptions(binding);
    } catch (err) {
      this.logger?.debug({ err, bindingId: binding.id }, 'cannot build OPTIONS for binding');
      return false;
    }
    const startedAt = this.location.now();
    let settled = false;
    const done = (): void => {
      // A late answer to a probe already given up on must not clear its successor.
      if (this.inFlight.get(binding.id) === probe) this.inFlight.delete(binding.id);
    };
    const lost = (reason: 'qualify-timeout' | 'transport-error'): void => {
      done();
      if (settled) return;
      settled = true;
      const current = this.location.get(binding.id);
      // A REGISTER that arrived during the probe proves the device is alive.
      if (!current || current.updatedAt > startedAt) return;
      this.location.remove(binding.id, reason);
    };
    const probe: InFlightProbe = { startedAt, lost };
    this.inFlight.set(binding.id, probe);
    try {
      this.stack.sendRequest(req, {
        target: { ...binding.source },
        handler: {
          onFinal: () => {
            settled = true;
            done();
          },
          onTimeout: () => lost('qualify-timeout'),
          onTransportError: () => lost('transport-error'),
        },
      });
    } catch (err) {
      this.logger?.debug({ err, bindingId: binding.id }, 'OPTIONS probe could not be sent');
      lost('transport-error');
      return false;
    }
    return true;
  }

  private buildOptions(binding: Binding): SipRequest {
    const uri = parseUri(binding.contactUri);
    const headers = new SipHeaders();
    headers.append('From', `<sip:${this.fromUser}@${binding.domain}>;tag=${newTag()}`);
    headers.append('To', `<${binding.contactUri}>`);
    headers.append('Call-ID', newCallId(binding.domain));
    headers.append('CSeq', '1 OPTIONS');
    headers.append('Max-Forwards', '70');
    // RFC 3327: requests to a binding registered through proxies go back along its Path.
    for (const hop of binding.path) headers.append('Route', hop);
    headers.append('Content-Length', '0');
    return new SipRequest({ method: 'OPTIONS', uri, headers });
  }
}
