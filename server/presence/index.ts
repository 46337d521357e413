export { ExtensionPresence } from './extension-presence.ts';
export type { ExtensionView, BindingSeed } from './extension-presence.ts';
export { SubscriptionService, DEFAULT_SUBSCRIPTION_LIMITS } from './subscription-service.ts';
export type { SubscriptionServiceOptions, SubscriptionLimits, SubscriberAuth } from './subscription-service.ts';
export { renderDialogInfo, dialogElementId, DIALOG_INFO_TYPE } from './dialog-info.ts';
export type { WatchedDialog } from './dialog-info.ts';
export { renderPidf, PIDF_TYPE } from './pidf.ts';
export { renderEmptyMessageSummary, MESSAGE_SUMMARY_TYPE } from './message-summary.ts';
export { EVENT_PACKAGES, SubscriptionState } from './subscription.ts';
