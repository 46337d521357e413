import type { ParkSettings } from './park/index.ts';
import type { AuthGuard } from '../sip/index.ts';
import type { Logger } from 'pino';
import type { AccountAuth, BindingTarget, TenantRef } from '../registrar/index.ts';
import type { DigestServer } from '../sip/index.ts';
import type { SipStack } from '../sip/index.ts';
import type { DialplanRunParams, RunResult, SandboxHost } from '../../sandbox/index.ts';
import type { CallEvent, CdrRecord } from './records/index.ts';
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
}

export interface DialplanLogEvent {
  type: 'dialplan.log';
  tenantId: string;
  callId: string;
  at: number;
  level: 'info' | 'error';
  dialplan: string;
  message: string;
  line?: number;
  column?: number;
}

/** A REFER decision or outcome (DESIGN.md "Transfer policy"); `call.transferred` when a transfer completed. */
export interface TransferEvent {
  type: 'call.transfer.refused' | 'call.transfer.passed' | 'call.transfer.accepted' | 'call.transfer.failed' | 'call.transferred';
  tenantId: string;
  callId: string;
  at: number;
  /** CDR leg id of the referrer (0: the caller). */
  legId: number;
  kind: 'blind' | 'attended';
  referTo: string;
  status?: number;
  reason?: string;
  newLegId?: number;
  /** Attended transfer: the other call that was joined with this one. */
  joinedCallId?: string;
  /** Set when live call control (not a phone's REFER) asked for it. */
  by?: string;
}

/** Live call control put a party on hold or took it off. */
export interface HoldEvent {
  type: 'call.held' | 'call.unheld';
  tenantId: string;
  callId: string;
  at: number;
  party: 'caller' | 'callee';
  by: string;
}

/** A phone took a party's place (INVITE/Replaces) or picked up a ringing call. */
export interface TakeoverEvent {
  type: 'call.replaced' | 'call.picked-up';
  tenantId: string;
  callId: string;
  at: number;
  party: 'caller' | 'callee';
  by: string;
}

/** A call was parked in a slot, retrieved from it, or recalled to its parker. */
export interface ParkEvent {
  type: 'call.parked' | 'call.retrieved' | 'call.recalled';
  tenantId: string;
  callId: string;
  at: number;
  slot: string;
  by: string;
  /** Retrieved/recalled: who now talks to the parked party. */
  destination?: string;
}

export type CallServiceEvent = CallEvent | DialplanLogEvent | TransferEvent | HoldEvent | TakeoverEvent | ParkEvent;

export interface CallServiceOptions {
  stack: SipStack;
  location: LocationLookup;
  accounts: CallAccountDirectory;
  digest: DigestServer;
  /** The switch's brute-force guard (shared with the registrar); INVITE digest failures count in it. */
  authGuard?: AuthGuard;
  sandbox: DialplanRunner;
  dialplans: DialplanStore;
  kv: KeyValueStore;
  cdrs: CdrSink;
  emit: (event: CallServiceEvent) => void;
  logger: Logger;
  /** Host for Contact headers we write (NAT); defaults to the stack's listening address. */
  publicAddress?: string;
  /**
   * Networks (CIDRs) that sip: URI legs, ENUM results and followed redirects may reach although
   * they are not public, on any port (PATCHBAY_ALLOWED_LEG_NETWORKS). Default none.
   */
  allowedLegNetworks?: readonly string[];
  /** Injectable DNS for sip: URI legs (tests). */
  resolveHost?: (host: string) => Promise<string>;
  /** sys.ENUMLookup: NAPTR resolver and ENUM suffix (tests inject a resolver). */
  enum?: EnumLookupOptions;
  /** Park slots and recall time (PATCHBAY_PARK_SLOTS, PATCHBAY_PARK_RECALL_SEC); default 70-79, 120 s. */
  park?: ParkSettings;
  /** sys.WebGet: DNS and fetch (tests inject them). */
  webGet?: WebGetDeps;
}
