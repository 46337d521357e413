/**
 * The REST contract of /api/v1 as the browser sees it. Bodies are the API's own zod schemas
 * (type-only imports: erased from the bundle); only what the schemas leave loose (`string` for an
 * enum) is narrowed here.
 */
import type { z } from 'zod';
import type { accountCreateBody, accountPatchBody, accountSchema, bindingSchema } from '../../../api/schemas/accounts.ts';
import type { publicUserSchema } from '../../../api/schemas/auth.ts';
import type { dialplanSchema, dialplanSummarySchema, dialplanVersionSchema } from '../../../api/schemas/dialplans.ts';
import type { cdrQuery, cdrSchema } from '../../../api/schemas/misc.ts';

export type Role = 'operator' | 'admin' | 'receptionist' | 'member';

export type SessionUser = Omit<z.output<typeof publicUserSchema>, 'role'> & { role: Role };

/** `csrfToken` is null only for a bearer-token caller; a cookie session always has one. */
export interface Session {
  user: SessionUser;
  csrfToken: string | null;
}

export interface LoginInput {
  email: string;
  password: string;
  totp?: string;
  recoveryCode?: string;
}

export interface ListPage<T> {
  items: T[];
  nextCursor: string | null;
}

export interface ListQuery {
  limit?: number;
  cursor?: string;
}

export type DialplanLanguage = 'ts' | 'js';

// Times are epoch milliseconds, as the API answers them.
export type DialplanSummary = Omit<z.output<typeof dialplanSummarySchema>, 'language'> & { language: DialplanLanguage };
export type Dialplan = Omit<z.output<typeof dialplanSchema>, 'language'> & { language: DialplanLanguage };
export type DialplanVersion = z.output<typeof dialplanVersionSchema>;

export interface SaveDialplanInput {
  language: DialplanLanguage;
  source: string;
  message?: string;
}

/** One esbuild compile error, 1-based line and column of the user's source. */
export interface CompileError {
  line: number;
  column: number;
  message: string;
}

export type Account = z.output<typeof accountSchema>;
export type CreateAccountInput = z.input<typeof accountCreateBody>;
export type UpdateAccountInput = z.input<typeof accountPatchBody>;
export type Binding = z.output<typeof bindingSchema>;

export type CdrDirection = NonNullable<z.output<typeof cdrQuery>['direction']>;
/** `status` is the final SIP status code as text ("200", "486"); `outcome` says how it ended. */
export type Cdr = Omit<z.output<typeof cdrSchema>, 'direction'> & { direction: CdrDirection };

export interface CdrQuery extends ListQuery {
  /** Epoch ms or ISO 8601. */
  from?: string;
  to?: string;
  /** An account user name of the tenant (`1001`). */
  account?: string;
  direction?: CdrDirection;
  /** A final SIP status code (`486`). */
  status?: string;
  q?: string;
}

export interface ErrorBody {
  error: string;
  field?: string;
  twoFactorRequired?: boolean;
  errors?: CompileError[];
  retryAfterSec?: number;
}

/** The side of a live call that call control acts on. */
export type CallParty = 'caller' | 'callee';
// ---- dialplan dry run (POST /dialplans/:name/dry-run) ----
import type { dryRunBody, dryRunReportSchema } from '../../../api/schemas/dialplans.ts';

export type DryRunInput = z.input<typeof dryRunBody>;
export type DryRunReport = z.output<typeof dryRunReportSchema>;
export type DryRunTimelineEntry = DryRunReport['timeline'][number];
export type DryRunOutcomeRule = NonNullable<DryRunInput['outcomes']>[number];
