import type { Endpoint } from '../sip/index.ts';

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
  source: Endpoint;
  userAgent?: string;
}

export type RegistrationEvent =
  | (BindingEventBase & { type: 'registration.added'; expiresAt: number })
  | (BindingEventBase & { type: 'registration.refreshed'; expiresAt: number })
  | (BindingEventBase & { type: 'registration.removed'; reason: RegistrationRemovalReason })
  | (BindingEventBase & { type: 'registration.expired' })
  | {
      type: 'registration.failed';
      /** Null when the domain belongs to no tenant. */
      tenantId: number | null;
      user?: string;
      domain: string;
      source?: Endpoint;
      status: number;
      reason: string;
    };

export type EmitRegistrationEvent = (event: RegistrationEvent) => void;
