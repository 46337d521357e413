import { DEFAULT_DIALPLAN_NAME } from '../../../sandbox/default-dialplan.ts';
import { z } from 'zod';
import type { AccountKeepaliveMethod, SipAccount, SipAccountSettings } from '../../../db/index.ts';
import type { ApiRouter, RouteInput } from '../api-router.ts';
import type { ApiBinding, RouteDeps } from '../deps.ts';
import { ApiError } from '../middleware/api-error.ts';
import { accountCreateBody, accountDndBody, accountDndSchema, accountPatchBody, accountSchema, accountsQuery, bindingSchema, MEMBER_ACCOUNT_FIELDS } from '../schemas/accounts.ts';
import { idCursor, idFrom, listOf, page } from '../schemas/common.ts';

const one = z.object({ account: accountSchema });

/** The account without its HA1s (write-only secrets never leave the server). */
export function showAccount(a: SipAccount) {
  return {
    id: a.id,
    username: a.username,
    domain: a.domain,
    displayName: a.displayName ?? null,
    outDialplan: a.outDialplan,
    inDialplan: a.inDialplan,
    incomingOnly: a.incomingOnly,
    disabled: a.disabled,
    natKeepalive: a.natKeepalive,
    keepaliveMethod: a.keepaliveMethod,
    allowedCidrs: a.allowedCidrs,
    trustUdpSource: a.trustUdpSource,
    callerId: a.callerId,
    maxCalls: a.maxCalls,
    ownerUserId: a.ownerUserId ?? null,
    dnd: a.dnd === true,
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
  };
}

type AccountInput = z.output<typeof accountPatchBody>;

function settingsOf(b: AccountInput): SipAccountSettings {
  const { password: _p, keepaliveMethod, ...rest } = b;
  const out: SipAccountSettings = {};
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  if (keepaliveMethod !== undefined) out.keepaliveMethod = keepaliveMethod as AccountKeepaliveMethod;
  return out;
}

/**
 * SIP accounts of a tenant: admins manage them all; a member sees and tunes only the accounts
 * they own. Another tenant's (or, for a member, another person's) account is 404.
 */
export function mountAccountRoutes(api: ApiRouter, d: RouteDeps): void {
  const base = { tag: 'accounts', roles: ['operator', 'admin', 'member'], tenantScoped: true } as const;
  const adminOnly = { ...base, roles: ['operator', 'admin'] } as const;

  const visible = async (input: RouteInput<unknown, unknown>): Promise<SipAccount> => {
    const a = await d.db.accounts.get(idFrom(input.params['id'], 'account'));
    if (!a || a.tenantId !== input.tenantId || (input.auth.user.role === 'member' && a.ownerUserId !== input.auth.user.id)) throw new ApiError(404, 'account not found');
    return a;
  };
  const checkOwner = async (tenantId: number, ownerUserId: number | null | undefined) => {
    if (ownerUserId == null) return;
    const u = await d.db.users.get(ownerUserId);
    if (!u || u.tenantId !== tenantId) throw new ApiError(400, 'ownerUserId: no such user in this tenant', 'ownerUserId');
  };

  api.define({ ...base, method: 'get', path: '/accounts', summary: 'SIP accounts (a member: their own)', query: accountsQuery, response: listOf(accountSchema) }, async ({ auth, tenantId, query }) => {
    const afterId = idCursor(query.cursor);
    const rows = await d.db.accounts.listPage({
      tenantId,
      limit: query.limit + 1,
      ...(afterId !== undefined && { afterId }),
      ...(auth.user.role === 'member' && { ownerUserId: auth.user.id }),
      ...(query.username !== undefined && { username: query.username }),
    });
    return page(rows, query.limit, (a) => String(a.id), showAccount);
  });

  api.define({ ...adminOnly, method: 'post', path: '/accounts', summary: 'Create a SIP account (password ≥ 8 characters, stored only as HA1s)', body: accountCreateBody, response: one, status: 201 }, async ({ tenantId, body, audit }) => {
    await checkOwner(tenantId, body.ownerUserId);
    const tenant = (await d.db.tenants.get(tenantId))!;
    // Unless told otherwise, a new account places its calls through the tenant's `default` dialplan.
    const outDialplan = body.outDialplan === undefined && (await d.db.dialplans.getCurrent(tenantId, DEFAULT_DIALPLAN_NAME)) ? DEFAULT_DIALPLAN_NAME : undefined;
    const account = await d.db.transaction(async (tx) => {
      const a = await tx.accounts.add({ ...settingsOf(body), ...(outDialplan && { outDialplan }), username: body.username, password: body.password, domain: tenant.domain });
      await audit(tx, { action: 'account.add', target: `account:${a.username}@${a.domain}` });
      return a;
    });
    d.changed({ tenantId, kind: 'account', name: account.username });
    return { account: showAccount(account) };
  });

  api.define({ ...base, method: 'get', path: '/accounts/:id', summary: 'One SIP account', response: one }, async (input) => ({ account: showAccount(await visible(input)) }));

  api.define({ ...base, method: 'patch', path: '/accounts/:id', summary: 'Change settings or the password (a member: password, display name, keep-alives)', body: accountPatchBody, response: one }, async (input) => {
    const a = await visible(input);
    const { body, auth, tenantId } = input;
    if (auth.user.role === 'member') {
      const field = Object.keys(body).find((k) => (body as Record<string, unknown>)[k] !== undefined && !MEMBER_ACCOUNT_FIELDS.has(k));
      if (field) throw new ApiError(403, `${field}: only an admin may change this`, field);
    }
    await checkOwner(tenantId, body.ownerUserId);
    const account = await d.db.transaction(async (tx) => {
      const updated = await tx.accounts.update(a.username, a.domain, settingsOf(body));
      if (body.password !== undefined) await tx.accounts.setPassword(a.username, a.domain, body.password);
      const details = Object.fromEntries(Object.entries(body).map(([k, v]) => [k, k === 'password' ? '(changed)' : v]));
      await input.audit(tx, { action: 'account.update', target: `account:${a.username}@${a.domain}`, details });
      return updated;
    });
    d.changed({ tenantId, kind: 'account', name: a.username });
    return { account: showAccount(account) };
  });

  api.define({ ...adminOnly, method: 'delete', path: '/accounts/:id', summary: 'Delete a SIP account and its bindings', status: 204 }, async (input) => {
    const a = await visible(input);
    for (const b of d.liveBindings?.list(a.id) ?? []) d.liveBindings?.remove(b.id);
    await d.db.transaction(async (tx) => {
      await tx.accounts.remove(a.username, a.domain);
      await input.audit(tx, { action: 'account.remove', target: `account:${a.username}@${a.domain}` });
    });
    d.changed({ tenantId: input.tenantId, kind: 'account', name: a.username });
    return undefined;
  });

  // Receptionists switch any extension's DND from the switchboard; a member only their own accounts.
  api.define({ ...base, roles: ['operator', 'admin', 'receptionist', 'member'], method: 'put', path: '/accounts/:id/dnd', summary: 'Switch do-not-disturb (calls to the account then take the busy path, 486)', body: accountDndBody, response: accountDndSchema }, async (input) => {
    const a = await visible(input);
    const dnd = input.body.dnd;
    await d.db.transaction(async (tx) => {
      await tx.accounts.update(a.username, a.domain, { dnd });
      await input.audit(tx, { action: 'account.dnd', target: `account:${a.username}@${a.domain}`, details: { dnd } });
    });
    d.changed({ tenantId: input.tenantId, kind: 'account', name: a.username });
    d.events?.emit({ type: 'account.dnd', tenantId: input.tenantId, accountId: a.id, user: a.username, dnd, by: input.auth.user.email ?? String(input.auth.user.id), at: Date.now() });
    return { accountId: a.id, user: a.username, dnd };
  });

  const bindingsOf = async (accountId: number): Promise<ApiBinding[]> => {
    if (d.liveBindings) return d.liveBindings.list(accountId);
    return (await d.db.bindings.listForAccount(accountId)).map((b) => ({
      id: b.id,
      contact: b.contactUri,
      sourceAddress: `${b.sourceAddress}:${b.sourcePort}`,
      transport: b.sourceTransport,
      userAgent: b.userAgent,
      expiresAt: b.expiresAt,
    }));
  };

  api.define({ ...base, method: 'get', path: '/accounts/:id/bindings', summary: 'Registered contacts of an account', response: listOf(bindingSchema) }, async (input) => {
    const a = await visible(input);
    return { items: await bindingsOf(a.id), nextCursor: null };
  });

  api.define({ ...base, method: 'delete', path: '/accounts/:id/bindings/:bindingId', summary: 'Unregister one contact now', status: 204 }, async (input) => {
    const a = await visible(input);
    const id = input.params['bindingId']!;
    if (!(await bindingsOf(a.id)).some((b) => b.id === id)) throw new ApiError(404, 'binding not found');
    if (d.liveBindings) d.liveBindings.remove(id);
    await d.db.transaction(async (tx) => {
      // The registrar writes its removal behind; the stored copy goes now too so nothing restores it.
      await tx.bindings.removeMany([id]);
      await input.audit(tx, { action: 'account.binding.remove', target: `account:${a.username}@${a.domain}`, details: { bindingId: id } });
    });
    return undefined;
  });
}
