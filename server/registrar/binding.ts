import type { Endpoint } from '../sip/index.ts';
import type { KeepAliveMethod } from './account-directory.ts';

/**
 * One registered contact of an account (RFC 3261 §10). Plain data: it is what BindingStore
 * persists and restores, and what events carry.
 */
export interface Binding {
  /** Random id, stable across refreshes. */
  id: string;
  accountId: number;
  tenantId: number;
  /** Address-of-record: account user at the tenant's primary domain. */
  user: string;
  domain: string;
  /** Contact URI as registered (may be a private address: do not send to it behind NAT). */
  contactUri: string;
  /** Contact header parameters worth echoing (`+sip.instance`, `reg-id`, …), as written. */
  contactParams: Record<string, string | null>;
  q?: number;
  /** Epoch ms. */
  expiresAt: number;
  callId: string;
  cseq: number;
  /** RFC 5626 `+sip.instance` value (quotes and angle brackets kept as written). */
  instanceId?: string;
  regId?: number;
  /** Where the REGISTER came from: the address to send requests to (RFC 5626 / NAT). */
  source: Endpoint;
  /** The listener it arrived on. */
  localEndpoint?: Endpoint;
  userAgent?: string;
  /** RFC 3327 Path header values, top first. */
  path: string[];
  /** Epoch ms of the first registration of this binding. */
  registeredAt: number;
  /** Epoch ms of the last add/refresh. */
  updatedAt: number;
  natKeepAlive: boolean;
  keepAliveMethod: KeepAliveMethod;
}

/** A binding with the transport target to reach it (the B2BUA sends there). */
export interface BindingTarget {
  binding: Binding;
  /** The REGISTER's source (address, port, transport, connection) — not the Contact host. */
  target: Endpoint;
  /** The Request-URI to use: the registered Contact URI. */
  requestUri: string;
}

export interface BindingChanges {
  /** New or refreshed bindings, latest state. */
  upserts: Binding[];
  /** Ids of removed bindings. */
  deletes: string[];
}

/** Persistence behind the in-memory location service (write-behind, batched). */
export interface BindingStore {
  /** Every stored binding (expired ones included; the location service drops them). */
  loadAll(): Promise<Binding[]>;
  /** Applies one batch; must be idempotent (an upsert may repeat after a failed flush). */
  persist(changes: BindingChanges): Promise<void>;
}
