import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import {
  callIdForLog,
  createResponse,
  digestUriMatchesRequest,
  formatUri,
  newTag,
  parseContactList,
  parseUri,
  SipParseError,
  type AuthGuard,
  type DigestFailureReason,
  type DigestServer,
  type NameAddr,
  type ServerTransaction,
  type SipRequest,
  type SipResponse,
  type SipUri,
} from '../sip/index.ts';
import type { AccountAuth, AccountDirectory, TenantRef } from './account-directory.ts';
import type { Binding } from './binding.ts';
import type { LocationService } from './location-service.ts';
import { sourceTrust } from './source-trust.ts';
import type { EmitRegistrationEvent } from './registration-event.ts';

export interface RegistrarOptions {
  directory: AccountDirectory;
  location: LocationService;
  digest: DigestServer;
  emit: EmitRegistrationEvent;
  logger?: Logger;
  /** Below this (and not 0) → 423 Interval Too Brief with Min-Expires. Default 60 s. */
  minExpiresSec?: number;
  /** Longer requests are clamped to this. Default 3600 s. */
  maxExpiresSec?: number;
  /** When neither the Contact nor an Expires header says. Default 3600 s. */
  defaultExpiresSec?: number;
  /** Oldest bindings (least recently refreshed) are evicted past this. Default 10. */
  maxBindingsPerAccount?: number;
  /** Brute-force guard shared with the calls layer; banned sources get 403 before any work. */
  authGuard?: AuthGuard;
  /** Names of this switch besides its interface addresses (public address) a digest `uri` may name. */
  ownHosts?: string[];
}

interface ContactPlan {
  contact: NameAddr;
  contactUri: string;
  expiresSec: number;
  q?: number;
  instanceId?: string;
  regId?: number;
  /** Existing binding this contact updates or removes. */
  match?: Binding;
}

/**
 * A request that must be answered with an error, thrown inside handling and caught once in
 * `handle`. Deliberately not an Error: every registration starts with a 401 thrown this way, and
 * capturing a stack trace per challenge showed up in the REGISTER profile (bench/).
 */
class RegistrarReject {
  constructor(
    readonly status: number,
    readonly reasonPhrase: string,
    readonly headers: Array<[name: string, value: string]> = [],
  ) {}
}

/**
 * REGISTER handling per RFC 3261 §10.3 (with RFC 5626 instance/reg-id and RFC 3327 Path).
 *
 * Decisions worth knowing:
 * - Unknown users are challenged like everyone else and then fail exactly like a wrong
 *   password: 403 "Forbidden", no challenge header.
 * - A stale, replayed, foreign or otherwise unusable nonce gets a fresh 401 challenge
 *   (`stale=true` when the digest itself was right).
 * - An out-of-order request (same Call-ID, CSeq not above the stored one, §10.3 step 7) is
 *   refused as a whole with 500 "Request out of order" and changes nothing.
 * - Every check runs before any binding changes: a request is applied entirely or not at all.
 */
export class Registrar {
  private readonly directory: AccountDirectory;
  private readonly location: LocationService;
  private readonly digest: DigestServer;
  private readonly emit: EmitRegistrationEvent;
  private readonly logger: Logger | undefined;
  readonly minExpiresSec: number;
  readonly maxExpiresSec: number;
  readonly defaultExpiresSec: number;
  readonly maxBindingsPerAccount: number;
  private readonly ownHosts: string[];
  private readonly authGuard: AuthGuard | undefined;

  constructor(opts: RegistrarOptions) {
    this.directory = opts.directory;
    this.location = opts.location;
    this.digest = opts.digest;
    this.emit = opts.emit;
    this.logger = opts.logger;
    this.minExpiresSec = opts.minExpiresSec ?? 60;
    this.maxExpiresSec = Math.max(opts.maxExpiresSec ?? 3600, this.minExpiresSec);
    this.defaultExpiresSec = Math.min(Math.max(opts.defaultExpiresSec ?? 3600, this.minExpiresSec), this.maxExpiresSec);
    this.maxBindingsPerAccount = Math.max(1, opts.maxBindingsPerAccount ?? 10);
    this.ownHosts = opts.ownHosts ?? [];
    this.authGuard = opts.authGuard;
  }

  /**
   * Answers a REGISTER. Never throws: every failure becomes a response. The response is sent on
   * `tx` when given, and returned either way.
   */
  async handle(req: SipRequest, tx?: ServerTransaction): Promise<SipResponse> {
    let res: SipResponse;
    try {
      res = await this.process(req);
    } catch (err) {
      if (err instanceof RegistrarReject) {
        res = createResponse(req, err.status, err.reasonPhrase, { toTag: newTag() });
        for (const [name, value] of err.headers) res.headers.append(name, value);
      } else if (err instanceof SipParseError) {
        res = createResponse(req, 400, err.reason || 'Bad Request', { toTag: newTag() });
      } else {
        this.logger?.error({ err, callId: callIdForLog(req) }, 'REGISTER handling failed');
        res = createResponse(req, 500, 'Server Internal Error', { toTag: newTag() });
      }
    }
    try {
      tx?.respond(res);
    } catch (err) {
      this.logger?.warn({ err, callId: callIdForLog(req) }, 'could not send REGISTER response');
    }
    return res;
  }

  private async process(req: SipRequest): Promise<SipResponse> {
    if (req.method !== 'REGISTER') throw new RegistrarReject(405, 'Method Not Allowed', [['Allow', 'REGISTER']]);
    if (req.source && this.authGuard?.isBanned(req.source.address)) throw new RegistrarReject(403, 'Forbidden');
    const domain = req.uri.host.toLowerCase();
    const tenant = await this.directory.tenantForDomain(domain);
    if (!tenant) {
      this.fail(req, { tenantId: null, domain, status: 403, reason: 'Domain not serviced' });
      throw new RegistrarReject(403, 'Domain not serviced');
    }

    const to = req.to;
    const toUser = to.uri.user;
    if ((to.uri.scheme !== 'sip' && to.uri.scheme !== 'sips') || !toUser) {
      throw new RegistrarReject(400, 'Invalid To address-of-record');
    }
    const toDomain = to.uri.host.toLowerCase();
    if (toDomain !== domain && toDomain !== tenant.domain.toLowerCase()) {
      const toTenant = await this.directory.tenantForDomain(toDomain);
      // RFC 3261 §10.3 step 3: an AoR not valid for the Request-URI's domain gets 404.
      if (toTenant?.id !== tenant.id) throw new RegistrarReject(404, 'Not Found');
    }

    const account = await this.directory.find(toUser, tenant.domain);
    await this.authenticate(req, tenant, toUser, account);
    // Authentication only succeeds for an existing account.
    const acct = account as AccountAuth;
    if (acct.disabled) {
      this.fail(req, { tenantId: tenant.id, user: toUser, domain: tenant.domain, status: 403, reason: 'Account disabled' });
      throw new RegistrarReject(403, 'Account disabled');
    }

    this.updateBindings(req, tenant, acct);
    return this.okResponse(req, acct, tenant);
  }

  /** Returns when `req` is authenticated for `account`; otherwise throws the answer. */
  private async authenticate(req: SipRequest, tenant: TenantRef, toUser: string, account: AccountAuth | undefined): Promise<void> {
    const trust = account ? sourceTrust(account, req.source) : 'digest-required';
    if (trust === 'trusted') return;
    // A source outside the account's networks is challenged and then refused like an unknown
    // user: answering 403 at once would tell a scanner which accounts exist and are fenced.
    const usable = trust === 'forbidden' ? undefined : account;
    const realm = tenant.domain;
    const headerValues = req.headers.getAll('Authorization');
    const creds = headerValues.length ? this.digest.findCredentials(headerValues, realm) : undefined;
    if (creds && creds !== 'malformed' && creds.username !== toUser) {
      this.authFailed(req, toUser, realm, 'username-mismatch');
      this.fail(req, { tenantId: tenant.id, user: toUser, domain: realm, status: 403, reason: 'Authentication username does not match To' });
      throw new RegistrarReject(403, 'Authentication username does not match To');
    }
    const result = this.digest.verify({
      headerValues,
      realm,
      method: req.method,
      requestUri: (digestUri) => digestUriMatchesRequest(digestUri, req, { ownHosts: this.ownHosts }),
      lookupHa1: (username, algorithm) => {
        if (!usable || username !== usable.username) return undefined;
        return algorithm === 'MD5' ? usable.ha1Md5 : usable.ha1Sha256;
      },
    });
    if (result.ok) return;
    switch (result.reason) {
      case 'malformed':
        throw new RegistrarReject(400, 'Malformed Authorization header');
      case 'uri-mismatch':
        throw new RegistrarReject(400, 'Digest URI does not match Request-URI');
      case 'bad-response':
        this.authFailed(req, toUser, realm, trust === 'forbidden' ? 'source-not-allowed' : 'bad-response');
        this.fail(req, { tenantId: tenant.id, user: toUser, domain: realm, status: 403, reason: 'Authentication failed' });
        throw new RegistrarReject(403, 'Forbidden');
      default:
        throw this.challenge(req, realm, result.stale, result.reason);
    }
  }

  private authFailed(req: SipRequest, user: string, realm: string, reason: string): void {
    const source = req.source;
    if (!source || !this.authGuard) return;
    this.authGuard.recordFailure({ source: source.address, port: source.port, transport: source.transport, user, realm, reason });
  }

  private challenge(req: SipRequest, realm: string, stale: boolean, why: DigestFailureReason): RegistrarReject {
    if (why !== 'missing') this.logger?.debug({ callId: callIdForLog(req), why }, 'REGISTER challenged again');
    const values = this.digest.challengeHeaders(realm, { stale });
    return new RegistrarReject(401, 'Unauthorized', values.map((v) => ['WWW-Authenticate', v]));
  }

  private updateBindings(req: SipRequest, tenant: TenantRef, account: AccountAuth): void {
    const contactValues = req.headers.getAll('Contact');
    if (contactValues.length === 0) return; // a fetch

    const callId = req.callId;
    const cseq = req.cseq.seq;
    const expiresHeader = parseExpiresHeader(req.headers.get('Expires'));
    const user = account.username;
    const domain = tenant.domain;
    const existing = this.location.bindingsOf(user, domain);

    const parsed: NameAddr[] = [];
    let wildcard = false;
    for (const value of contactValues) {
      const list = parseContactList(value);
      if (list === '*') wildcard = true;
      else parsed.push(...list);
    }
    if (wildcard) {
      // RFC 3261 §10.3 step 6: "*" only alone and only with Expires: 0.
      if (contactValues.length !== 1 || parsed.length > 0 || expiresHeader !== 0) {
        throw new RegistrarReject(400, 'Invalid wildcard Contact');
      }
      for (const b of existing) if (b.callId === callId && cseq <= b.cseq) throw outOfOrder();
      for (const b of existing) this.location.remove(b.id, 'wildcard');
      return;
    }

    const plans: ContactPlan[] = [];
    for (const contact of parsed) {
      const plan = this.planContact(contact, expiresHeader, existing);
      if (plan.match && plan.match.callId === callId && cseq <= plan.match.cseq) throw outOfOrder();
      plans.push(plan);
    }
    const tooBrief = plans.some((p) => p.expiresSec > 0 && p.expiresSec < this.minExpiresSec);
    if (tooBrief) throw new RegistrarReject(423, 'Interval Too Brief', [['Min-Expires', String(this.minExpiresSec)]]);

    const now = this.location.now();
    const source = req.source ?? { transport: 'udp' as const, address: '', port: 0 };
    const userAgent = req.headers.get('User-Agent');
    const path = req.headers.getAll('Path');
    for (const plan of plans) {
      const match = plan.match;
      if (plan.expiresSec === 0) {
        if (match) this.location.remove(match.id, 'unregistered');
        continue;
      }
      // RFC 5626 §6: same instance + reg-id from a new flow replaces the old binding.
      const replaced = match && match.contactUri !== plan.contactUri;
      if (replaced) this.location.remove(match.id, 'replaced');
      const keep = match && !replaced ? match : undefined;
      const contactParams: Record<string, string | null> = {};
      for (const [k, v] of Object.entries(plan.contact.params)) if (k !== 'expires' && k !== 'q') contactParams[k] = v;
      this.location.upsert({
        id: keep?.id ?? randomBytes(9).toString('base64url'),
        accountId: account.id,
        tenantId: tenant.id,
        user,
        domain,
        contactUri: plan.contactUri,
        contactParams,
        q: plan.q,
        expiresAt: now + Math.min(plan.expiresSec, this.maxExpiresSec) * 1000,
        callId,
        cseq,
        instanceId: plan.instanceId,
        regId: plan.regId,
        source: { ...source },
        localEndpoint: req.localEndpoint ? { ...req.localEndpoint } : undefined,
        userAgent,
        path,
        registeredAt: keep?.registeredAt ?? now,
        updatedAt: now,
        natKeepAlive: account.natKeepAlive,
        keepAliveMethod: account.keepAliveMethod ?? 'crlf',
      });
    }

    const current = this.location.bindingsOf(user, domain);
    if (current.length > this.maxBindingsPerAccount) {
      const oldestFirst = [...current].sort((a, b) => a.updatedAt - b.updatedAt || a.registeredAt - b.registeredAt);
      for (const b of oldestFirst.slice(0, current.length - this.maxBindingsPerAccount)) this.location.remove(b.id, 'evicted');
    }
  }

  private planContact(contact: NameAddr, expiresHeader: number | undefined, existing: Binding[]): ContactPlan {
    const contactUri = formatUri(contact.uri);
    const expiresParam = contact.params['expires'];
    let expiresSec = expiresHeader ?? this.defaultExpiresSec;
    if (expiresParam !== undefined && expiresParam !== null) {
      const v = parseDeltaSeconds(expiresParam);
      if (v !== undefined) expiresSec = v;
    }
    let q: number | undefined;
    const qParam = contact.params['q'];
    if (qParam !== undefined) {
      if (qParam === null || !/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(qParam)) throw new RegistrarReject(400, 'Invalid q value');
      q = Number(qParam);
    }
    const instanceId = contact.params['+sip.instance'] ?? undefined;
    const regIdText = contact.params['reg-id'];
    const regId = regIdText && /^\d{1,10}$/.test(regIdText) ? Number(regIdText) : undefined;

    // RFC 5626 §6: with instance and reg-id the binding is keyed by them (one per flow);
    // otherwise by Contact URI (RFC 3261 §10.3 step 7).
    let match: Binding | undefined;
    if (instanceId !== undefined && regId !== undefined) {
      match = existing.find((b) => b.instanceId === instanceId && b.regId === regId);
    } else {
      const key = contactMatchKey(contact.uri);
      match = existing.find((b) => safeMatchKey(b.contactUri) === key);
    }
    return { contact, contactUri, expiresSec, q, instanceId, regId, match };
  }

  private okResponse(req: SipRequest, account: AccountAuth, tenant: TenantRef): SipResponse {
    const now = this.location.now();
    const res = createResponse(req, 200, 'OK', { toTag: newTag() });
    for (const b of this.location.bindingsOf(account.username, tenant.domain)) {
      const expires = Math.max(0, Math.ceil((b.expiresAt - now) / 1000));
      let value = `<${b.contactUri}>;expires=${expires}`;
      if (b.q !== undefined) value += `;q=${b.q}`;
      for (const [k, v] of Object.entries(b.contactParams)) value += v === null ? `;${k}` : `;${k}=${v}`;
      res.headers.append('Contact', value);
    }
    for (const p of req.headers.getAll('Path')) res.headers.append('Path', p);
    res.headers.append('Date', new Date(now).toUTCString());
    return res;
  }

  private fail(req: SipRequest, info: { tenantId: number | null; user?: string; domain: string; status: number; reason: string }): void {
    this.emit({ type: 'registration.failed', ...info, source: req.source ? { ...req.source } : undefined });
  }
}

function outOfOrder(): RegistrarReject {
  return new RegistrarReject(500, 'Request out of order');
}

function parseDeltaSeconds(text: string): number | undefined {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return undefined;
  // RFC 3261 §20.19: larger values are taken as 2^32-1.
  return t.length > 10 ? 0xffffffff : Math.min(Number(t), 0xffffffff);
}

function parseExpiresHeader(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const v = parseDeltaSeconds(value);
  if (v === undefined) throw new RegistrarReject(400, 'Invalid Expires header');
  return v;
}

/** Enough of RFC 3261 §19.1.4 URI equality to recognise a re-registered contact. */
function contactMatchKey(uri: SipUri): string {
  const transport = uri.params['transport'];
  return [uri.scheme, uri.user ?? '', uri.host.toLowerCase(), uri.port ?? '', transport ? transport.toLowerCase() : ''].join('|');
}

function safeMatchKey(uriText: string): string {
  try {
    return contactMatchKey(parseUri(uriText));
  } catch {
    return `unparsable|${uriText}`;
  }
}
