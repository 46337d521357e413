/** The REST contract of /api/v1 as the browser sees it (the shared web contract). */

export type Role = 'operator' | 'admin' | 'receptionist' | 'member';

export interface SessionUser {
  id: number;
  email: string;
  role: Role;
  tenantId: number | null;
}

export interface Session {
  user: SessionUser;
  csrfToken: string;
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

export interface DialplanSummary {
  name: string;
  language: DialplanLanguage;
  version: number;
  updatedAt: string;
}

export interface Dialplan {
  name: string;
  language: DialplanLanguage;
  source: string;
  version: number;
  updatedAt: string;
  author: string | null;
  message: string | null;
}

export interface DialplanVersion {
  version: number;
  author: string | null;
  createdAt: string;
  message: string | null;
}

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

export interface Account {
  id: number;
  username: string;
  domain: string;
  displayName: string | null;
  maxCalls: number | null;
  outDialplan?: string | null;
  inDialplan?: string | null;
  callerId?: string | null;
  disabled?: boolean;
}

export interface CreateAccountInput {
  username: string;
  password: string;
  displayName?: string;
  maxCalls?: number | null;
  outDialplan?: string | null;
  inDialplan?: string | null;
}

export interface UpdateAccountInput {
  password?: string;
  displayName?: string | null;
  maxCalls?: number | null;
  outDialplan?: string | null;
  inDialplan?: string | null;
  disabled?: boolean;
}

export interface Binding {
  id: number | string;
  contact: string;
  sourceAddress: string;
  transport: string;
  userAgent: string | null;
  expiresAt: string;
}

export interface Cdr {
  id: number | string;
  callId?: string;
  caller: string;
  callee: string;
  direction: string;
  status: string;
  startedAt: string;
  answeredAt?: string | null;
  endedAt?: string | null;
  durationSec?: number | null;
  hangupCause?: string | null;
}

export interface CdrQuery extends ListQuery {
  from?: string;
  to?: string;
  account?: string;
  direction?: string;
  status?: string;
  q?: string;
}

export interface ErrorBody {
  error: string;
  field?: string;
  twoFactorRequired?: boolean;
  errors?: CompileError[];
}
