import type { CallParty } from '../../server/events/index.ts';
import type { LiveCallView } from '../../server/calls/index.ts';
import type { ExtensionView } from '../../server/presence/index.ts';

/** A live binding as the snapshot lists it (the REST bindings shape plus the account it belongs to). */
export interface RegistrationView {
  id: string;
  accountId: number;
  user: string;
  contact: string;
  sourceAddress: string;
  transport: string;
  userAgent: string | null;
  expiresAt: number;
}

/** A call waiting in a park slot. */
export interface ParkedCallView {
  slot: string;
  callId: string;
  parkedAt: number;
  caller: CallParty;
  /** Who parked it (`api:<email>` or the transferring account). */
  parkedBy?: string;
}

/**
 * Where a snapshot comes from. Every source answers synchronously, in the same turn as the
 * stream's sequence number is read, so the snapshot and the events after it never overlap or
 * leave a hole.
 */
export interface SnapshotSources {
  /** CallControl.list satisfies this. */
  calls(tenantId: number): LiveCallView[];
  registrations(tenantId: number): RegistrationView[];
  /** ExtensionPresence.list satisfies this. */
  extensions(tenantId: number): ExtensionView[];
  /** Parked calls; the calls layer has no parking yet, so main.ts answers []. */
  parking(tenantId: number): ParkedCallView[];
}

/** The LocationService's bindings in the snapshot's shape (Binding satisfies BindingLike). */
export interface BindingLike {
  id: string;
  tenantId: number;
  accountId: number;
  user: string;
  contactUri: string;
  source: { transport: string; address: string; port: number };
  userAgent?: string;
  expiresAt: number;
}

export function registrationsOf(bindings: Iterable<BindingLike>, tenantId: number, now = Date.now()): RegistrationView[] {
  const out: RegistrationView[] = [];
  for (const b of bindings) {
    if (b.tenantId !== tenantId || b.expiresAt <= now) continue;
    out.push({
      id: b.id, accountId: b.accountId, user: b.user, contact: b.contactUri,
      sourceAddress: `${b.source.address.includes(':') ? `[${b.source.address}]` : b.source.address}:${b.source.port}`,
      transport: b.source.transport, userAgent: b.userAgent ?? null, expiresAt: b.expiresAt,
    });
  }
  return out;
}
