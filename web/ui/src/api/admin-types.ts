/** The admin resources of /api/v1 (tenants, users, tokens, secrets, audit, providers, my profile), from the API's zod schemas. */
import type { z } from 'zod';
import type { sessionInfoSchema, tokenCreateBody, tokenInfoSchema, totpEnrolResponse, totpStatusResponse } from '../../../api/schemas/auth.ts';
import type { auditEntrySchema, providerCreateBody, providerSchema, secretInfoSchema } from '../../../api/schemas/misc.ts';
import type { providerPatchBody } from '../../../api/schemas/providers.ts';
import type { tenantCreateBody, tenantPatchBody, tenantSchema, userCreateBody, userPatchBody, webUserSchema } from '../../../api/schemas/tenants.ts';
import type { Role } from './types.ts';

export type Tenant = z.output<typeof tenantSchema>;
export type CreateTenantInput = z.input<typeof tenantCreateBody>;
export type UpdateTenantInput = z.input<typeof tenantPatchBody>;

export type WebUser = Omit<z.output<typeof webUserSchema>, 'role'> & { role: Role };
export type CreateUserInput = Omit<z.input<typeof userCreateBody>, 'role'> & { role: Role };
export type UpdateUserInput = Omit<z.input<typeof userPatchBody>, 'role'> & { role?: Role };

export type TokenScope = 'read' | 'write' | 'calls';
export type ApiTokenInfo = z.output<typeof tokenInfoSchema>;
export type CreateTokenInput = Omit<z.input<typeof tokenCreateBody>, 'scopes'> & { scopes: TokenScope[] };

export type SecretInfo = z.output<typeof secretInfoSchema>;

export type AuditEntry = z.output<typeof auditEntrySchema>;
export interface AuditQuery {
  limit?: number;
  cursor?: string;
  from?: string;
  to?: string;
  actor?: string;
  /** Exact action or a prefix ending in `.*`. */
  action?: string;
  tenantId?: number;
}

export type Provider = z.output<typeof providerSchema>;
export type ProviderRegistrationState = NonNullable<Provider['registration']>['state'];
export type CreateProviderInput = z.input<typeof providerCreateBody>;
export type UpdateProviderInput = z.input<typeof providerPatchBody>;

export type WebSessionInfo = z.output<typeof sessionInfoSchema>;
export type TwoFactorStatus = z.output<typeof totpStatusResponse>;
export type TwoFactorEnrolment = z.output<typeof totpEnrolResponse>;
