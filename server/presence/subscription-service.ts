import type { Logger } from 'pino';
import type { EventBus, SequencedEvent } from '../events/index.ts';
import { Dialog, createResponse, dialogKey, dialogKeyOfRequest, formatHost, newTag, type SipRequest, type SipStack } from '../sip/index.ts';
import type { ServerTransaction } from '../sip/index.ts';
import { DIALOG_INFO_TYPE, dialogElementId, renderDialogInfo, type WatchedDialog } from './dialog-info.ts';
import type { ExtensionView } from './extension-presence.ts';
import { MESSAGE_SUMMARY_TYPE, renderEmptyMessageSummary } from './message-summary.ts';
import { PIDF_TYPE, renderPidf } from './pidf.ts';
import { EVENT_PACKAGES, SubscriptionState, canMove, type EventPackage, type Subscription } from './subscription.ts';

/** What the INVITE digest path answers for a SUBSCRIBE (CallService.authenticateAccount satisfies it). */
export type SubscriberAuth =
  | { ok: true; tenant: { id: number; domain: string }; account: { id: number; username: string } }
  | { ok: false; status: number; reason?: string; headers?: Array<[string, string]> };

export interface SubscriptionLimits {
  /** Subscriptions one subscribing account may hold (a phone with a BLF sidecar: ~100 keys × 2 packages). */
  perAccount: number;
  /** Subscriptions of the whole switch. */
  total: number;
  /** Shortest Expires accepted (423 below it, RFC 6665 §4.2.1.1). */
  minExpiresSec: number;
  /** Longest Expires granted (a longer ask is shortened). */
  maxExpiresSec: number;
}

export const DEFAULT_SUBSCRIPTION_LIMITS: SubscriptionLimits = { perAccount: 200, total: 20_000, minExpiresSec: 60, maxExpiresSec: 3600 };

/** Default Expires when a SUBSCRIBE has none (RFC 4235 §3.1, RFC 3856 §6.4, RFC 3842 §4.1: 3600). */
const DEFAULT_EXPIRES_SEC = 3600;
/** NOTIFYs queued behind the one in flight before the oldest waiting one is dropped (full state each). */
const MAX_QUEUED_NOTIFIES = 16;

export interface SubscriptionServiceOptions {
  stack: Pick<SipStack, 'sendRequest' | 'localAddressFor' | 'wheel'>;
  bus: EventBus;
  logger: Logger;
  userAgent?: string;
  publicAddress?: string;
  authenticate(req: SipRequest): Promise<SubscriberAuth>;
  tenantForDomain(domain: string): Promise<{ id: number; domain: string } | undefined>;
  /** `domain` is the tenant's primary domain. */
  findAccount(user: string, domain: string): Promise<{ id: number; username: string } | undefined>;
  /** The early/confirmed SIP dialogs of an account's phones (CallService.phoneDialogs satisfies it). */
  dialogs(tenantId: number, user: string): WatchedDialog[];
  limits?: Partial<SubscriptionLimits>;
}

/** Events after which some watched state may have changed. */
const WATCHED_EVENTS = ['call.*', 'leg.*', 'extension.state', 'registration.*', 'account.dnd', 'config.changed'];

/**
 * SUBSCRIBE/NOTIFY notifier (RFC 6665) for the `dialog` (RFC 4235, BLF), `presence` (RFC 3856,
 * PIDF) and `message-summary` (RFC 3842) packages, for any account of the subscriber's own
 * tenant. The subscriber proves itself with the same digest challenge INVITEs get. State lives
 * only in memory: after a restart phones get 481 on their refresh and subscribe again.
 *
 * Every change recomputes the full state of the tenant's subscriptions once per tick (coalesced)
 * and sends a NOTIFY where what the subscriber was told last differs; NOTIFYs of one
 * subscription go one at a time, in order, and any failed one ends the subscription.
 */
export class SubscriptionService {
  private readonly subs = new Map<string, Subscription>();
  /** The same subscriptions by tenant: a change is recomputed for its tenant's subscriptions only. */
  private readonly byTenant = new Map<number, Set<Subscription>>();
  private readonly perAccount = new Map<number, number>();
  private readonly limits: SubscriptionLimits;
  private readonly dirtyTenants = new Set<number>();
  private flushScheduled = false;
  private readonly unsubscribe: () => void;
  private closed = false;
  /** Where extension states come from (ExtensionPresence, attached once it exists). */
  extensions?: { get(tenantId: number, accountId: number): ExtensionView | undefined };

  constructor(private readonly opts: SubscriptionServiceOptions) {
    this.limits = { ...DEFAULT_SUBSCRIPTION_LIMITS, ...opts.limits };
    this.unsubscribe = opts.bus.subscribe({ types: WATCHED_EVENTS }, (e) => this.onEvent(e));
  }

  get size(): number {
    return this.subs.size;
  }

  /** Takes SUBSCRIBE (new, refresh, unsubscribe); false for anything else. Never throws. */
  handleRequest(req: SipRequest, tx: ServerTransaction | undefined): boolean {
    if (req.method !== 'SUBSCRIBE') return false;
    if (!tx) return true;
    if (req.to.params['tag'] !== undefined) {
      const sub = this.subs.get(dialogKeyOfRequest(req));
      if (!sub || sub.state === SubscriptionState.Terminated) this.reply(req, tx, 481, 'Subscription does not exist');
      else this.refresh(sub, req, tx);
      return true;
    }
    void this.subscribe(req, tx).catch((err: unknown) => {
      this.opts.logger.error({ err, sipCallId: req.callId }, 'SUBSCRIBE failed');
      this.reply(req, tx, 500);
    });
    return true;
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const sub of this.subs.values()) this.opts.stack.wheel.cancel(sub.timer);
    this.subs.clear();
    this.byTenant.clear();
    this.perAccount.clear();
  }

  // ------------------------------------------------------------------ SUBSCRIBE

  private async subscribe(req: SipRequest, tx: ServerTransaction): Promise<void> {
    const parsed = parseEventHeader(req.headers.get('Event'));
    if (!parsed) return this.reply(req, tx, 400, 'Missing Event header');
    if (!(EVENT_PACKAGES as readonly string[]).includes(parsed.pkg)) {
      return this.reply(req, tx, 489, 'Bad Event', { 'Allow-Events': EVENT_PACKAGES.join(', ') });
    }
    const pkg = parsed.pkg as EventPackage;
    const expires = this.expiresOf(req);
    if (expires === 'bad') return this.reply(req, tx, 400, 'Malformed Expires header');
    if (expires > 0 && expires < this.limits.minExpiresSec) {
      return this.reply(req, tx, 423, 'Interval Too Brief', { 'Min-Expires': String(this.limits.minExpiresSec) });
    }
    if (!acceptsType(req, contentTypeOf(pkg))) return this.reply(req, tx, 406, 'Not Acceptable', { Accept: contentTypeOf(pkg) });

    const auth = await this.opts.authenticate(req);
    if (!auth.ok) {
      const res = createResponse(req, auth.status, auth.reason, { toTag: newTag(), headers: this.baseHeaders() });
      for (const [k, v] of auth.headers ?? []) res.headers.append(k, v);
      tx.respond(res);
      return;
    }
    // The watched resource: an account of the subscriber's own tenant. Another tenant's user and
    // a user that does not exist get the same 404, so SUBSCRIBE cannot probe other tenants.
    const user = req.uri.user;
    const targetTenant = user ? await this.opts.tenantForDomain(req.uri.host.toLowerCase()) : undefined;
    const watched = targetTenant && targetTenant.id === auth.tenant.id ? await this.opts.findAccount(user!, auth.tenant.domain) : undefined;
    if (!watched) return this.reply(req, tx, 404, 'Not Found');
    if (this.closed) return this.reply(req, tx, 503, 'Shutting down', { 'Retry-After': '30' });
    if (expires > 0) {
      if ((this.perAccount.get(auth.account.id) ?? 0) >= this.limits.perAccount) return this.reply(req, tx, 403, 'Too many subscriptions for this account');
      if (this.subs.size >= this.limits.total) return this.reply(req, tx, 503, 'Too many subscriptions', { 'Retry-After': '60' });
    }

    const granted = Math.min(expires, this.limits.maxExpiresSec);
    const localTag = newTag();
    const contact = this.localContact(req);
    const dialog = Dialog.asUas(req, { localTag, localContact: contact });
    tx.respond(createResponse(req, 200, 'OK', { toTag: localTag, headers: { ...this.baseHeaders(), Contact: contact, Expires: String(granted) } }));
    const sub: Subscription = {
      key: dialogKey(dialog.id), state: SubscriptionState.Active, event: pkg, eventHeader: parsed.value, tenantId: auth.tenant.id, domain: auth.tenant.domain,
      subscriber: { accountId: auth.account.id, user: auth.account.username }, watched: { accountId: watched.id, user: watched.username },
      dialog, expiresAt: Date.now() + granted * 1000, version: 0, lastDialogs: new Map(), queue: [], inFlight: false,
    };
    if (granted === 0) {
      // A fetch (RFC 6665 §4.4.3): the current state once, and the subscription is over.
      this.notify(sub, { final: 'timeout' });
      return;
    }
    this.subs.set(sub.key, sub);
    let ofTenant = this.byTenant.get(sub.tenantId);
    if (!ofTenant) this.byTenant.set(sub.tenantId, (ofTenant = new Set()));
    ofTenant.add(sub);
    this.perAccount.set(sub.subscriber.accountId, (this.perAccount.get(sub.subscriber.accountId) ?? 0) + 1);
    this.armTimer(sub);
    this.notify(sub, { force: true });
  }

  private refresh(sub: Subscription, req: SipRequest, tx: ServerTransaction): void {
    if (!sub.dialog.acceptRemoteCSeq(req)) return this.reply(req, tx, 500, 'CSeq out of order');
    const parsed = parseEventHeader(req.headers.get('Event'));
    if (!parsed || parsed.pkg !== sub.event) return this.reply(req, tx, 489, 'Bad Event', { 'Allow-Events': EVENT_PACKAGES.join(', ') });
    const expires = this.expiresOf(req);
    if (expires === 'bad') return this.reply(req, tx, 400, 'Malformed Expires header');
    if (expires > 0 && expires < this.limits.minExpiresSec) {
      return this.reply(req, tx, 423, 'Interval Too Brief', { 'Min-Expires': String(this.limits.minExpiresSec) });
    }
    sub.dialog.refreshTarget(req);
    // A phone behind NAT refreshes from wherever its mapping now is: NOTIFYs follow it.
    if (req.source) sub.dialog.flow = { ...req.source };
    const granted = Math.min(expires, this.limits.maxExpiresSec);
    tx.respond(createResponse(req, 200, 'OK', { headers: { ...this.baseHeaders(), Contact: sub.dialog.localContact, Expires: String(granted) } }));
    if (granted === 0) {
      this.terminate(sub, 'timeout');
      return;
    }
    sub.expiresAt = Date.now() + granted * 1000;
    this.armTimer(sub);
    // RFC 6665 §4.2.1.2: a refresh is answered with the current state.
    this.notify(sub, { force: true });
  }

  private expiresOf(req: SipRequest): number | 'bad' {
    const value = req.headers.get('Expires');
    if (value === undefined) return DEFAULT_EXPIRES_SEC;
    if (!/^\s*\d{1,10}\s*$/.test(value)) return 'bad';
    return Number(value.trim());
  }

  private armTimer(sub: Subscription): void {
    this.opts.stack.wheel.cancel(sub.timer);
    sub.timer = this.opts.stack.wheel.schedule(Math.max(0, sub.expiresAt - Date.now()), () => this.terminate(sub, 'timeout'));
  }

  // ------------------------------------------------------------------ state changes

  private onEvent(e: SequencedEvent): void {
    if (this.closed) return;
    if (e.type === 'config.changed' && (e.kind === 'account' || e.kind === 'tenant')) void this.recheckAccounts(e.tenantId, e.kind === 'account' ? e.name : undefined);
    if (typeof e.tenantId !== 'number') return;
    this.dirtyTenants.add(e.tenantId);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Once per tick: a call's events (party, ringing, lamp) settle before anyone is told.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const tenants = [...this.dirtyTenants];
    this.dirtyTenants.clear();
    for (const tenantId of tenants) {
      for (const sub of [...(this.byTenant.get(tenantId) ?? [])]) if (sub.state === SubscriptionState.Active) this.notify(sub, {});
    }
  }

  /** A removed account (watched or subscribing) ends its subscriptions with reason noresource. */
  private async recheckAccounts(tenantId: number, name: string | undefined): Promise<void> {
    const affected = [...(this.byTenant.get(tenantId) ?? [])].filter((s) => (name === undefined || s.watched.user === name || s.subscriber.user === name));
    for (const sub of affected) {
      try {
        const watched = await this.opts.findAccount(sub.watched.user, sub.domain);
        const subscriber = await this.opts.findAccount(sub.subscriber.user, sub.domain);
        if (!watched || watched.id !== sub.watched.accountId || !subscriber || subscriber.id !== sub.subscriber.accountId) this.terminate(sub, 'noresource');
      } catch (err) {
        this.opts.logger.warn({ err, tenantId }, 'subscription account check failed');
      }
    }
  }

  private terminate(sub: Subscription, reason: 'timeout' | 'noresource'): void {
    if (!canMove(sub.state, SubscriptionState.Terminated)) return;
    this.notify(sub, { final: reason });
  }

  private drop(sub: Subscription): void {
    if (sub.state === SubscriptionState.Active && canMove(sub.state, SubscriptionState.Terminated)) sub.state = SubscriptionState.Terminated;
    this.opts.stack.wheel.cancel(sub.timer);
    if (this.subs.get(sub.key) === sub) {
      this.subs.delete(sub.key);
      const ofTenant = this.byTenant.get(sub.tenantId);
      ofTenant?.delete(sub);
      if (ofTenant?.size === 0) this.byTenant.delete(sub.tenantId);
      const n = (this.perAccount.get(sub.subscriber.accountId) ?? 1) - 1;
      if (n > 0) this.perAccount.set(sub.subscriber.accountId, n);
      else this.perAccount.delete(sub.subscriber.accountId);
    }
  }

  // ------------------------------------------------------------------ NOTIFY

  /** Renders the current state; queues a NOTIFY when it changed (or `force`, or the final one). */
  private notify(sub: Subscription, opts: { force?: boolean; final?: 'timeout' | 'noresource' }): void {
    if (sub.state === SubscriptionState.Terminated) return;
    const entity = `sip:${sub.watched.user}@${sub.domain}`;
    let body: string;
    let signature: string;
    let dialogs: WatchedDialog[] = [];
    if (sub.event === 'dialog') {
      const current = opts.final === 'noresource' ? [] : this.opts.dialogs(sub.tenantId, sub.watched.user);
      const byId = new Map(current.map((d) => [dialogElementId(d), d]));
      signature = JSON.stringify([...byId].map(([id, d]) => [id, d.state, d.remote.uri]).sort());
      dialogs = [...current];
      for (const [id, was] of sub.lastDialogs) if (!byId.has(id)) dialogs.push({ ...was, state: 'terminated' });
      sub.lastDialogs = byId;
      body = renderDialogInfo(entity, sub.version, dialogs);
    } else if (sub.event === 'presence') {
      const lamp = this.extensions?.get(sub.tenantId, sub.watched.accountId);
      const open = lamp !== undefined && lamp.state !== 'offline' && !lamp.dnd;
      const note = !lamp || lamp.state === 'offline' ? 'Offline' : lamp.dnd ? 'Do not disturb' : NOTES[lamp.state];
      signature = `${open}|${note}`;
      body = renderPidf(entity, open, note);
    } else {
      signature = 'empty';
      body = renderEmptyMessageSummary(entity);
    }
    if (!opts.force && !opts.final && signature === sub.lastSignature) return;
    sub.lastSignature = signature;
    if (sub.event === 'dialog') sub.version++;
    const remaining = Math.max(0, Math.round((sub.expiresAt - Date.now()) / 1000));
    const state = opts.final ? `terminated;reason=${opts.final}` : `active;expires=${remaining}`;
    if (opts.final) {
      sub.state = SubscriptionState.Terminated;
      this.opts.stack.wheel.cancel(sub.timer);
    }
    sub.queue.push({ headers: [['Event', sub.eventHeader], ['Subscription-State', state]], body, contentType: contentTypeOf(sub.event), final: opts.final !== undefined });
    // Full state each time: when too many wait, the oldest non-final one adds nothing the next does not say.
    while (sub.queue.length > MAX_QUEUED_NOTIFIES) sub.queue.splice(sub.queue.findIndex((n) => !n.final), 1);
    this.pump(sub);
  }

  private pump(sub: Subscription): void {
    if (sub.inFlight) return;
    const next = sub.queue.shift();
    if (!next) {
      if (sub.state === SubscriptionState.Terminated) this.drop(sub);
      return;
    }
    sub.inFlight = true;
    const headers: Array<[string, string]> = [...next.headers];
    if (this.opts.userAgent) headers.push(['User-Agent', this.opts.userAgent]);
    const req = sub.dialog.createRequest('NOTIFY', { headers, body: Buffer.from(next.body, 'utf8'), contentType: next.contentType });
    // In the subscription's dialog: its route set (Route headers) and the flow the SUBSCRIBE came in on.
    const done = (ok: boolean, why?: string): void => {
      sub.inFlight = false;
      if (!ok) {
        this.opts.logger.info({ tenantId: sub.tenantId, subscriber: sub.subscriber.user, watched: sub.watched.user, event: sub.event, why }, 'NOTIFY failed: subscription ended');
        sub.queue.length = 0;
        this.drop(sub);
        return;
      }
      if (next.final) {
        sub.queue.length = 0;
        this.drop(sub);
        return;
      }
      this.pump(sub);
    };
    this.opts.stack.sendRequest(req, {
      target: sub.dialog.flow,
      handler: {
        onFinal: (res) => done(res.status >= 200 && res.status < 300, `${res.status} ${res.reason}`),
        onTimeout: () => done(false, 'timeout'),
        onTransportError: (err) => done(false, err.message),
      },
    });
  }

  // ------------------------------------------------------------------ helpers

  private baseHeaders(): Record<string, string> {
    return { 'Allow-Events': EVENT_PACKAGES.join(', '), ...(this.opts.userAgent && { Server: this.opts.userAgent }) };
  }

  private reply(req: SipRequest, tx: ServerTransaction, status: number, reason?: string, headers: Record<string, string> = {}): void {
    tx.respond(createResponse(req, status, reason, { toTag: req.to.params['tag'] ? undefined : newTag(), headers: { ...this.baseHeaders(), ...headers } }));
  }

  private localContact(req: SipRequest): string {
    const kind = req.source?.transport ?? 'udp';
    const local = this.opts.stack.localAddressFor(kind);
    const host = this.opts.publicAddress ?? local?.host ?? '127.0.0.1';
    const t = kind === 'udp' ? '' : `;transport=${kind}`;
    return `<sip:patchbay@${formatHost(host)}:${local?.port ?? 5060}${t}>`;
  }
}

const NOTES: Record<ExtensionView['state'], string> = {
  idle: 'Available', ringing: 'Ringing', busy: 'On the phone', held: 'On hold', dnd: 'Do not disturb', offline: 'Offline',
};

function contentTypeOf(pkg: EventPackage): string {
  return pkg === 'dialog' ? DIALOG_INFO_TYPE : pkg === 'presence' ? PIDF_TYPE : MESSAGE_SUMMARY_TYPE;
}

/** `dialog;id=7` → package `dialog`, and the header value to echo. */
function parseEventHeader(value: string | undefined): { pkg: string; value: string } | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  const pkg = trimmed.split(';')[0]!.trim().toLowerCase();
  if (!/^[a-z0-9.!%*_+`'~-]+$/.test(pkg)) return undefined;
  return { pkg, value: trimmed.replace(/[\r\n]/g, '') };
}

/** No Accept means the package's default type (RFC 6665 §4.1.1); else it must be listed (or a wildcard). */
function acceptsType(req: SipRequest, type: string): boolean {
  const values = req.headers.getAll('Accept').flatMap((v) => v.split(',')).map((v) => v.split(';')[0]!.trim().toLowerCase()).filter((v) => v !== '');
  if (values.length === 0) return true;
  const [major] = type.split('/');
  return values.some((v) => v === type || v === '*/*' || v === `${major}/*`);
}
