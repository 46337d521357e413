import { z } from 'zod';
import { API_TOKEN_SCOPES, WEB_ROLES } from '../../../db/index.ts';
import { listQuery, password8, textFilter } from './common.ts';

export const publicUserSchema = z
  .object({ id: z.number().int(), email: z.string(), role: z.enum(WEB_ROLES as [string, ...string[]]), tenantId: z.number().int().nullable(), totpEnabled: z.boolean() })
  .meta({ id: 'SessionUser' });

export const loginBody = z.object({
  email: z.string().min(3).max(255),
  password: z.string().min(1).max(1024),
  totp: z.string().regex(/^\d{6}$/, 'must be 6 digits').optional(),
  recoveryCode: z.string().min(6).max(64).optional(),
});

export const sessionResponse = z.object({ user: publicUserSchema, csrfToken: z.string().nullable() });

export const sessionInfoSchema = z
  .object({
    id: z.number().int(),
    createdAt: z.number(),
    lastSeenAt: z.number(),
    expiresAt: z.number(),
    sourceAddress: z.string().nullable(),
    userAgent: z.string().nullable(),
    current: z.boolean(),
  })
  .meta({ id: 'WebSession' });

export const tokenScopes = z.array(z.enum(API_TOKEN_SCOPES as [string, ...string[]])).min(1).max(3);

export const tokenCreateBody = z.object({
  name: z.string().min(1).max(255),
  scopes: tokenScopes.default(['read']),
  /** Epoch ms; omitted: 90 days; null: never. */
  expiresAt: z.number().int().positive().nullable().optional(),
});

/** `q`: the token's name contains it. */
export const tokensQuery = listQuery.extend({ q: textFilter });

export const tokenInfoSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    scopes: z.array(z.string()),
    createdAt: z.number(),
    expiresAt: z.number().nullable(),
    lastUsedAt: z.number().nullable(),
  })
  .meta({ id: 'ApiToken' });

export const tokenCreatedSchema = z.object({ token: z.string(), tokenInfo: tokenInfoSchema });

export const totpCodeBody = z.object({ code: z.string().regex(/^\d{6}$/, 'must be 6 digits') });
export const totpDisableBody = z.object({ password: z.string().min(1).max(1024) });
export const totpEnrolResponse = z.object({ secret: z.string(), otpauthUri: z.string(), qrCodeDataUrl: z.string() });
export const totpStatusResponse = z.object({ enabled: z.boolean(), pending: z.boolean(), recoveryCodesLeft: z.number().int(), requiredByTenant: z.boolean() });
export const recoveryCodesResponse = z.object({ recoveryCodes: z.array(z.string()) });

export const passwordChangeBody = z.object({ currentPassword: z.string().min(1).max(1024), newPassword: password8 });
