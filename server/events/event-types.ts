/**
 * The one typed catalogue of what goes over the event bus (DESIGN.md "One call, end to end",
 * step 5). Every event names its tenant by numeric id; emitters in server/registrar and
 * server/calls build exactly these shapes, and the WebSocket hub forwards them as they are.
 * Times are epoch milliseconds. To add an event: add its interface and append it to PatchbayEvent.
 */

/** A network address as events carry it (a copy, never a live socket or connection). */
export interface EventEndpoint {
  transport: 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';
  address: string;
  port: number;
  connectionId?: string;
}

// ------------------------------------------------------------------ calls

export type CallDirection = 'inbound' | 'outbound' | 'internal';
export type HangupSide = 'caller' | 'callee' | 'system';

export interface CallParty {
  /** URI as text, e.g. "sip:1001@acme.example". */
  uri: string;
  displayName?: string;
  /** The tenant SIP account (username), when the party is one. */
  account?: string;
}

interface CallEventBase {
  tenantId: number;
  /** Patchbay call id (not a SIP Call-ID: one call has a SIP dialog per leg). */
  callId: string;
  at: number;
}

export interface CallCreatedEvent extends CallEventBase {
  type: 'call.created';
  direction: CallDirection;
  caller: CallParty;
  callee: CallParty;
  dialplan?: string;
  /** The tenant phonebook's name for the caller's number, else the caller's SIP display name. */
  callerName?: string;
}

export interface LegRingingEvent extends CallEventBase {
  type: 'leg.ringing';
  legId: number;
  /** Destination as dialled (`1002@local`, `sip:…`). */
  target: string;
  earlyMedia: boolean;
}

export interface CallAnsweredEvent extends CallEventBase {
  type: 'call.answered';
  legId: number;
  caller: CallParty;
  callee: CallParty;
  direction: CallDirection;
  /** As in call.created. */
  callerName?: string;
  /** The switchboard's note on the call, when there is one. */
  note?: string;
}

export interface CallEndedEvent extends CallEventBase {
  type: 'call.ended';
  direction: CallDirection;
  caller: CallParty;
  callee: CallParty;
  hungUpBy: HangupSide;
  /** SIP status of the failure (or 200 when an answered call ended normally). */
  status: number;
  reason: string;
  /** As in call.created. */
  callerName?: string;
  /** The switchboard's note on the call, when there is one (it is also in the CDR). */
  note?: string;
}

/** A REFER decision or outcome (DESIGN.md "Transfer policy"); `call.transferred` when a transfer completed. */
export interface CallTransferEvent extends CallEventBase {
  type: 'call.transfer.refused' | 'call.transfer.passed' | 'call.transfer.accepted' | 'call.transfer.failed' | 'call.transferred';
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
export interface CallHoldEvent extends CallEventBase {
  type: 'call.held' | 'call.unheld';
  party: 'caller' | 'callee';
  by: string;
}

/**
 * A tenant SIP account became a party of a call (`joined`: the caller's own account, or a leg
 * ringing it) or stopped being one before the call ended (`left`: its leg failed or lost). Every
 * party leaves with `call.ended`. Extension states are derived from these.
 */
export interface CallPartyEvent extends CallEventBase {
  type: 'call.party.joined' | 'call.party.left';
  accountId: number;
  /** Account username. */
  account: string;
  role: 'caller' | 'callee';
}

/** A line of the tenant's dialplan console: `sys.Log` (info) or a dialplan failure (error). */
export interface DialplanLogEvent extends CallEventBase {
  type: 'dialplan.log';
  level: 'info' | 'error';
  dialplan: string;
  message: string;
  line?: number;
  column?: number;
}

/** A phone took a party's place (INVITE/Replaces) or picked up a ringing call. */
export interface CallTakeoverEvent extends CallEventBase {
  type: 'call.replaced' | 'call.picked-up';
  party: 'caller' | 'callee';
  by: string;
}

/** A call was parked in a slot, retrieved from it, or recalled to its parker. */
export interface CallParkEvent extends CallEventBase {
  type: 'call.parked' | 'call.retrieved' | 'call.recalled';
  slot: string;
  by: string;
  /** Retrieved/recalled: who now talks to the parked party. */
  destination?: string;
}

/** The destination policy refused a provider leg (nothing was sent to the provider). */
export interface CallBlockedEvent {
  type: 'call.blocked';
  tenantId: number;
  /** Empty when no call owned the leg (a refused callback leg before its call existed). */
  callId: string;
  at: number;
  provider: string;
  /** E.164 when the number could be read as one, else as dialled. */
  number: string;
  /** The policy rule that refused it. */
  rule: string;
}

/** A receptionist wrote (or, with an empty note, removed) the note on a live call. */
export interface CallNoteEvent extends CallEventBase {
  type: 'call.note';
  note: string;
  /** `api:<email>`. */
  by: string;
}

export type CallEvent = CallCreatedEvent | LegRingingEvent | CallAnsweredEvent | CallEndedEvent;
export type CallServiceEvent = CallEvent | DialplanLogEvent | CallTransferEvent | CallHoldEvent | CallPartyEvent | CallBlockedEvent | CallTakeoverEvent | CallParkEvent;

// ------------------------------------------------------------------ registrations

export type RegistrationRemovalReason =
  | 'unregistered'
  | 'wildcard'
  | 'evicted'
  | 'replaced'
  | 'qualify-timeout'
  | 'transport-error'
  | 'admin';

interface BindingEventBase {
  tenantId: number;
  accountId: number;
  user: string;
  domain: string;
  bindingId: string;
  contactUri: string;
  source: EventEndpoint;
  userAgent?: string;
  /** Call-ID of the REGISTERs that maintain the binding (the SIP trace attributes them by it). */
  sipCallId: string;
  at?: number;
}

export interface RegistrationAddedEvent extends BindingEventBase { type: 'registration.added'; expiresAt: number }
export interface RegistrationRefreshedEvent extends BindingEventBase { type: 'registration.refreshed'; expiresAt: number }
export interface RegistrationRemovedEvent extends BindingEventBase { type: 'registration.removed'; reason: RegistrationRemovalReason }
export interface RegistrationExpiredEvent extends BindingEventBase { type: 'registration.expired' }
export interface RegistrationFailedEvent {
  type: 'registration.failed';
  /** Null when the domain belongs to no tenant: such an event reaches no tenant's stream. */
  tenantId: number | null;
  user?: string;
  domain: string;
  source?: EventEndpoint;
  status: number;
  reason: string;
  at?: number;
}

export type RegistrationEvent =
  | RegistrationAddedEvent
  | RegistrationRefreshedEvent
  | RegistrationRemovedEvent
  | RegistrationExpiredEvent
  | RegistrationFailedEvent;

// ------------------------------------------------------------------ presence

/** What a switchboard lamp shows for one SIP account. */
/** `dnd`: do-not-disturb is on and the extension is otherwise idle (a call in progress still shows). */
export type ExtensionState = 'idle' | 'ringing' | 'busy' | 'held' | 'offline' | 'dnd';

export interface ExtensionStateEvent {
  type: 'extension.state';
  tenantId: number;
  accountId: number;
  /** Account username (the extension). */
  user: string;
  state: ExtensionState;
  previous: ExtensionState;
  /** Patchbay call ids the account is a party of right now. */
  callIds: string[];
  /** Do-not-disturb is on (whatever the state shows). */
  dnd: boolean;
  /** The account's display name, its label on a switchboard tile. */
  label?: string;
  /** The account was removed: the extension is gone (its last state is in `state`). */
  removed?: true;
  at: number;
}

/** An account's do-not-disturb was switched (API, CLI through the API, or the phone's *78/*79). */
export interface AccountDndEvent {
  type: 'account.dnd';
  tenantId: number;
  accountId: number;
  /** Account username. */
  user: string;
  dnd: boolean;
  /** `phone` (feature code) or the API user's name. */
  by: string;
  at: number;
}

// ------------------------------------------------------------------ SIP trace

/** One SIP message the switch sent or received, as bytes on the wire (produced only while someone watches). */
export interface SipTraceEvent {
  type: 'sip.trace';
  tenantId: number;
  at: number;
  direction: 'in' | 'out';
  transport: EventEndpoint['transport'];
  src: { address: string; port: number };
  dst: { address: string; port: number };
  /** The full message text. */
  text: string;
  /** SIP Call-ID header of the message. */
  sipCallId: string;
  /** Patchbay call the message belongs to; absent for a registration's REGISTERs. */
  callId?: string;
  /** `a`: the caller's dialog; `b`: a dialog the switch placed (a leg); absent for REGISTERs. */
  leg?: 'a' | 'b';
  /** For `b`: the destination as dialled. */
  legTarget?: string;
}

// ------------------------------------------------------------------ providers

/** The registration agent's view of one provider's registration with its registrar. */
export interface ProviderRegistrationEvent {
  type: 'provider.registration.registered' | 'provider.registration.failed' | 'provider.registration.unregistered';
  tenantId: number;
  provider: string;
  providerId: number;
  at: number;
  expiresAt?: number;
  status?: number;
  reason?: string;
  /** Failed: the next attempt (none when it needs attention). */
  retryInMs?: number;
  needsAttention?: boolean;
}

/**
 * OPTIONS health pings marked a provider down or up again (`provider.down|up`: every server
 * target of it), or one of its server targets (`provider.target.down|up`, with `target`).
 */
export interface ProviderHealthEvent {
  type: 'provider.down' | 'provider.up' | 'provider.target.down' | 'provider.target.up';
  tenantId: number;
  provider: string;
  providerId: number;
  at: number;
  reason?: string;
  /** The server target, `transport:address:port` (target events only). */
  target?: string;
}

// ------------------------------------------------------------------ configuration

/** An admin write through the API: the switch drops its cached copies at once instead of after a TTL. */
export interface ConfigChangedEvent {
  type: 'config.changed';
  tenantId: number;
  at?: number;
  kind: 'account' | 'dialplan' | 'provider' | 'tenant' | 'contacts' | 'did' | 'policy';
  /** Account user name, dialplan or provider name, DID number. */
  name?: string;
}

// ------------------------------------------------------------------ the catalogue

export type PatchbayEvent =
  | CallServiceEvent | RegistrationEvent | ExtensionStateEvent | SipTraceEvent | ConfigChangedEvent
  | ProviderRegistrationEvent | ProviderHealthEvent
  | CallNoteEvent
  | AccountDndEvent;
export type PatchbayEventType = PatchbayEvent['type'];

/** What emitters hand to the bus (kept as a name for existing callers). */
export type BusEvent = PatchbayEvent;

/** What the bus hands to subscribers: the event plus its place in the node's ordered stream. */
export type SequencedEvent = PatchbayEvent & { seq: number; at: number };

export type EventListener = (event: SequencedEvent) => void;

export interface EventFilter {
  /** Exact type or a prefix ending in `.*` (`registration.*`); `*` alone matches every type. */
  types?: string[];
  tenantId?: number;
}
