import type { TenantRef } from '../../registrar/index.ts';
import type { SysFunctionName } from '../../../sandbox/index.ts';
import type { CallParty } from '../records/index.ts';
import type { CallAccount, CallServiceOptions } from '../call-service-deps.ts';
import { checkFromHosts, type DialResult } from '../dial/index.ts';
import { enumLookup } from './enum-lookup.ts';
import { customHeaderProblem, type LegSettings } from './leg-settings.ts';
import { webGet } from './web-get.ts';

export interface SandboxDialResult {
  answered: boolean;
  status: number;
  reason: string;
  outcome: string;
  /** The 3xx that ended the Dial (rm=m, rm=n, or one not followed by default): the script decides what to do with it. */
  redirect?: { status: number; reason: string; targets: string[] };
}

/** The redirect part of a Dial result as the script sees it (no leg ids, no mode). */
export function sandboxRedirect(r: DialResult): Pick<SandboxDialResult, 'redirect'> {
  return r.redirect ? { redirect: { status: r.redirect.status, reason: r.redirect.reason, targets: [...r.redirect.targets] } } : {};
}
export interface CallbackResult { answered: boolean; status: number; reason: string }

export interface DialCallOptions {
  ringTimeout?: number;
  callDurationLimit?: number;
  /** Already checked with customHeaderProblem. */
  customHeaders: Array<[string, string]>;
}

/** One running dialplan as the sys functions see it: the top-level Call or a nested local-account run. */
export interface DialplanScope {
  readonly tenant: TenantRef;
  readonly callId: string;
  /** The caller's account (outgoing dialplan) or the callee's (incoming). */
  readonly account: CallAccount;
  readonly dialplanName: string;
  readonly settings: LegSettings;
  dial(dialString: string, options: DialCallOptions): Promise<SandboxDialResult>;
  respond(code: number, reason: string, headers: Record<string, string>): void;
  callback(dest1: string, dest2: string): Promise<CallbackResult>;
}

/** What GetCurrentCalls shows of a call (Call and CallbackCall both have it). */
export interface CurrentCallView {
  readonly id: string;
  readonly caller: CallParty;
  readonly callee: CallParty;
  readonly state: string;
  readonly createdAt: number;
}

/** The parts of the call service's options the sys functions use (a dry run outside the switch gives just these). */
export type SysFunctionOptions = Pick<CallServiceOptions, 'accounts' | 'location' | 'kv' | 'secrets' | 'webGet' | 'enum' | 'emit'>;

export interface SysFunctionDeps {
  opts: SysFunctionOptions;
  /** Calls of exactly this tenant. */
  currentCalls(tenantId: number): CurrentCallView[];
}

export const DB_MAX_KEY_LENGTH = 64;
export const DB_MAX_VALUE_LENGTH = 10_000;

/**
 * The host side of `sys.*` (DESIGN.md "The dialplan"): argument checks, tenant scoping, and the
 * calls into the KV store, location service, DNS and HTTP. Everything is scoped by the tenant of
 * the running dialplan — a script can never name another tenant's data. A thrown Error reaches
 * the script as a plain Error with only the message (the sandbox strips the host stack).
 */
export class SysFunctions {
  constructor(private readonly scope: DialplanScope, private readonly deps: SysFunctionDeps) {}

  private async checkFromHosts(fn: string, dialString: string): Promise<void> {
    try {
      await checkFromHosts(dialString, this.scope.tenant, this.deps.opts.accounts);
    } catch (err) {
      throw new Error(`${fn}: ${(err as Error).message}`);
    }
  }

  async call(name: SysFunctionName, args: unknown[]): Promise<unknown> {
    const scope = this.scope;
    const opts = this.deps.opts;
    const tenantId = scope.tenant.id;
    const str = (i: number, what: string): string => {
      const v = args[i];
      if (typeof v !== 'string') throw new Error(`${name}: ${what} must be a string`);
      return v;
    };
    const optStr = (i: number): string | undefined => (typeof args[i] === 'string' ? (args[i] as string) : undefined);
    const key = (i: number): string => {
      const k = str(i, 'key');
      if (k.length === 0 || k.length > DB_MAX_KEY_LENGTH) throw new Error(`${name}: key must be 1–${DB_MAX_KEY_LENGTH} characters (got ${k.length})`);
      return k;
    };
    switch (name) {
      case 'Dial': {
        const o = (args[1] && typeof args[1] === 'object' ? args[1] : {}) as Record<string, unknown>;
        const customHeaders = scope.settings.customHeaders();
        const extra = o['customHeaders'];
        if (extra && typeof extra === 'object') {
          for (const [k, v] of Object.entries(extra as Record<string, unknown>)) {
            if (typeof v !== 'string') continue;
            const problem = customHeaderProblem(k, v);
            if (problem) throw new Error(`Dial: customHeaders: ${problem}`);
            customHeaders.push([k, v]);
          }
        }
        const dialString = str(0, 'dial string');
        await this.checkFromHosts('Dial', dialString);
        return scope.dial(dialString, {
          ringTimeout: typeof o['ringTimeout'] === 'number' ? o['ringTimeout'] : undefined,
          callDurationLimit: typeof o['callDurationLimit'] === 'number' ? o['callDurationLimit'] : undefined,
          customHeaders,
        });
      }
      case 'Log':
        opts.emit({
          type: 'dialplan.log', tenantId: Number(tenantId), callId: scope.callId, at: Date.now(), level: 'info',
          dialplan: scope.dialplanName, message: String(args[0] ?? '').slice(0, 4096),
        });
        return null;
      case 'Respond': {
        const code = Number(args[0]);
        if (!Number.isInteger(code) || code < 300 || code > 699) throw new Error('Respond: code must be 300–699');
        const reason = (optStr(1) ?? '').replace(/[\r\n]/g, ' ').slice(0, 128);
        const extra = args[2] && typeof args[2] === 'object' ? (args[2] as Record<string, unknown>) : {};
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(extra)) {
          if (typeof v === 'string' && !customHeaderProblem(k, v)) headers[k] = v;
        }
        scope.respond(code, reason, headers);
        return null;
      }
      case 'IsAvailable': {
        const user = str(0, 'user');
        const domain = optStr(1)?.toLowerCase();
        if (domain && domain !== scope.tenant.domain) {
          // Another tenant's registrations are none of this script's business: always false.
          const t = await opts.accounts.tenantForDomain(domain);
          if (!t || t.id !== tenantId) return false;
        }
        return opts.location.lookup(user, scope.tenant.domain).length > 0;
      }
      case 'GetBindings': {
        const now = Date.now();
        return opts.location.lookup(scope.account.username, scope.tenant.domain)
          .filter((b) => b.binding.tenantId === tenantId)
          .map((b) => ({
            contact: b.binding.contactUri,
            expires: Math.max(0, Math.round((b.binding.expiresAt - now) / 1000)),
            userAgent: b.binding.userAgent,
            source: `${b.target.transport}:${b.target.address}:${b.target.port}`,
          }));
      }
      case 'SetFromHeader':
        scope.settings.from = {
          displayName: optStr(0) ?? scope.settings.from.displayName,
          user: optStr(1) ?? scope.settings.from.user,
          host: optStr(2) ?? scope.settings.from.host,
        };
        for (const [part, v] of Object.entries(scope.settings.from)) {
          if (v !== undefined && !/^[^\r\n"<>\u0000]{0,128}$/.test(v)) throw new Error(`SetFromHeader: invalid ${part}`);
        }
        return null;
      case 'ClearFromHeader':
        scope.settings.from = {};
        return null;
      case 'SetCustomSIPHeader':
        scope.settings.setHeader(str(0, 'name'), str(1, 'value'));
        return null;
      case 'RemoveCustomSIPHeader':
        scope.settings.removeHeader(str(0, 'name'));
        return null;
      case 'DBRead':
        return (await opts.kv.read(tenantId, key(0))) ?? null;
      case 'DBWrite': {
        const k = key(0);
        const value = str(1, 'value');
        if (value.length > DB_MAX_VALUE_LENGTH) throw new Error(`DBWrite: value must be at most ${DB_MAX_VALUE_LENGTH} characters (got ${value.length})`);
        await opts.kv.write(tenantId, k, value);
        return null;
      }
      case 'DBDelete':
        await opts.kv.delete(tenantId, key(0));
        return null;
      case 'DBGetKeys':
        return opts.kv.keys(tenantId);
      case 'Secret': {
        const name = str(0, 'name');
        if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new Error('Secret: name must be 1-64 characters of A-Z a-z 0-9 _ . -');
        return (await opts.secrets?.reveal(tenantId, name)) ?? null;
      }
      case 'WebGet': {
        try {
          const r = await webGet(str(0, 'url'), { timeoutMs: typeof args[1] === 'number' ? args[1] : undefined }, opts.webGet);
          return r.body;
        } catch (err) {
          throw new Error(`WebGet: ${(err as Error).message}`);
        }
      }
      case 'ENUMLookup':
        return enumLookup(str(0, 'number'), opts.enum);
      case 'Callback': {
        const dest1 = str(0, 'dest1');
        const dest2 = str(1, 'dest2');
        await this.checkFromHosts('Callback', dest1);
        await this.checkFromHosts('Callback', dest2);
        return scope.callback(dest1, dest2);
      }
      case 'GetCurrentCalls':
        return this.deps.currentCalls(tenantId).map((c) => ({
          callId: c.id, from: c.caller.uri, to: c.callee.uri, state: c.state, startedAt: new Date(c.createdAt).toISOString(),
        }));
      default:
        throw new Error(`${String(name)} is not a sys function`);
    }
  }
}
