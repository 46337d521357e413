import type { ParkSettings, StoredParkSettings } from './park/index.ts';
import type { AuthGuard } from '../sip/index.ts';
import type { Logger } from 'pino';
import type { AccountAuth, BindingTarget, TenantRef } from '../registrar/index.ts';
import type { DigestServer } from '../sip/index.ts';
import type { SipServerResolver, SipStack } from '../sip/index.ts';
import type { InboundProviderMatcher, ProviderLegs } from '../providers/index.ts';
import type { DialplanRunParams, RunResult, SandboxHost } from '../../sandbox/index.ts';
import type { CdrRecord } from './records/index.ts';
import type { EnumLookupOptions } from './dialplan/index.ts';
import type { WebGetDeps } from './dialplan/index.ts';

/**
 * What the calls layer needs from the rest of Patchbay. Small interfaces on purpose: the lead
 * wires them to db/ repositories and the registrar in server/main.ts.
 */

/** A SIP account with the call-routing settings (db accounts: incomingOnly, outDialplan, inDialplan). */
export interface CallAccount extends AccountAuth {
  incomingOnly: boolean;
  /** Dialplan run for calls this account places; null/undefined = none (480). */
  outDialplan?: string | null;
  /** Dialplan run for calls to this account; null/undefined = ring all its bindings. */
  inDialplan?: string | null;
  /** Presented in the From of the B legs of calls this account places (forms: caller-id.ts). */
  callerId?: string | null;
  /** Calls this account may be a party of at once; null/undefined/0 = no limit. */
  maxCalls?: number | null;
  /** Do-not-disturb: a leg ringing this account's phones fails with 486 at once. */
  dnd?: boolean;
}

/** Same shape as the registrar's AccountDirectory, with call settings on the account. */
export interface CallAccountDirectory {
  tenantForDomain(domain: string): Promise<TenantRef | undefined>;
  /** `domain` is the tenant's primary domain. */
  find(user: string, domain: string): Promise<CallAccount | undefined>;
}

/** LocationService satisfies this. */
export interface LocationLookup {
  lookup(user: string, domain: string): BindingTarget[];
}

export interface StoredDialplan { js: string; sourceMap: string }

/** db DialplansRepository.getCurrent(tenantId, name) → { compiledJs, sourceMap }. */
export interface DialplanStore {
  get(tenantId: number, name: string): Promise<StoredDialplan | undefined>;
}

/** db KvRepository has exactly these methods. */
export interface KeyValueStore {
  read(tenantId: number, key: string): Promise<string | undefined>;
  write(tenantId: number, key: string, value: string): Promise<void>;
  delete(tenantId: number, key: string): Promise<boolean | void>;
  keys(tenantId: number): Promise<string[]>;
}

/** db CdrsRepository.insert after mapping CdrRecord → Cdr. */
export interface CdrSink {
  write(cdr: CdrRecord): Promise<unknown> | void;
}

/** SandboxSupervisor satisfies this. */
export interface DialplanRunner {
  run(params: DialplanRunParams, host: SandboxHost): Promise<RunResult>;
  /** Admission control: the Retry-After (s) for a 503 to a new call while the sandbox is saturated, else undefined. */
  shedRetryAfter?(): number | undefined;
}

// Event shapes: the one catalogue in server/events.
export type { DialplanLogEvent, CallTransferEvent as TransferEvent, CallHoldEvent as HoldEvent, CallServiceEvent } from '../events/index.ts';
import type { CallServiceEvent } from '../events/index.ts';

/** The call a SIP Call-ID belongs to: its caller's dialog (`a`) or a branch the switch placed (`b`). */
export interface SipCallOwner {
  tenantId: number;
  callId: string;
  leg: 'a' | 'b';
  /** For `b`: the branch's target label. */
  legTarget?: string;
  /**
   * For `a`: the caller's From tag. The caller chose the Call-ID, so another request that reuses
   * it (a stranger's) is told apart by the tag: messages of this dialog carry it in From or To.
   */
  tag?: string;
}

/** Stores an account's do-not-disturb and tells the switch (the phone's `*78`/`*79`). */
export type DndSetter = (account: { tenantId: number; id: number; username: string }, dnd: boolean, by: string) => Promise<void>;

export interface CallServiceOptions {
  /** Feature codes `*78`/`*79`; without it they are ordinary dialled numbers. */
  setDnd?: DndSetter;
  stack: SipStack;
  location: LocationLookup;
  accounts: CallAccountDirectory;
  digest: DigestServer;
  /** The switch's brute-force guard (shared with the registrar); INVITE digest failures count in it. */
  authGuard?: AuthGuard;
  sandbox: DialplanRunner;
  dialplans: DialplanStore;
  kv: KeyValueStore;
  /** Tenant secrets behind sys.Secret (db.secrets); without it sys.Secret answers null. */
  secrets?: { reveal(tenantId: number, name: string): Promise<string | undefined> };
  cdrs: CdrSink;
  emit: (event: CallServiceEvent) => void;
  /**
   * Undefined when the tenant's caller names (phonebook) are in memory, else a promise for them:
   * a new call waits for it so its first event already carries the name (CallerNames.ready).
   */
  callerNamesReady?: (tenantId: number) => Promise<void> | undefined;
  logger: Logger;
  /** Host for Contact headers we write (NAT); defaults to the stack's listening address. */
  publicAddress?: string;
  /**
   * Networks (CIDRs) that sip: URI legs, ENUM results and followed redirects may reach although
   * they are not public, on any port (PATCHBAY_ALLOWED_LEG_NETWORKS). Default none.
   */
  allowedLegNetworks?: readonly string[];
  /** Outbound provider legs and the tenant's destination policy; none = provider legs fail 404. */
  providers?: ProviderLegs;
  /** RFC 3263 location of provider servers (NAPTR/SRV/A); none = a plain address lookup. */
  sipResolver?: SipServerResolver;
  /** Recognises INVITEs from providers (registered contact, DID) and refuses impostors. */
  inboundProviders?: InboundProviderMatcher;
  /** Injectable DNS for sip: URI legs (tests). */
  resolveHost?: (host: string) => Promise<string>;
  /** sys.ENUMLookup: NAPTR resolver and ENUM suffix (tests inject a resolver). */
  enum?: EnumLookupOptions;
  /** Park slots and recall time (PATCHBAY_PARK_SLOTS, PATCHBAY_PARK_RECALL_SEC); default 70-79, 120 s. */
  park?: ParkSettings;
  /** A tenant's own park slots / recall time (db tenants); a field it left null is `park`'s. */
  tenantPark?: (tenantId: number) => Promise<StoredParkSettings | undefined>;
  /** sys.WebGet: DNS and fetch (tests inject them). */
  webGet?: WebGetDeps;
  /**
   * Live calls (with their dialogs) beyond which a new INVITE gets 503 with Retry-After before
   * anything is set up (PATCHBAY_MAX_CALLS). Default 20 000.
   */
  maxCalls?: number;
}
