import { query, request, seg } from './client.ts';
import type {
  ApiTokenInfo, AuditEntry, AuditQuery, CreateProviderInput, CreateTenantInput, CreateTokenInput, CreateUserInput, Provider,
  SecretInfo, Tenant, TwoFactorEnrolment, TwoFactorStatus, UpdateProviderInput, UpdateTenantInput, UpdateUserInput, WebSessionInfo, WebUser,
} from './admin-types.ts';
import type { ListPage, ListQuery, Session } from './types.ts';

/** The admin pages' calls; same request path (CSRF, 401 handling, operator tenant) as `api`. */
export const adminApi = {
  tenants: {
    list: (q: ListQuery & { q?: string } = {}) => request<ListPage<Tenant>>('GET', `/tenants${query(q)}`),
    get: async (id: number) => (await request<{ tenant: Tenant }>('GET', `/tenants/${seg(id)}`)).tenant,
    create: async (input: CreateTenantInput) => (await request<{ tenant: Tenant }>('POST', '/tenants', input)).tenant,
    update: async (id: number, input: UpdateTenantInput) => (await request<{ tenant: Tenant }>('PATCH', `/tenants/${seg(id)}`, input)).tenant,
    remove: (id: number) => request<void>('DELETE', `/tenants/${seg(id)}`),
    addAlias: async (id: number, domain: string) => (await request<{ tenant: Tenant }>('POST', `/tenants/${seg(id)}/aliases`, { domain })).tenant,
    removeAlias: (id: number, domain: string) => request<void>('DELETE', `/tenants/${seg(id)}/aliases/${seg(domain)}`),
  },
  users: {
    list: (q: ListQuery & { tenantId?: number } = {}) => request<ListPage<WebUser>>('GET', `/users${query(q)}`),
    create: async (input: CreateUserInput) => (await request<{ user: WebUser }>('POST', '/users', input)).user,
    update: async (id: number, input: UpdateUserInput) => (await request<{ user: WebUser }>('PATCH', `/users/${seg(id)}`, input)).user,
    remove: (id: number) => request<void>('DELETE', `/users/${seg(id)}`),
    resetTwoFactor: (id: number) => request<void>('DELETE', `/users/${seg(id)}/2fa`),
  },
  tokens: {
    list: (q: ListQuery & { q?: string } = {}) => request<ListPage<ApiTokenInfo>>('GET', `/tokens${query(q)}`),
    /** The clear token is in this answer only. */
    create: (input: CreateTokenInput) => request<{ token: string; tokenInfo: ApiTokenInfo }>('POST', '/tokens', input),
    revoke: (id: number) => request<void>('DELETE', `/tokens/${seg(id)}`),
  },
  secrets: {
    list: (q: ListQuery & { q?: string } = {}) => request<ListPage<SecretInfo>>('GET', `/secrets${query(q)}`),
    put: async (name: string, value: string) => (await request<{ secret: SecretInfo }>('PUT', `/secrets/${seg(name)}`, { value })).secret,
    remove: (name: string) => request<void>('DELETE', `/secrets/${seg(name)}`),
  },
  audit: {
    list: (q: AuditQuery = {}) => request<ListPage<AuditEntry>>('GET', `/audit${query(q)}`),
  },
  providers: {
    list: (q: ListQuery & { q?: string; register?: boolean } = {}) => request<ListPage<Provider>>('GET', `/providers${query(q)}`),
    create: async (input: CreateProviderInput) => (await request<{ provider: Provider }>('POST', '/providers', input)).provider,
    update: async (id: number, input: UpdateProviderInput) => (await request<{ provider: Provider }>('PATCH', `/providers/${seg(id)}`, input)).provider,
    remove: (id: number) => request<void>('DELETE', `/providers/${seg(id)}`),
  },
  setup: {
    status: () => request<{ open: boolean }>('GET', '/setup', undefined, { authProbe: true }),
    /** Creates the first operator with the one-time token; the answer's cookie signs them in. */
    createOperator: (input: { token: string; email: string; password: string }) => request<Session>('POST', '/setup', input, { authProbe: true }),
  },
  me: {
    changePassword: (currentPassword: string, newPassword: string) => request<void>('POST', '/auth/password', { currentPassword, newPassword }),
    sessions: () => request<ListPage<WebSessionInfo>>('GET', '/auth/sessions'),
    revokeSession: (id: number) => request<void>('DELETE', `/auth/sessions/${seg(id)}`),
    twoFactor: () => request<TwoFactorStatus>('GET', '/auth/2fa'),
    enrolTwoFactor: () => request<TwoFactorEnrolment>('POST', '/auth/2fa/enrol'),
    confirmTwoFactor: (code: string) => request<{ recoveryCodes: string[] }>('POST', '/auth/2fa/confirm', { code }),
    disableTwoFactor: (password: string) => request<void>('POST', '/auth/2fa/disable', { password }),
  },
};
