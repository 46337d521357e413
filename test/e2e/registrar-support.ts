import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteDriver } from '../../db/index.ts';
import { freePort, REPO_ROOT, runSipp, type PatchbayServer, type SippResult } from './harness/index.ts';

export const SCENARIO_DIR = join(REPO_ROOT, 'test', 'e2e', 'scenarios');

export interface ScenarioRunOptions {
  user: string;
  domain: string;
  password: string;
  transport?: 'udp' | 'tcp';
  /** Local SIP port of sipp; default a free one (so the Contact it registers is known). */
  localPort?: number;
}

export interface ScenarioRun {
  result: SippResult;
  /** Lines the scenario's `<log>` actions wrote (the values its ereg checks matched). */
  logs: string;
  localPort: number;
}

/**
 * Runs one call of a `test/e2e/scenarios/*.xml` scenario against the server, bounded by sipp's own
 * `-timeout 15s -timeout_error`. The injection file carries user, domain and a whole
 * `[authentication ...]` keyword (sipp 3.6 does not expand fields inside that keyword).
 */
export async function runScenario(server: PatchbayServer, scenario: string, options: ScenarioRunOptions): Promise<ScenarioRun> {
  const workDir = await mkdtemp(join(tmpdir(), 'patchbay-registrar-sipp-'));
  try {
    const injection = join(workDir, 'account.csv');
    await writeFile(
      injection,
      `SEQUENTIAL\n${options.user};${options.domain};[authentication username=${options.user} password=${options.password}]\n`,
    );
    const transport = options.transport ?? 'udp';
    const localPort = options.localPort ?? (await freePort());
    const result = await runSipp({
      scenario: join(SCENARIO_DIR, `${scenario}.xml`),
      target: `127.0.0.1:${transport === 'tcp' ? server.tcpPort : server.sipPort}`,
      localPort,
      workDir,
      timeoutMs: 15_000,
      args: ['-m', '1', '-inf', injection, '-trace_logs', ...(transport === 'tcp' ? ['-t', 't1'] : [])],
    });
    let logs = '';
    for (const name of await readdir(workDir)) {
      if (name.endsWith('_logs.log')) logs += await readFile(join(workDir, name), 'utf8');
    }
    return { result, logs, localPort };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** One line of diagnostics for an assertion message: why sipp failed, if it did. */
export function describeRun(run: ScenarioRun): string {
  return `sipp exit ${run.result.code} (timedOut=${run.result.timedOut})\nerrors:\n${run.result.errors}\nlogs:\n${run.logs}\nstderr:\n${run.result.stderr.slice(-2000)}`;
}

export interface StoredBindingRow {
  username: string;
  contact_uri: string;
  source_transport: string;
  source_port: number;
  expires_at: number;
}

/** Reads the persisted bindings of one SIP account straight from the SQLite file. */
export function storedBindings(server: PatchbayServer, username: string): StoredBindingRow[] {
  const file = server.dbUrl.replace(/^sqlite:/, '');
  const db = new (sqliteDriver())(file, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare(
        `SELECT a.username AS username, b.contact_uri AS contact_uri, b.source_transport AS source_transport,
                b.source_port AS source_port, b.expires_at AS expires_at
           FROM registrar_bindings b JOIN sip_accounts a ON a.id = b.account_id
          WHERE a.username = ?`,
      )
      .all(username) as StoredBindingRow[];
  } finally {
    db.close();
  }
}

/** Polls until the write-behind flush (about 1 s) has stored what `accept` wants; bounded. */
export async function waitForStoredBindings(
  server: PatchbayServer,
  username: string,
  accept: (rows: StoredBindingRow[]) => boolean,
  timeoutMs = 10_000,
): Promise<StoredBindingRow[]> {
  const deadline = Date.now() + timeoutMs;
  let rows = storedBindings(server, username);
  while (!accept(rows) && Date.now() < deadline) {
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 200));
    rows = storedBindings(server, username);
  }
  return rows;
}

/** Runs admin CLI commands one after another (SQLite takes one writer) and fails loudly. */
export async function provision(server: PatchbayServer, commands: string[][]): Promise<void> {
  for (const args of commands) {
    const out = await server.cli(args);
    if (out.code !== 0) throw new Error(`patchbay ${args.join(' ')} failed (${out.code}): ${out.stderr}${out.stdout}`);
  }
}
