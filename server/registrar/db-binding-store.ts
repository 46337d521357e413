import type { Database, StoredBinding, WriteJournal } from '../../db/index.ts';
import type { Endpoint } from '../sip/index.ts';
import type { KeepAliveMethod } from './account-directory.ts';
import type { Binding, BindingChanges, BindingStore } from './binding.ts';

/** The parts of a binding the table has no column for; kept in its JSON `attributes`. */
interface BindingAttributes {
  tenantId: number;
  user: string;
  domain: string;
  contactParams: Record<string, string | null>;
  registeredAt: number;
  updatedAt: number;
  natKeepAlive: boolean;
  keepAliveMethod: KeepAliveMethod;
  localEndpoint?: Endpoint;
}

/**
 * Persists the location service's bindings in `registrar_bindings` so a restart keeps phones
 * reachable; with a write journal the changes go through it (on disk at once, in the database
 * when it takes them), so neither an outage nor a crash loses a registration.
 */
export class DbBindingStore implements BindingStore {
  constructor(
    private readonly db: Database,
    private readonly journal?: Pick<WriteJournal, 'append'>,
  ) {}

  async loadAll(): Promise<Binding[]> {
    const rows = await this.db.bindings.loadAll();
    // Every row is its own copy of the domain, source address, User-Agent…: 10,000 bindings of
    // one tenant held 5 × 10,000 equal strings. One copy of each is kept instead.
    const seen = new Map<string, string>();
    const intern = (v: string): string => {
      const known = seen.get(v);
      if (known !== undefined) return known;
      seen.set(v, v);
      return v;
    };
    return rows.flatMap((row) => {
      const b = fromStored(row, intern);
      return b ? [b] : [];
    });
  }

  async persist(changes: BindingChanges): Promise<void> {
    if (this.journal) {
      // A full journal refuses the write: the location service keeps it and tries again.
      if (!this.journal.append({ kind: 'bindings', upserts: changes.upserts.map(toStored), deletes: changes.deletes })) throw new Error('write journal full');
      return;
    }
    await this.db.bindings.upsertMany(changes.upserts.map(toStored));
    await this.db.bindings.removeMany(changes.deletes);
  }
}

function toStored(b: Binding): StoredBinding {
  const attributes: BindingAttributes = {
    tenantId: b.tenantId,
    user: b.user,
    domain: b.domain,
    contactParams: b.contactParams,
    registeredAt: b.registeredAt,
    updatedAt: b.updatedAt,
    natKeepAlive: b.natKeepAlive,
    keepAliveMethod: b.keepAliveMethod,
    localEndpoint: b.localEndpoint,
  };
  return {
    id: b.id,
    accountId: b.accountId,
    contactUri: b.contactUri,
    sourceTransport: b.source.transport,
    sourceAddress: b.source.address,
    sourcePort: b.source.port,
    connectionId: b.source.connectionId ?? null,
    localListener: b.localEndpoint ? `${b.localEndpoint.transport}:${b.localEndpoint.address}:${b.localEndpoint.port}` : null,
    expiresAt: b.expiresAt,
    q: b.q ?? null,
    callId: b.callId,
    cseq: b.cseq,
    instanceId: b.instanceId ?? null,
    regId: b.regId ?? null,
    userAgent: b.userAgent ?? null,
    path: b.path,
    attributes: attributes as unknown as Record<string, unknown>,
  };
}

const TRANSPORTS = new Set<Endpoint['transport']>(['udp', 'tcp', 'tls', 'ws', 'wss']);

function fromStored(row: StoredBinding, intern: (v: string) => string): Binding | undefined {
  const a = row.attributes as Partial<BindingAttributes> | undefined;
  const transport = row.sourceTransport as Endpoint['transport'];
  // A row written by an older version without the attributes cannot be routed to safely.
  if (!a || typeof a.tenantId !== 'number' || !a.user || !a.domain || !TRANSPORTS.has(transport)) return undefined;
  return {
    id: row.id,
    accountId: row.accountId,
    tenantId: a.tenantId,
    user: a.user,
    domain: intern(a.domain),
    contactUri: row.contactUri,
    contactParams: a.contactParams ?? {},
    q: row.q ?? undefined,
    expiresAt: row.expiresAt,
    callId: row.callId,
    cseq: row.cseq,
    instanceId: row.instanceId ?? undefined,
    regId: row.regId ?? undefined,
    source: {
      transport,
      address: intern(row.sourceAddress),
      port: row.sourcePort,
      ...(row.connectionId ? { connectionId: row.connectionId } : {}),
    },
    localEndpoint: a.localEndpoint,
    userAgent: row.userAgent === null || row.userAgent === undefined ? undefined : intern(row.userAgent),
    path: row.path,
    registeredAt: a.registeredAt ?? Date.now(),
    updatedAt: a.updatedAt ?? Date.now(),
    natKeepAlive: a.natKeepAlive ?? false,
    keepAliveMethod: a.keepAliveMethod ?? 'crlf',
  };
}
