// The SIP stack's public surface. It knows nothing of tenants, accounts or dialplans.
export {
  SipRequest,
  SipResponse,
  SipParseError,
  createResponse,
  reasonPhrase,
  newBranch,
  newTag,
  newCallId,
  cloneUri,
  parseCSeq,
  callIdForLog,
} from './message.ts';
export type { Endpoint, SipMessage, CSeq } from './message.ts';
export { SipHeaders } from './headers.ts';
export { parseUri, formatUri, formatHost, isIPv6, uriTransport } from './uri.ts';
export type { SipUri } from './uri.ts';
export { parseNameAddr, formatNameAddr, parseContactList } from './name-addr.ts';
export type { NameAddr } from './name-addr.ts';
export { parseVia, formatVia } from './via.ts';
export type { Via } from './via.ts';
export { parseMessage, MAX_MESSAGE_SIZE } from './parser.ts';
export { StreamFramer } from './stream-framer.ts';
export { SipStack } from './sip-stack.ts';
export { SipTrafficCounters, COUNTED_SIP_METHODS, SIP_STATUS_CLASSES, type SipTrafficDirection } from './traffic-counters.ts';
export type { ListenSpec, SipStackOptions, AttachableTransport, TrafficObserver } from './sip-stack.ts';
export type { ClientTransaction, ClientTransactionHandler, ServerTransaction } from './transactions/transaction.ts';
export type { TimerSettings } from './transactions/timer-settings.ts';
export { TimerWheel, ManualClock, systemClock } from './timer-wheel.ts';
export type { Clock, TimerHandle } from './timer-wheel.ts';
export { MemoryTransport } from './transports/memory-transport.ts';
export type { SentDatagram } from './transports/memory-transport.ts';
export type { ConnectionLimits } from './transports/connection-transport.ts';
export { DigestServer } from './digest.ts';
export type { DigestAlgorithm, DigestFailureReason, DigestVerifyResult } from './digest.ts';
export { DigestClient } from './digest-client.ts';
export { computeHa1, computeDigestResponse } from './digest-hash.ts';
export { parseAuthHeader, formatAuthHeader } from './digest-header.ts';
export { Dialog, dialogKey, dialogKeyOfRequest } from './dialog.ts';
export { Invite2xxRetransmitter } from './dialog-2xx-retransmitter.ts';
export { sendAck, retransmit2xxUntilAck } from './dialog-ack.ts';
export { reasonHeader } from './reason-header.ts';
export { digestUriMatchesRequest, type DigestUriCheckOptions } from './digest-uri.ts';
export { AuthFailureGuard, sourceKey, type AuthFailure, type AuthFailureGuardOptions, type AuthGuard, type BanInfo, type PersistableAuthGuard } from './auth-failure-guard.ts';
export { SourceRateLimiter, type SourceRateLimiterOptions } from './source-rate-limiter.ts';
export { CallCredentialStore, type ClientCredentials } from './call-credentials.ts';
export { buildRegister, grantedExpires, newClientRegistration, type ClientRegistrationIdentity } from './client-registration.ts';
export { SipServerResolver, nodeSipDns, SRV_CACHE_SECONDS, NEGATIVE_CACHE_SECONDS, type SipDns, type SrvAnswer, type NaptrAnswer, type AddressAnswer } from './sip-server-resolver.ts';
export { buildOptionsPing } from './options-ping.ts';
export { endForkDialog, InviteAnswers, type Further2xx, type InviteAnswersOptions } from './invite-answers.ts';
export { ReinviteGuard, reinviteRefusalResponse, REINVITE_GUARD_TRANSITIONS, type ReinviteAdmission, type ReinviteGuardState, type ReinviteRefusal, type ReinviteTurn } from './reinvite-guard.ts';
