/** Patchbay's bench data written straight through the db layer, before a server starts (it caches accounts). */
import { BENCH_DOMAIN, type BenchAccount } from './bench-accounts.ts';

/**
 * Every account gets one registered binding at the UAS (as if it had sent REGISTER), which the
 * server restores at start: a call to an account without an incoming dialplan rings it directly.
 */
export async function bindAccountsTo(dbUrl: string, uasAddress: string): Promise<void> {
  const { openDatabase } = await import('../db/index.ts');
  const db = await openDatabase(dbUrl);
  const [host, port] = uasAddress.split(':');
  const now = Date.now();
  try {
    const rows = (await db.accounts.listAll()).map((account) => ({
      id: `bench-${account.id}`,
      accountId: account.id,
      contactUri: `sip:${account.username}@${uasAddress}`,
      sourceTransport: 'udp',
      sourceAddress: host,
      sourcePort: Number(port),
      connectionId: null,
      localListener: null,
      expiresAt: now + 3_600_000,
      q: null,
      callId: `bench-${account.id}`,
      cseq: 1,
      instanceId: null,
      regId: null,
      userAgent: 'patchbay-bench',
      path: [],
      attributes: {
        tenantId: account.tenantId, user: account.username, domain: account.domain, contactParams: {},
        registeredAt: now, updatedAt: now, natKeepAlive: false, keepAliveMethod: 'crlf',
      },
    }));
    for (let i = 0; i < rows.length; i += 500) await db.bindings.upsertMany(rows.slice(i, i + 500));
  } finally {
    await db.close();
  }
}

/** A SQLite file with the bench tenant and `accounts`, each with `outDialplan` as its outgoing dialplan. */
export async function writeTemplateDb(file: string, accounts: BenchAccount[], outDialplan: string, log: (line: string) => void): Promise<string> {
  const started = Date.now();
  const { openDatabase } = await import('../db/index.ts');
  const db = await openDatabase(`sqlite:${file}`);
  try {
    await db.migrate();
    await db.tenants.add({ domain: BENCH_DOMAIN, name: 'bench' });
    for (const account of accounts) {
      await db.accounts.add({ username: account.username, domain: BENCH_DOMAIN, password: account.password, outDialplan });
    }
  } finally {
    await db.close();
  }
  log(`  provisioned ${accounts.length} Patchbay accounts in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return file;
}

/** An admin of the bench tenant with an API token, for an event-stream consumer (the sip.trace row). */
export async function addBenchAdminToken(dbUrl: string): Promise<string> {
  const { openDatabase } = await import('../db/index.ts');
  const db = await openDatabase(dbUrl);
  try {
    const tenant = await db.tenants.findByDomain(BENCH_DOMAIN);
    if (!tenant) throw new Error('bench tenant missing');
    const user = await db.users.add({ email: `bench-trace-${Date.now()}@bench.test`, password: 'bench-trace-password', role: 'admin', tenantId: tenant.id });
    return (await db.tokens.create({ userId: user.id, name: 'bench sip.trace' })).token;
  } finally {
    await db.close();
  }
}
