import type { FirstRunSetup } from './first-run.ts';
import type { Logger } from 'pino';
import type { Database } from '../../db/index.ts';
import type { CallControl, DryRunParams, DryRunReport } from '../../server/calls/index.ts';
import type { AccountDndEvent, ConfigChangedEvent } from "../../server/events/index.ts";
import type { LoginBrake, LoginBrakeOptions } from './login-brake.ts';
import type { SessionSettings } from './middleware/auth.ts';
import type { TotpVerifier } from './two-factor.ts';

/** A registered contact as the API shows it. */
export interface ApiBinding {
  id: string;
  contact: string;
  sourceAddress: string;
  transport: string;
  userAgent: string | null;
  expiresAt: number;
}

/** The registrar's live bindings (the location service); without it the stored copy is shown. */
export interface LiveBindings {
  list(accountId: number): ApiBinding[];
  /** Removes a binding now (as if it had unregistered); false if unknown. */
  remove(bindingId: string): boolean;
}

export interface CompiledDialplan {
  ok: boolean;
  js?: string;
  sourceMap?: string;
  errors?: Array<{ line: number; column: number; message: string }>;
}

export type { ConfigChangedEvent } from '../../server/events/index.ts';

/** The switch's scheduled jobs (retention purge, SQLite backup), as the API shows and runs them. */
export interface ApiJobs {
  list(): Array<{ name: string; schedule: string | null; running: boolean; lastRunAt: number | null; lastResult: Record<string, unknown> | null; lastError: string | null }>;
  run(name: 'retention' | 'backup'): Promise<Record<string, unknown>>;
}

export interface ApiDeps {
  db: Database;
  /** Live call control (the switch's CallService); without it the /calls routes answer 503. */
  calls?: CallControl;
  version: string;
  /** Epoch ms the process started; defaults to when the app was created. */
  startedAt?: number;
  logger?: Logger;
  /** The event bus: admin writes emit `config.changed` on it. */
  events?: { emit(event: ConfigChangedEvent | AccountDndEvent): unknown };
  liveBindings?: LiveBindings;
  session?: Partial<SessionSettings>;
  loginBrake?: LoginBrake | LoginBrakeOptions;
  /** Dialplan dry runs (the switch's CallService.dryRun); without it the dry-run route answers 503. */
  dryRun?: (params: DryRunParams) => Promise<DryRunReport>;
  /** The dialplan compiler; default the sandbox's (the one the CLI uses). */
  compileDialplan?: (source: string, language: 'ts' | 'js') => Promise<CompiledDialplan>;
  totp?: TotpVerifier;
  jobs?: ApiJobs;
  /** Parts of the switch beyond the database ping that /health reports (the write journal). */
  health?: ApiHealthSource;
  /**
   * Behind a reverse proxy that terminates TLS: take the client address from X-Forwarded-For and
   * the scheme from X-Forwarded-Proto (Secure cookie). Off by default, since anyone can send them.
   */
  trustProxy?: boolean;
  /** The first-run setup link (no web user yet): POST /setup accepts its token once. */
  firstRun?: FirstRunSetup;
}

/** One part of the switch as /health shows it. */
export interface ApiHealthComponent {
  status: 'ok' | 'degraded';
  detail?: string;
  /** Writes waiting in the journal for the database, when the part is the journal. */
  pending?: number;
}

export interface ApiHealthSource {
  components(): Record<string, ApiHealthComponent>;
}

/** ApiDeps with every default filled in, as the routes see them. */
export interface RouteDeps extends ApiDeps {
  startedAt: number;
  session: SessionSettings;
  loginBrake: LoginBrake;
  compileDialplan: (source: string, language: 'ts' | 'js') => Promise<CompiledDialplan>;
  totp: TotpVerifier;
  /** Emits config.changed after a commit (no-op without a bus). */
  changed(event: Omit<ConfigChangedEvent, 'type'>): void;
}
