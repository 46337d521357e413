export { Bridge, otherSide, sendInDialog } from './bridge.ts';
export type { BridgeEvents, BridgeOptions, BridgeParty, BridgeRequest, BridgeResponse, BridgeSide, OfferRequest } from './bridge.ts';
export { classifyIpAddress, isNatPrivateAddress, unmapIpv4 } from './ip-address-class.ts';
export type { IpAddressClass } from './ip-address-class.ts';
export { relayedBody } from './relayed-body.ts';
export { rejectAllMedia, rewriteSdpForNat } from './sdp-rewrite.ts';
export type { SdpRewriteOptions, SdpRewriteResult } from './sdp-rewrite.ts';
export { firstMediaDirection, holdSdp, unholdSdp } from './hold-sdp.ts';
export type { MediaDirection } from './hold-sdp.ts';
