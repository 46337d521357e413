import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, ensureSecretKey, loadSettings, type Config } from '../config/index.ts';
import {
  DuplicateError,
  isCidr,
  KEEPALIVE_METHODS,
  NotFoundError,
  openDatabase,
  ValidationError,
  WEB_ROLES,
  type AccountKeepaliveMethod,
  type Database,
  type SipAccount,
  type SipAccountSettings,
  type WebRole,
  PROVIDER_NUMBER_FORMATS,
  type CallPolicy,
  type ProviderNumberFormat,
  type ProviderSettings,
  type ProviderUpdate,
} from '../db/index.ts';
import { sourceKey } from '../server/sip/index.ts';
// The park folder alone (no calls layer to load for a settings command).
import { parseParkSlots } from '../server/calls/park/index.ts';

/** Exit codes: 0 done, 1 failed (duplicate, unknown tenant, compile error, runtime), 2 bad arguments. */
const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

class UsageError extends Error {}
class CommandFailed extends Error {}

const USAGE = `Usage: patchbay <command> [options]

Commands:
  serve                                         start the SIP switch and the HTTP API
  migrate                                       apply database migrations
  tenant add <domain> [--name N]                create a tenant
  tenant list                                   list tenants
  tenant set <domain> [--park-slots FIRST-LAST|default] [--park-recall S|default]
                                                the tenant's own park slots (at most 100) and recall seconds
                                                (0: never); default: back to PATCHBAY_PARK_SLOTS / _RECALL_SEC
  account add <user>@<domain> --password P [account settings]
  account set <user>@<domain> [account settings]   change settings of a SIP account
  account list <domain>                         list a tenant's SIP accounts with their settings
  account passwd <user>@<domain> --password P   set a SIP account's password
  account remove <user>@<domain>                remove a SIP account
  dialplan set <domain> <name> <file.ts|file.js>  compile and store a new dialplan version
  dialplan list <domain>                        list a tenant's dialplans
  dialplan test <domain> <name> --call call.json [--source file.ts] [--expect STATUS]
                                                dry-run: run it in the sandbox against simulated legs, print
                                                the timeline; exit 1 unless the caller gets 2xx (or STATUS)
  user add <email> --tenant <domain> --role R --password P   (R: ${WEB_ROLES.join('|')})
  provider add <domain> <name> --server <sip-uri> [provider settings]
  provider set <domain> <name> [provider settings]   change what is given
  provider list <domain>                        providers with their registration state
  provider remove <domain> <name>
  did add <number> --tenant <domain> [--account U] [--provider N] [--dialplan D]   an inbound number
  did list <domain>
  did remove <number> --tenant <domain>
  policy show|reset <domain>                    the tenant's destination policy for provider legs
  policy set <domain> [--deny P]... [--allow P]... [--allow-list-only on|off] [--calls-per-minute N]
             [--account-calls-per-minute N] [--max-concurrent N] [--account-max-concurrent N] [--max-duration S]
  ban list                                      authentication bans in force (address, reason, until, count)
  ban remove <ip>                               lift a ban; a running server lets the source in within 2 s
  help                                          show this text

Account settings (add and set):
  --nat-keepalive on|off        NAT keep-alives and OPTIONS qualify probes for its bindings
  --keepalive-method crlf|options   what UDP bindings get as keep-alive
  --allowed-cidr CIDR           the only networks the account may register/call from; repeatable; on
                                set the given list replaces the old one, --allowed-cidr "" clears it.
                                Inside them TCP/TLS/WS needs no digest; UDP still does (spoofable)
  --trust-udp-source on|off     also trust --allowed-cidr alone over UDP (default off). A UDP source
                                address can be forged by anyone: only for a PBX on a network you control
  --caller-id TEXT              caller id for its outgoing calls ("" clears)
  --max-calls N                 concurrent calls limit ("" clears)
  --disabled | --enabled
  --out-dialplan N | --in-dialplan N   ("" clears)
  --incoming-only | --no-incoming-only
  --dnd on|off                  do-not-disturb: calls to it fail with 486 (busy path). A running
                                switch applies it to calls within its account cache time; the API
                                (PUT /api/v1/accounts/:id/dnd) applies it at once and lights the lamps

Provider settings (add and set; "" clears a text setting):
  --server sip:host[:port][;transport=tcp]   --outbound-proxy sip:host[:port]
  --username U --auth-user A --password P    --register | --no-register  --register-expiry S
  --from-user U --from-host H --display-name N   --header Name:Value (repeatable; replaces the list)
  --pai on|off --privacy id|none|...          --number-format e164|e164-no-plus|national|as-dialled
  --country-code 49 --national-prefix 0 --international-prefix 00
  --source-cidr CIDR (repeatable; replaces the list; "" clears)   where its inbound calls may come from
  --ping-interval S             OPTIONS pings marking it down/up (0: off)
  --provisional-timeout MS      next server target when one sends nothing in MS (default 5000, 0: Timer B)

Every command accepts --db URL (sqlite:<path> or mysql://user:pass@host:port/db), --config FILE and --json.
`;

const COMMON_OPTIONS = {
  db: { type: 'string' },
  json: { type: 'boolean' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

type OptionSpec = NonNullable<ParseArgsConfig['options']>;
type OptionValues = Record<string, string | boolean | string[] | undefined>;

interface Io {
  out(line: string): void;
  err(line: string): void;
}

const io: Io = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

function parse(args: string[], extra: OptionSpec, positionalNames: string[]) {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...COMMON_OPTIONS, ...extra }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
  const { positionals } = parsed;
  if (positionals.length < positionalNames.length) {
    throw new UsageError(`missing argument <${positionalNames[positionals.length]}>`);
  }
  if (positionals.length > positionalNames.length) {
    throw new UsageError(`unexpected argument "${positionals[positionalNames.length]}"`);
  }
  return { values: parsed.values as OptionValues, positionals };
}

function requireOption(values: OptionValues, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`missing required option --${name}`);
  return v;
}

/** SIP account passwords: at least 8 characters, as the API demands (a digest HA1 of a short one falls to a wordlist). */
const MIN_SIP_PASSWORD = 8;

function requireSipPassword(values: OptionValues): string {
  const password = requireOption(values, 'password');
  if (password.length < MIN_SIP_PASSWORD) throw new UsageError(`--password must be at least ${MIN_SIP_PASSWORD} characters`);
  return password;
}

function splitAddress(text: string, argName: string): { user: string; domain: string } {
  const at = text.lastIndexOf('@');
  if (at <= 0 || at === text.length - 1) throw new UsageError(`<${argName}> must be <user>@<domain>, got "${text}"`);
  return { user: text.slice(0, at), domain: text.slice(at + 1) };
}

interface CommandContext {
  values: OptionValues;
  argv: string[];
  json: boolean;
}

function settingsFor(ctx: CommandContext) {
  const configFile = typeof ctx.values['config'] === 'string' ? ctx.values['config'] : undefined;
  return loadSettings({ argv: [], ...(configFile && { file: configFile }) });
}

async function withDatabase<T>(
  ctx: CommandContext,
  needsKey: boolean,
  run: (db: Database) => Promise<T>,
  autoMigrate = true,
): Promise<T> {
  const settings = settingsFor(ctx);
  const url = typeof ctx.values['db'] === 'string' ? ctx.values['db'] : settings.db.url;
  const secretKey = needsKey ? (settings.secretKey ?? ensureSecretKey(settings.dataDir)) : settings.secretKey;
  const db = await openDatabase(url, secretKey ? { secretKey } : {});
  try {
    // Admin commands migrate first so a fresh SQLite file works without a separate `migrate`.
    if (autoMigrate) await db.migrate();
    return await run(db);
  } finally {
    await db.close();
  }
}

function print(ctx: CommandContext, json: unknown, human: string[]): void {
  if (ctx.json) io.out(JSON.stringify(json));
  else for (const line of human) io.out(line);
}

async function requireTenant(db: Database, domain: string) {
  const t = await db.tenants.findByDomain(domain);
  if (!t) throw new CommandFailed(`unknown tenant "${domain}"`);
  return t;
}

const audit = (db: Pick<Database, 'audit'>, action: string, target: string, tenantId: number | null, details?: Record<string, unknown>) =>
  db.audit.record({ actor: 'cli', action, target, tenantId, sourceAddress: 'cli', details: details ?? null });

const ACCOUNT_SETTING_OPTIONS = {
  'nat-keepalive': { type: 'string' },
  'keepalive-method': { type: 'string' },
  'allowed-cidr': { type: 'string', multiple: true },
  'trust-udp-source': { type: 'string' },
  'caller-id': { type: 'string' },
  'max-calls': { type: 'string' },
  disabled: { type: 'boolean' },
  enabled: { type: 'boolean' },
  'out-dialplan': { type: 'string' },
  'in-dialplan': { type: 'string' },
  'incoming-only': { type: 'boolean' },
  'no-incoming-only': { type: 'boolean' },
  dnd: { type: 'string' },
} as const satisfies OptionSpec;

/** Reads the account setting options; only those given are in the result, "" clears a nullable one. */
function accountSettingsFrom(values: OptionValues): SipAccountSettings {
  const settings: SipAccountSettings = {};
  const text = (name: string): string | undefined => {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  };
  const nullable = (name: string): string | null | undefined => {
    const v = text(name);
    return v === undefined ? undefined : v === '' ? null : v;
  };
  const switchPair = (on: string, off: string): boolean | undefined => {
    if (values[on] === true && values[off] === true) throw new UsageError(`--${on} and --${off} contradict each other`);
    return values[on] === true ? true : values[off] === true ? false : undefined;
  };

  const nat = text('nat-keepalive');
  if (nat !== undefined) {
    if (nat !== 'on' && nat !== 'off') throw new UsageError(`--nat-keepalive must be on|off, got "${nat}"`);
    settings.natKeepalive = nat === 'on';
  }
  const method = text('keepalive-method');
  if (method !== undefined) {
    if (!KEEPALIVE_METHODS.includes(method as AccountKeepaliveMethod)) {
      throw new UsageError(`--keepalive-method must be ${KEEPALIVE_METHODS.join('|')}, got "${method}"`);
    }
    settings.keepaliveMethod = method as AccountKeepaliveMethod;
  }
  const cidrs = values['allowed-cidr'];
  if (Array.isArray(cidrs)) {
    const list = cidrs.map((c) => c.trim()).filter((c) => c !== '');
    for (const c of list) if (!isCidr(c)) throw new UsageError(`--allowed-cidr: not an IPv4 or IPv6 CIDR: "${c}"`);
    settings.allowedCidrs = [...new Set(list)];
  }
  const trustUdp = text('trust-udp-source');
  if (trustUdp !== undefined) {
    if (trustUdp !== 'on' && trustUdp !== 'off') throw new UsageError(`--trust-udp-source must be on|off, got "${trustUdp}"`);
    settings.trustUdpSource = trustUdp === 'on';
  }
  const callerId = nullable('caller-id');
  if (callerId !== undefined) settings.callerId = callerId;
  const maxCalls = nullable('max-calls');
  if (maxCalls !== undefined) {
    if (maxCalls !== null && !/^\d{1,9}$/.test(maxCalls)) throw new UsageError(`--max-calls must be a non-negative integer, got "${maxCalls}"`);
    settings.maxCalls = maxCalls === null ? null : Number(maxCalls);
  }
  const disabled = switchPair('disabled', 'enabled');
  if (disabled !== undefined) settings.disabled = disabled;
  const out = nullable('out-dialplan');
  if (out !== undefined) settings.outDialplan = out;
  const inbound = nullable('in-dialplan');
  if (inbound !== undefined) settings.inDialplan = inbound;
  const incomingOnly = switchPair('incoming-only', 'no-incoming-only');
  if (incomingOnly !== undefined) settings.incomingOnly = incomingOnly;
  const dnd = text('dnd');
  if (dnd !== undefined) {
    if (dnd !== 'on' && dnd !== 'off') throw new UsageError(`--dnd must be on|off, got "${dnd}"`);
    settings.dnd = dnd === 'on';
  }
  return settings;
}

type ShownAccount = Omit<SipAccount, 'ha1Md5' | 'ha1Sha256'>;

function shownAccount({ ha1Md5: _m, ha1Sha256: _s, ...shown }: SipAccount): ShownAccount {
  return shown;
}

function describeAccount(a: ShownAccount): string {
  const fields = [
    `${a.username}@${a.domain}`,
    `out=${a.outDialplan ?? '-'}`,
    `in=${a.inDialplan ?? '-'}`,
    `nat-keepalive=${a.natKeepalive ? `on/${a.keepaliveMethod}` : 'off'}`,
    `allowed-cidr=${a.allowedCidrs.length ? a.allowedCidrs.join(',') : '-'}`,
    `caller-id=${a.callerId ?? '-'}`,
    `max-calls=${a.maxCalls ?? '-'}`,
  ];
  if (a.incomingOnly) fields.push('incoming-only');
  if (a.disabled) fields.push('disabled');
  if (a.dnd) fields.push('dnd');
  return fields.join('\t');
}

type Handler = (args: string[]) => Promise<number>;

const commands: Record<string, Handler> = {
  async serve(args) {
    const { values } = parse(args, {}, []);
    const configFile = typeof values['config'] === 'string' ? values['config'] : undefined;
    const settings = loadSettings(configFile ? { file: configFile } : {});
    const config: Config = {
      ...settings,
      ...(typeof values['db'] === 'string' && { db: { url: values['db'] } }),
      secretKey: settings.secretKey ?? ensureSecretKey(settings.dataDir),
    };
    const { startServer } = await import('../server/main.ts');
    const { createLogger } = await import('../server/logger.ts');
    const logger = createLogger(config.logLevel);
    let server;
    try {
      server = await startServer(config, { logger });
    } catch (err) {
      logger.fatal({ err }, 'start failed');
      io.err(`patchbay: start failed: ${(err as Error).message}`);
      return EXIT_FAILED;
    }
    const running = server;
    return new Promise<number>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        logger.info({ signal }, 'shutting down');
        running.close().then(
          () => resolve(EXIT_OK),
          (err: unknown) => {
            logger.error({ err }, 'shutdown failed');
            resolve(EXIT_FAILED);
          },
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  },

  async migrate(args) {
    const { values } = parse(args, {}, []);
    const ctx = { values, argv: args, json: values['json'] === true };
    const applied = await withDatabase(ctx, true, (db) => db.migrate(), false);
    print(ctx, { applied }, [applied.length ? `applied ${applied.join(', ')}` : 'database is up to date']);
    return EXIT_OK;
  },

  async tenant(args) {
    const [sub, ...rest] = args;
    if (sub === 'add') {
      const { values, positionals } = parse(rest, { name: { type: 'string' } }, ['domain']);
      const ctx = { values, argv: rest, json: values['json'] === true };
      const tenant = await withDatabase(ctx, false, async (db) => {
        const { compileDialplan, DEFAULT_DIALPLAN_NAME, DEFAULT_DIALPLAN_SOURCE } = await import('../sandbox/index.ts');
        const plan = await compileDialplan(DEFAULT_DIALPLAN_SOURCE, 'ts');
        if (!plan.ok) throw new CommandFailed(`the default dialplan does not compile: ${JSON.stringify(plan.errors)}`);
        return db.transaction(async (tx) => {
          const t = await tx.tenants.add({ domain: positionals[0]!, ...(typeof values['name'] === 'string' && { name: values['name'] }) });
          await audit(tx, 'tenant.add', t.domain, t.id, { name: t.name });
          // Its accounts can call each other at once (new accounts place calls through it).
          await tx.dialplans.save({ tenantId: t.id, name: DEFAULT_DIALPLAN_NAME, language: 'ts', source: DEFAULT_DIALPLAN_SOURCE, compiledJs: plan.js, sourceMap: plan.sourceMap, author: 'cli', message: 'made with the tenant' });
          return t;
        });
      });
      print(ctx, tenant, [`tenant ${tenant.domain} added (id ${tenant.id}) with the dialplan "default"`]);
      return EXIT_OK;
    }
    if (sub === 'list') {
      const { values } = parse(rest, {}, []);
      const ctx = { values, argv: rest, json: values['json'] === true };
      const tenants = await withDatabase(ctx, false, (db) => db.tenants.list());
      print(
        ctx,
        tenants,
        tenants.map((t) => `${t.domain}\t${t.name}${t.aliases.length ? `\taliases: ${t.aliases.join(',')}` : ''}`),
      );
      return EXIT_OK;
    }
    if (sub === 'set') {
      const { values, positionals } = parse(rest, { 'park-slots': { type: 'string' }, 'park-recall': { type: 'string' } }, ['domain']);
      const ctx = { values, argv: rest, json: values['json'] === true };
      const patch: { parkSlots?: string | null; parkRecallSeconds?: number | null } = {};
      const slots = values['park-slots'];
      if (typeof slots === 'string') {
        const range = slots === 'default' ? undefined : parseParkSlots(slots);
        if (slots !== 'default' && (!range || /^\s*0\d/.test(slots))) throw new UsageError(`--park-slots must be a range first-last of at most 100 numbers like 70-79, or default; got "${slots}"`);
        patch.parkSlots = range ? `${range.first}-${range.last}` : null;
      }
      const recall = values['park-recall'];
      if (typeof recall === 'string') patch.parkRecallSeconds = recall === 'default' ? null : wholeNumber(values, 'park-recall')!;
      if (Object.keys(patch).length === 0) throw new UsageError('nothing to set: give --park-slots and/or --park-recall');
      const tenant = await withDatabase(ctx, false, async (db) => {
        const t = await requireTenant(db, positionals[0]!);
        return db.transaction(async (tx) => {
          const updated = await tx.tenants.update(t.id, patch);
          await audit(tx, 'tenant.update', t.domain, t.id, { ...patch });
          return updated!;
        });
      });
      const fallback = (v: string | number | null, env: string) => (v === null ? `the switch default (${env})` : String(v));
      print(ctx, tenant, [
        `tenant ${tenant.domain} changed`,
        `park slots: ${fallback(tenant.parkSlots, 'PATCHBAY_PARK_SLOTS')}, recall after: ${fallback(tenant.parkRecallSeconds, 'PATCHBAY_PARK_RECALL_SEC')}${tenant.parkRecallSeconds === null ? '' : ' s'}`,
      ]);
      return EXIT_OK;
    }
    throw new UsageError(sub ? `unknown tenant command "${sub}" (add|list|set)` : 'missing tenant command (add|list|set)');
  },

  async account(args) {
    const [sub, ...rest] = args;
    if (sub === 'add') {
      const { values, positionals } = parse(rest, { password: { type: 'string' }, ...ACCOUNT_SETTING_OPTIONS }, ['user@domain']);
      const { user, domain } = splitAddress(positionals[0]!, 'user@domain');
      const settings = accountSettingsFrom(values);
      const password = requireSipPassword(values);
      const ctx = { values, argv: rest, json: values['json'] === true };
      const account = await withDatabase(ctx, true, async (db) => {
        const t = await requireTenant(db, domain);
        const { DEFAULT_DIALPLAN_NAME } = await import('../sandbox/default-dialplan.ts');
        // Unless --out-dialplan says otherwise, a new account places calls through the tenant's `default` dialplan.
        if (settings.outDialplan === undefined && (await db.dialplans.getCurrent(t.id, DEFAULT_DIALPLAN_NAME))) settings.outDialplan = DEFAULT_DIALPLAN_NAME;
        const a = await db.accounts.add({ username: user, domain, password, ...settings });
        await audit(db, 'account.add', `${a.username}@${a.domain}`, a.tenantId);
        return a;
      });
      print(ctx, shownAccount(account), [`account ${account.username}@${account.domain} added`]);
      return EXIT_OK;
    }
    if (sub === 'set') {
      const { values, positionals } = parse(rest, ACCOUNT_SETTING_OPTIONS, ['user@domain']);
      const { user, domain } = splitAddress(positionals[0]!, 'user@domain');
      const settings = accountSettingsFrom(values);
      if (Object.keys(settings).length === 0) throw new UsageError('nothing to set: give at least one account setting (see help)');
      const ctx = { values, argv: rest, json: values['json'] === true };
      const account = await withDatabase(ctx, true, async (db) => {
        const t = await requireTenant(db, domain);
        const a = await db.accounts.update(user, domain, settings);
        await audit(db, 'account.set', `${a.username}@${t.domain}`, t.id, { ...settings });
        return a;
      });
      print(ctx, shownAccount(account), [`account ${account.username}@${account.domain} changed`, describeAccount(shownAccount(account))]);
      return EXIT_OK;
    }
    if (sub === 'list') {
      const { values, positionals } = parse(rest, {}, ['domain']);
      const ctx = { values, argv: rest, json: values['json'] === true };
      const accounts = await withDatabase(ctx, true, async (db) => {
        await requireTenant(db, positionals[0]!);
        return db.accounts.listByDomain(positionals[0]!);
      });
      const shown = accounts.map(shownAccount);
      print(ctx, shown, shown.map(describeAccount));
      return EXIT_OK;
    }
    if (sub === 'passwd') {
      const { values, positionals } = parse(rest, { password: { type: 'string' } }, ['user@domain']);
      const { user, domain } = splitAddress(positionals[0]!, 'user@domain');
      const password = requireSipPassword(values);
      const ctx = { values, argv: rest, json: values['json'] === true };
      await withDatabase(ctx, true, async (db) => {
        const t = await requireTenant(db, domain);
        await db.accounts.setPassword(user, domain, password);
        await audit(db, 'account.passwd', `${user}@${t.domain}`, t.id);
      });
      print(ctx, { ok: true }, [`password of ${user}@${domain} changed`]);
      return EXIT_OK;
    }
    if (sub === 'remove') {
      const { values, positionals } = parse(rest, {}, ['user@domain']);
      const { user, domain } = splitAddress(positionals[0]!, 'user@domain');
      const ctx = { values, argv: rest, json: values['json'] === true };
      await withDatabase(ctx, true, async (db) => {
        const t = await requireTenant(db, domain);
        if (!(await db.accounts.remove(user, domain))) throw new CommandFailed(`unknown account ${user}@${t.domain}`);
        await audit(db, 'account.remove', `${user}@${t.domain}`, t.id);
      });
      print(ctx, { ok: true }, [`account ${user}@${domain} removed`]);
      return EXIT_OK;
    }
    throw new UsageError(
      sub ? `unknown account command "${sub}" (add|set|list|passwd|remove)` : 'missing account command (add|set|list|passwd|remove)',
    );
  },

  async dialplan(args) {
    const [sub, ...rest] = args;
    if (sub === 'set') {
      const { values, positionals } = parse(rest, {}, ['domain', 'name', 'file']);
      const [domain, name, file] = positionals as [string, string, string];
      const ext = path.extname(file).toLowerCase();
      if (ext !== '.ts' && ext !== '.js') throw new UsageError(`<file> must end in .ts or .js, got "${file}"`);
      const language = ext === '.ts' ? 'ts' : 'js';
      let source: string;
      try {
        source = readFileSync(file, 'utf8');
      } catch (err) {
        throw new UsageError(`<file> cannot be read: ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      }
      const ctx = { values, argv: rest, json: values['json'] === true };
      const saved = await withDatabase(ctx, false, async (db) => {
        const t = await requireTenant(db, domain);
        const { compileDialplan } = await import('../sandbox/index.ts');
        const compiled = await compileDialplan(source, language);
        if (!compiled.ok) {
          const lines = compiled.errors.map((e) => `${file}:${e.line}:${e.column}: ${e.message}`);
          if (ctx.json) io.out(JSON.stringify({ error: 'compile failed', errors: compiled.errors.map((e) => ({ file, ...e })) }));
          else for (const l of lines) io.err(l);
          throw new CommandFailed(`dialplan ${name} not saved: ${compiled.errors.length} error(s)`);
        }
        const v = await db.dialplans.save({ tenantId: t.id, name, language, source, compiledJs: compiled.js, sourceMap: compiled.sourceMap, author: 'cli' });
        await audit(db, 'dialplan.set', `${t.domain}/${name}`, t.id, { version: v.version });
        return v;
      });
      print(ctx, { name: saved.name, version: saved.version, language: saved.language }, [`dialplan ${saved.name} saved as version ${saved.version}`]);
      return EXIT_OK;
    }
    if (sub === 'list') {
      const { values, positionals } = parse(rest, {}, ['domain']);
      const ctx = { values, argv: rest, json: values['json'] === true };
      const list = await withDatabase(ctx, false, async (db) => db.dialplans.list((await requireTenant(db, positionals[0]!)).id));
      print(ctx, list, list.map((d) => `${d.name}\tv${d.version}\t${d.language}\t${new Date(d.createdAt).toISOString()}`));
      return EXIT_OK;
    }
    if (sub === 'test') {
      const { values, positionals } = parse(rest, { call: { type: 'string' }, source: { type: 'string' }, expect: { type: 'string' } }, ['domain', 'name']);
      const [domain, name] = positionals as [string, string];
      const ctx = { values, argv: rest, json: values['json'] === true };
      const callFile = requireOption(values, 'call');
      const expected = values['expect'] === undefined ? undefined : Number(values['expect']);
      if (expected !== undefined && !(Number.isInteger(expected) && expected >= 100 && expected <= 699)) throw new UsageError('--expect must be a SIP status (100-699)');
      const readText = (file: string, what: string): string => {
        try {
          return readFileSync(file, 'utf8');
        } catch (err) {
          throw new UsageError(`${what} cannot be read: ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
        }
      };
      let raw: unknown;
      try {
        raw = JSON.parse(readText(callFile, '--call'));
      } catch (err) {
        if (err instanceof UsageError) throw err;
        throw new UsageError(`--call ${callFile} is not JSON: ${(err as Error).message}`);
      }
      const { dryRunBody } = await import('../web/api/schemas/dialplans.ts');
      const parsed = dryRunBody.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new UsageError(`--call ${callFile}: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
      }
      const sourceFile = typeof values['source'] === 'string' ? values['source'] : undefined;
      const report = await withDatabase(ctx, true, async (db) => {
        const t = await requireTenant(db, domain);
        const { compileDialplan, SandboxSupervisor } = await import('../sandbox/index.ts');
        const { DialplanDryRun, DryRunRequestError, callAccountsFrom } = await import('../server/calls/index.ts');
        const { DbAccountDirectory } = await import('../server/registrar/index.ts');
        let dialplan: { js: string; sourceMap: string };
        if (sourceFile) {
          const compiled = await compileDialplan(readText(sourceFile, '--source'), path.extname(sourceFile).toLowerCase() === '.js' ? 'js' : 'ts');
          if (!compiled.ok) {
            for (const e of compiled.errors) io.err(`${sourceFile}:${e.line}:${e.column}: ${e.message}`);
            throw new CommandFailed(`${sourceFile} does not compile: ${compiled.errors.length} error(s)`);
          }
          dialplan = { js: compiled.js, sourceMap: compiled.sourceMap };
        } else {
          const v = await db.dialplans.getCurrent(t.id, name);
          if (!v) throw new CommandFailed(`unknown dialplan ${name} in ${t.domain}`);
          dialplan = { js: v.compiledJs, sourceMap: v.sourceMap };
        }
        const settings = settingsFor(ctx);
        const sandbox = new SandboxSupervisor({
          user: settings.sandbox.user, requireSupportedNode: settings.sandbox.requireSupportedNode, allowUnsupportedNode: settings.sandbox.allowUnsupportedNode,
          limits: { memoryMiB: settings.sandbox.memoryMb, cpuMs: settings.sandbox.cpuMs },
        });
        await sandbox.start();
        try {
          // Outside the switch there are no live registrations: IsAvailable is false, GetBindings empty.
          const opts = {
            sandbox, accounts: callAccountsFrom(new DbAccountDirectory({ db })), kv: db.kv, secrets: db.secrets,
            location: { lookup: () => [] }, emit: () => {},
          };
          const b = parsed.data;
          return await new DialplanDryRun({ opts, currentCalls: () => [] }, {
            tenant: { id: t.id, domain: t.domain }, dialplanName: name, dialplan,
            call: b.call, outcomes: b.outcomes, defaultOutcome: b.defaultOutcome, useRealKv: b.useRealKv, webGet: b.webGet,
          }).run();
        } catch (err) {
          if (err instanceof DryRunRequestError) throw new UsageError(`--call ${callFile}: ${err.field}: ${err.message}`);
          throw err;
        } finally {
          await sandbox.stop();
        }
      });
      const { dryRunReportText } = await import('../server/calls/index.ts');
      print(ctx, report, dryRunReportText(report));
      const ok = expected !== undefined ? report.response.status === expected : report.response.status >= 200 && report.response.status < 300;
      return ok ? EXIT_OK : EXIT_FAILED;
    }
    throw new UsageError(sub ? `unknown dialplan command "${sub}" (set|list|test)` : 'missing dialplan command (set|list|test)');
  },

  async user(args) {
    const [sub, ...rest] = args;
    if (sub !== 'add') throw new UsageError(sub ? `unknown user command "${sub}" (add)` : 'missing user command (add)');
    const { values, positionals } = parse(rest, { tenant: { type: 'string' }, role: { type: 'string' }, password: { type: 'string' } }, ['email']);
    const role = requireOption(values, 'role');
    if (!WEB_ROLES.includes(role as WebRole)) throw new UsageError(`--role must be one of ${WEB_ROLES.join('|')}, got "${role}"`);
    const password = requireOption(values, 'password');
    const tenantDomain = typeof values['tenant'] === 'string' ? values['tenant'] : undefined;
    if (!tenantDomain && role !== 'operator') throw new UsageError('missing required option --tenant');
    const ctx = { values, argv: rest, json: values['json'] === true };
    const user = await withDatabase(ctx, false, async (db) => {
      const tenant = tenantDomain ? await requireTenant(db, tenantDomain) : undefined;
      const u = await db.users.add({ email: positionals[0]!, password, role: role as WebRole, tenantId: tenant?.id ?? null });
      await audit(db, 'user.add', u.email, u.tenantId, { role: u.role });
      return u;
    });
    print(ctx, user, [`user ${user.email} (${user.role}) added`]);
    return EXIT_OK;
  },

  async ban(args) {
    const [sub, ...rest] = args;
    if (sub === 'list') {
      const { values } = parse(rest, {}, []);
      const ctx = { values, argv: rest, json: values['json'] === true };
      const bans = await withDatabase(ctx, false, (db) => db.bans.list(Date.now()));
      print(
        ctx,
        bans.map((b) => ({ address: b.address, reason: b.reason, until: new Date(b.until).toISOString(), count: b.count })),
        bans.length === 0 ? ['no bans'] : bans.map((b) => `${b.address}\t${b.reason}\tuntil ${new Date(b.until).toISOString()}\tban #${b.count}`),
      );
      return EXIT_OK;
    }
    if (sub === 'remove') {
      const { values, positionals } = parse(rest, {}, ['ip']);
      const given = positionals[0]!;
      const bare = given.replace(/\/64$/, '');
      if (isIP(bare) === 0) throw new UsageError(`<ip> must be an IPv4 or IPv6 address, got "${given}"`);
      // Bans are kept per IPv4 address and per IPv6 /64, so any address of the /64 names its ban.
      const address = sourceKey(bare);
      const ctx = { values, argv: rest, json: values['json'] === true };
      const removed = await withDatabase(ctx, false, async (db) => {
        const gone = await db.bans.remove(address);
        if (gone) await audit(db, 'ban.remove', address, null);
        return gone;
      });
      if (!removed) throw new CommandFailed(`no ban on ${address}`);
      print(ctx, { address, removed: true }, [`ban on ${address} removed`]);
      return EXIT_OK;
    }
    throw new UsageError(sub ? `unknown ban command "${sub}" (list|remove)` : 'missing ban command (list|remove)');
  },

  async provider(args) {
    const [sub, ...rest] = args;
    const subs = ['add', 'set', 'list', 'remove'];
    if (!sub || !subs.includes(sub)) throw new UsageError(sub ? `unknown provider command "${sub}" (${subs.join('|')})` : `missing provider command (${subs.join('|')})`);
    if (sub === 'list') {
      const { values, positionals } = parse(rest, {}, ['domain']);
      const ctx = { values, argv: rest, json: values['json'] === true };
      const rows = await withDatabase(ctx, false, async (db) => {
        const t = await requireTenant(db, positionals[0]!);
        const regs = new Map((await db.providerRegistrations.list()).map((r) => [r.providerId, r]));
        return (await db.providers.list(t.id)).map((p) => ({ ...p, registration: regs.get(p.id) ?? null }));
      });
      print(ctx, rows, rows.length === 0 ? ['no providers'] : rows.map((p) => {
        const reg = !p.register ? 'no registration' : p.registration ? `${p.registration.state}${p.registration.lastError ? ` (${p.registration.lastError})` : ''}` : 'not registered yet';
        return `${p.name}\t${p.serverUri}${p.outboundProxy ? ` via ${p.outboundProxy}` : ''}\t${p.username ?? '-'}\t${reg}`;
      }));
      return EXIT_OK;
    }
    if (sub === 'remove') {
      const { values, positionals } = parse(rest, {}, ['domain', 'name']);
      const ctx = { values, argv: rest, json: values['json'] === true };
      await withDatabase(ctx, false, async (db) => {
        const t = await requireTenant(db, positionals[0]!);
        const p = await db.providers.findByName(t.id, positionals[1]!);
        if (!p) throw new NotFoundError('provider', positionals[1]!);
        await db.providers.remove(p.id);
        await audit(db, 'provider.remove', `${t.domain}/${p.name}`, t.id);
      });
      print(ctx, { removed: positionals[1] }, [`provider ${positionals[1]} removed`]);
      return EXIT_OK;
    }
    const { values, positionals } = parse(rest, PROVIDER_OPTIONS, ['domain', 'name']);
    const patch = providerPatch(values);
    const ctx = { values, argv: rest, json: values['json'] === true };
    const provider = await withDatabase(ctx, typeof values['password'] === 'string' && values['password'] !== '', async (db) => {
      const t = await requireTenant(db, positionals[0]!);
      if (sub === 'add') {
        const server = requireOption(values, 'server');
        const p = await db.providers.add({
          tenantId: t.id, name: positionals[1]!, serverUri: server,
          outboundProxy: patch.outboundProxy ?? null, username: patch.username ?? null, authUser: patch.authUser ?? null,
          password: patch.password ?? null, register: patch.register === true, registerExpiry: patch.registerExpiry,
          fromUser: patch.fromUser ?? null, customHeaders: patch.customHeaders, settings: patch.settings,
        });
        await audit(db, 'provider.add', `${t.domain}/${p.name}`, t.id);
        return p;
      }
      const current = await db.providers.findByName(t.id, positionals[1]!);
      if (!current) throw new NotFoundError('provider', positionals[1]!);
      const p = await db.providers.update(current.id, patch);
      await audit(db, 'provider.set', `${t.domain}/${p.name}`, t.id);
      return p;
    });
    print(ctx, provider, [`provider ${provider.name} ${sub === 'add' ? 'added' : 'updated'}`]);
    return EXIT_OK;
  },

  async did(args) {
    const [sub, ...rest] = args;
    const subs = ['add', 'list', 'remove'];
    if (!sub || !subs.includes(sub)) throw new UsageError(sub ? `unknown did command "${sub}" (${subs.join('|')})` : `missing did command (${subs.join('|')})`);
    if (sub === 'list') {
      const { values, positionals } = parse(rest, {}, ['domain']);
      const ctx = { values, argv: rest, json: values['json'] === true };
      const rows = await withDatabase(ctx, false, async (db) => {
        const t = await requireTenant(db, positionals[0]!);
        const names = new Map((await db.providers.list(t.id)).map((p) => [p.id, p.name]));
        return (await db.dids.list(t.id)).map((d) => ({ ...d, provider: d.providerId === null ? null : names.get(d.providerId) ?? null }));
      });
      print(ctx, rows, rows.length === 0 ? ['no DIDs'] : rows.map((d) =>
        `${d.number}\t${d.provider ?? 'any provider'}\t${d.accountUsername ? `account ${d.accountUsername}` : `dialplan ${d.dialplan ?? 'incoming'}`}`));
      return EXIT_OK;
    }
    if (sub === 'remove') {
      const { values, positionals } = parse(rest, { tenant: { type: 'string' } }, ['number']);
      const ctx = { values, argv: rest, json: values['json'] === true };
      const tenantDomain = requireOption(values, 'tenant');
      const removed = await withDatabase(ctx, false, async (db) => {
        const t = await requireTenant(db, tenantDomain);
        const ok = await db.dids.remove(t.id, positionals[0]!);
        if (!ok) throw new NotFoundError('did', positionals[0]!);
        await audit(db, 'did.remove', positionals[0]!, t.id);
        return ok;
      });
      print(ctx, { removed }, [`DID ${positionals[0]} removed`]);
      return EXIT_OK;
    }
    const { values, positionals } = parse(rest, { tenant: { type: 'string' }, account: { type: 'string' }, provider: { type: 'string' }, dialplan: { type: 'string' } }, ['number']);
    const tenantDomain = requireOption(values, 'tenant');
    const ctx = { values, argv: rest, json: values['json'] === true };
    const did = await withDatabase(ctx, false, async (db) => {
      const t = await requireTenant(db, tenantDomain);
      let providerId: number | null = null;
      if (typeof values['provider'] === 'string') {
        const p = await db.providers.findByName(t.id, values['provider']);
        if (!p) throw new NotFoundError('provider', values['provider']);
        providerId = p.id;
      }
      const account = typeof values['account'] === 'string' ? values['account'] : null;
      if (account && !(await db.accounts.findForAuth(account, t.domain))) throw new NotFoundError('account', `${account}@${t.domain}`);
      const d = await db.dids.add({ number: positionals[0]!, tenantId: t.id, providerId, accountUsername: account, dialplan: (values['dialplan'] as string | undefined) ?? null });
      await audit(db, 'did.add', d.number, t.id);
      return d;
    });
    print(ctx, did, [`DID ${did.number} added`]);
    return EXIT_OK;
  },

  async policy(args) {
    const [sub, ...rest] = args;
    const subs = ['show', 'set', 'reset'];
    if (!sub || !subs.includes(sub)) throw new UsageError(sub ? `unknown policy command "${sub}" (${subs.join('|')})` : `missing policy command (${subs.join('|')})`);
    const { values, positionals } = parse(rest, sub === 'set' ? POLICY_OPTIONS : {}, ['domain']);
    const patch = sub === 'set' ? policyPatch(values) : {};
    const ctx = { values, argv: rest, json: values['json'] === true };
    const policy = await withDatabase(ctx, false, async (db) => {
      const t = await requireTenant(db, positionals[0]!);
      if (sub === 'reset') {
        await db.callPolicies.reset(t.id);
        await audit(db, 'policy.reset', t.domain, t.id);
      } else if (sub === 'set') {
        await db.callPolicies.update(t.id, patch);
        await audit(db, 'policy.set', t.domain, t.id);
      }
      return db.callPolicies.get(t.id);
    });
    print(ctx, policy, [
      `denied prefixes: ${policy.deniedPrefixes.join(' ') || '-'}`,
      `allowed prefixes: ${policy.allowedPrefixes.join(' ') || '-'}`,
      `allow-list only: ${policy.allowListOnly ? 'on' : 'off'}`,
      `provider calls per minute: ${policy.callsPerMinutePerTenant || 'no limit'} per tenant, ${policy.callsPerMinutePerAccount || 'no limit'} per account`,
      `concurrent provider calls: ${policy.maxConcurrentPerTenant || 'no limit'} per tenant, ${policy.maxConcurrentPerAccount || 'no limit'} per account`,
      `max provider call duration: ${policy.maxDurationSeconds ? `${policy.maxDurationSeconds} s` : 'no limit'}`,
    ]);
    return EXIT_OK;
  },
};

const PROVIDER_OPTIONS = {
  server: { type: 'string' },
  'outbound-proxy': { type: 'string' },
  username: { type: 'string' },
  'auth-user': { type: 'string' },
  password: { type: 'string' },
  register: { type: 'boolean' },
  'no-register': { type: 'boolean' },
  'register-expiry': { type: 'string' },
  'from-user': { type: 'string' },
  'from-host': { type: 'string' },
  'display-name': { type: 'string' },
  header: { type: 'string', multiple: true },
  pai: { type: 'string' },
  privacy: { type: 'string' },
  'number-format': { type: 'string' },
  'country-code': { type: 'string' },
  'national-prefix': { type: 'string' },
  'international-prefix': { type: 'string' },
  'source-cidr': { type: 'string', multiple: true },
  'ping-interval': { type: 'string' },
  'provisional-timeout': { type: 'string' },
} as const satisfies OptionSpec;

function onOff(values: OptionValues, name: string): boolean | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (v === 'on') return true;
  if (v === 'off') return false;
  throw new UsageError(`--${name} must be on or off, got "${String(v)}"`);
}

function wholeNumber(values: OptionValues, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^[0-9]{1,9}$/.test(v)) throw new UsageError(`--${name} must be a whole number, got "${String(v)}"`);
  return Number(v);
}

/** Provider options → a ProviderUpdate (also the fields of `provider add`); "" clears a text setting. */
function providerPatch(values: OptionValues): ProviderUpdate {
  const str = (name: string): string | undefined => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const patch: ProviderUpdate = {};
  if (str('server') !== undefined) patch.serverUri = str('server')!;
  if (str('outbound-proxy') !== undefined) patch.outboundProxy = str('outbound-proxy') || null;
  if (str('username') !== undefined) patch.username = str('username') || null;
  if (str('auth-user') !== undefined) patch.authUser = str('auth-user') || null;
  if (str('password') !== undefined) patch.password = str('password') || null;
  if (values['register'] === true && values['no-register'] === true) throw new UsageError('--register and --no-register exclude each other');
  if (values['register'] === true) patch.register = true;
  if (values['no-register'] === true) patch.register = false;
  const expiry = wholeNumber(values, 'register-expiry');
  if (expiry !== undefined) patch.registerExpiry = expiry;
  if (str('from-user') !== undefined) patch.fromUser = str('from-user') || null;
  const headers = values['header'];
  if (Array.isArray(headers)) {
    const out: Record<string, string> = {};
    for (const h of headers) {
      if (h === '') continue;
      const colon = h.indexOf(':');
      if (colon <= 0) throw new UsageError(`--header must be Name:Value, got "${h}"`);
      out[h.slice(0, colon).trim()] = h.slice(colon + 1).trim();
    }
    patch.customHeaders = out;
  }
  const settings: ProviderSettings = {};
  const text: Array<[string, keyof ProviderSettings]> = [
    ['from-host', 'fromHost'], ['display-name', 'displayName'], ['privacy', 'privacy'], ['country-code', 'countryCode'],
    ['national-prefix', 'nationalPrefix'], ['international-prefix', 'internationalPrefix'],
  ];
  let anySetting = false;
  for (const [opt, key] of text) {
    const v = str(opt);
    if (v === undefined) continue;
    (settings as Record<string, unknown>)[key] = v === '' ? undefined : v;
    anySetting = true;
  }
  const format = str('number-format');
  if (format !== undefined) {
    if (format !== '' && !PROVIDER_NUMBER_FORMATS.includes(format as ProviderNumberFormat)) throw new UsageError(`--number-format must be one of ${PROVIDER_NUMBER_FORMATS.join('|')}, got "${format}"`);
    settings.numberFormat = format === '' ? undefined : (format as ProviderNumberFormat);
    anySetting = true;
  }
  const ping = wholeNumber(values, 'ping-interval');
  if (ping !== undefined) {
    settings.pingIntervalSeconds = ping;
    anySetting = true;
  }
  const silence = wholeNumber(values, 'provisional-timeout');
  if (silence !== undefined) {
    settings.provisionalTimeoutMs = silence;
    anySetting = true;
  }
  const sources = values['source-cidr'];
  if (Array.isArray(sources)) {
    settings.sourceNetworks = sources.flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
    anySetting = true;
  }
  const pai = onOff(values, 'pai');
  if (pai !== undefined) {
    settings.assertIdentity = pai;
    anySetting = true;
  }
  if (anySetting) patch.settings = settings;
  return patch;
}

const POLICY_OPTIONS = {
  deny: { type: 'string', multiple: true },
  allow: { type: 'string', multiple: true },
  'allow-list-only': { type: 'string' },
  'calls-per-minute': { type: 'string' },
  'account-calls-per-minute': { type: 'string' },
  'max-concurrent': { type: 'string' },
  'account-max-concurrent': { type: 'string' },
  'max-duration': { type: 'string' },
} as const satisfies OptionSpec;

function policyPatch(values: OptionValues): Partial<CallPolicy> {
  const patch: Partial<CallPolicy> = {};
  const list = (name: string): string[] | undefined => {
    const v = values[name];
    return Array.isArray(v) ? v.flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean) : undefined;
  };
  const deny = list('deny');
  if (deny) patch.deniedPrefixes = deny;
  const allow = list('allow');
  if (allow) patch.allowedPrefixes = allow;
  const only = onOff(values, 'allow-list-only');
  if (only !== undefined) patch.allowListOnly = only;
  const numbers: Array<[string, keyof CallPolicy]> = [
    ['calls-per-minute', 'callsPerMinutePerTenant'], ['account-calls-per-minute', 'callsPerMinutePerAccount'],
    ['max-concurrent', 'maxConcurrentPerTenant'], ['account-max-concurrent', 'maxConcurrentPerAccount'], ['max-duration', 'maxDurationSeconds'],
  ];
  for (const [opt, key] of numbers) {
    const n = wholeNumber(values, opt);
    if (n !== undefined) (patch as Record<string, unknown>)[key] = n;
  }
  return patch;
}

const VALIDATION_FIELD_TO_ARG: Record<string, string> = {
  domain: '<domain>',
  alias: '<domain>',
  username: '<user>',
  password: '--password',
  email: '<email>',
  role: '--role',
  tenant: '--tenant',
  name: '<name>',
  server: '--server',
  number: '<number>',
  outboundProxy: '--outbound-proxy',
  registerExpiry: '--register-expiry',
  customHeaders: '--header',
  fromHost: '--from-host',
  displayName: '--display-name',
  privacy: '--privacy',
  numberFormat: '--number-format',
  countryCode: '--country-code',
  nationalPrefix: '--national-prefix',
  internationalPrefix: '--international-prefix',
  deniedPrefixes: '--deny',
  allowedPrefixes: '--allow',
  callsPerMinutePerTenant: '--calls-per-minute',
  callsPerMinutePerAccount: '--account-calls-per-minute',
  maxConcurrentPerTenant: '--max-concurrent',
  maxConcurrentPerAccount: '--account-max-concurrent',
  maxDurationSeconds: '--max-duration',
  sourceNetworks: '--source-cidr',
  pingIntervalSeconds: '--ping-interval',
  provisionalTimeoutMs: '--provisional-timeout',
  parkSlots: '--park-slots',
  parkRecallSeconds: '--park-recall',
  outDialplan: '--out-dialplan',
  inDialplan: '--in-dialplan',
  keepaliveMethod: '--keepalive-method',
  allowedCidrs: '--allowed-cidr',
  trustUdpSource: '--trust-udp-source',
  callerId: '--caller-id',
  maxCalls: '--max-calls',
};

/** Runs the CLI; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    io.out(USAGE.trimEnd());
    return command ? EXIT_OK : EXIT_USAGE;
  }
  const handler = Object.hasOwn(commands, command) ? commands[command] : undefined;
  if (!handler) {
    io.err(`patchbay: unknown command "${command}"\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (args.includes('--help') || args.includes('-h')) {
    io.out(USAGE.trimEnd());
    return EXIT_OK;
  }
  try {
    return await handler(args);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`patchbay ${command}: ${err.message}`);
      return EXIT_USAGE;
    }
    if (err instanceof ValidationError) {
      io.err(`patchbay ${command}: ${VALIDATION_FIELD_TO_ARG[err.field] ?? err.field}: ${err.message.slice(err.field.length + 2)}`);
      return EXIT_USAGE;
    }
    if (err instanceof ConfigError) {
      io.err(err.message);
      return EXIT_FAILED;
    }
    if (err instanceof DuplicateError || err instanceof NotFoundError || err instanceof CommandFailed) {
      io.err(`patchbay ${command}: ${err.message}`);
      return EXIT_FAILED;
    }
    io.err(`patchbay ${command}: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT_FAILED;
  }
}
