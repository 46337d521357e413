import type { Dialog, TimerHandle } from '../sip/index.ts';
import type { WatchedDialog } from './dialog-info.ts';

/** The event packages served (RFC 6665 Allow-Events). */
export const EVENT_PACKAGES = ['dialog', 'presence', 'message-summary'] as const;
export type EventPackage = (typeof EVENT_PACKAGES)[number];

/** RFC 6665 §4.1.2 / §4.2.2 notifier-side subscription states. */
export enum SubscriptionState {
  /** Accepted: NOTIFYs flow. */
  Active = 'active',
  /** Over (unsubscribed, expired, resource gone, NOTIFY failed): nothing more is sent but the final NOTIFY. */
  Terminated = 'terminated',
}

const TRANSITIONS: Record<SubscriptionState, readonly SubscriptionState[]> = {
  [SubscriptionState.Active]: [SubscriptionState.Terminated],
  [SubscriptionState.Terminated]: [],
};

export function canMove(from: SubscriptionState, to: SubscriptionState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** One accepted SUBSCRIBE dialog: who watches which account of the same tenant, and what it was told. */
export interface Subscription {
  key: string;
  state: SubscriptionState;
  event: EventPackage;
  /** The Event header value as the subscriber sent it (with its `id`), echoed in NOTIFYs. */
  eventHeader: string;
  tenantId: number;
  domain: string;
  subscriber: { accountId: number; user: string };
  watched: { accountId: number; user: string };
  dialog: Dialog;
  expiresAt: number;
  timer?: TimerHandle;
  /** Next dialog-info version (RFC 4235 §4.1: starts at 0, +1 per NOTIFY). */
  version: number;
  /** What the last NOTIFY said (a change test), and for `dialog` the dialogs it listed. */
  lastSignature?: string;
  lastDialogs: Map<string, WatchedDialog>;
  /** NOTIFYs waiting for the one in flight to be answered (sent in order, one at a time). */
  queue: Array<{ headers: Array<[string, string]>; body: string; contentType: string; final: boolean }>;
  inFlight: boolean;
}
