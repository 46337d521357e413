import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import type { EventBus, SequencedEvent } from '../../server/events/index.ts';
import type { WebUser } from '../../db/index.ts';
import { roleSeesRegistrations } from './event-access.ts';
import { CLOSE_TRY_AGAIN_LATER, EventClient, type ClientLimits, type ClientSubscription } from './event-client.ts';
import type { SnapshotSources } from './snapshot-sources.ts';
import { TenantStream } from './tenant-stream.ts';

export const EVENTS_PATH = '/api/v1/events';

export interface EventHubLimits extends ClientLimits {
  /** Events kept per tenant for `since` resumes. */
  ringSize: number;
  /** Ping interval; a client that has not answered the previous ping by the next one is dropped. */
  pingIntervalMs: number;
  /** Largest client → server message. */
  maxMessageBytes: number;
  /** Connections one tenant may hold at once (each may buffer up to maxBufferedBytes). */
  maxClientsPerTenant: number;
}

export const DEFAULT_EVENT_HUB_LIMITS: EventHubLimits = {
  ringSize: 2048,
  socketHighWaterBytes: 256 * 1024,
  maxBufferedBytes: 1024 * 1024,
  pingIntervalMs: 30_000,
  maxMessageBytes: 4096,
  maxClientsPerTenant: 64,
};

/** Turns the SIP trace on for the tenants someone with the right role watches (and off when nobody does). */
export interface TraceSwitch {
  setWatched(tenants: ReadonlySet<number>): void;
}

export interface EventHubDeps {
  bus: EventBus;
  /** Cookie session or API token; null = 401. */
  authenticate(req: IncomingMessage): Promise<WebUser | null>;
  snapshot: SnapshotSources;
  /** The SIP accounts (usernames) a member's events are limited to. */
  memberAccounts(user: WebUser): Promise<readonly string[]>;
  /** Whether a tenant exists (an operator's `?tenant=`). */
  tenantExists(tenantId: number): Promise<boolean>;
  trace?: TraceSwitch;
  /** Origins (scheme://host[:port]) allowed besides the request's own host; a browser always sends Origin. */
  allowedOrigins?: readonly string[];
  limits?: Partial<EventHubLimits>;
  logger?: Logger;
}

export interface EventHub {
  /** For `server.on('upgrade')`: answers the request (101, or an HTTP error) and owns the socket from then on. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Whether anyone with the right role watches this tenant's sip.trace. */
  isTraced(tenantId: number): boolean;
  /**
   * Connected clients, slow-consumer resyncs and 1013 closes since start, and resumes whose
   * `since` was no longer in the ring (answered with resync and a fresh snapshot).
   */
  stats(): { clients: number; resyncs: number; slowCloses: number; staleResumes: number };
  close(): Promise<void>;
}

const PATTERN = /^(\*|[a-z]+(\.[a-z]+)*(\.\*)?)$/;
const subscriptionSchema = z.object({
  subscribe: z.array(z.string().max(64).regex(PATTERN, 'not an event type or prefix.*')).max(32),
  accounts: z.array(z.string().min(1).max(128)).max(256).optional(),
}).strict();

class HttpRefusal extends Error {
  constructor(readonly status: 400 | 401 | 403 | 404 | 429, message: string) {
    super(message);
  }
}

/**
 * The WebSocket event hub behind `GET /api/v1/events` (issue 9, "Events over WebSocket"):
 * a snapshot on connect, then every event of the client's tenant that its role and
 * subscription allow, each with the tenant stream's sequence number; `?since=` resumes from a
 * bounded ring per tenant, or answers `resync` and a fresh snapshot when the ring no longer
 * reaches back; slow clients are resynced, then closed (EventClient).
 */
export function createEventHub(deps: EventHubDeps): EventHub {
  const limits: EventHubLimits = { ...DEFAULT_EVENT_HUB_LIMITS, ...deps.limits };
  const log = deps.logger;
  // Seqs start above anything an earlier process of this switch can have handed out (1000 per ms
  // of uptime), so a client's `since` from before a restart is recognised as foreign: resync.
  const firstSeq = Date.now() * 1000;
  const streams = new Map<number, TenantStream>();
  const clients = new Set<EventClient>();
  const byTenant = new Map<number, Set<EventClient>>();
  const traced = new Set<number>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes, perMessageDeflate: false });

  const stream = (tenantId: number): TenantStream => {
    let s = streams.get(tenantId);
    if (!s) streams.set(tenantId, (s = new TenantStream(tenantId, limits.ringSize, firstSeq)));
    return s;
  };

  const unsubscribe = deps.bus.subscribe({}, (event: SequencedEvent) => {
    if (typeof event.tenantId !== 'number') return; // switch-wide (a REGISTER for no tenant's domain): nobody's stream
    const entry = stream(event.tenantId).append(event);
    const watching = byTenant.get(event.tenantId);
    if (!watching) return;
    for (const c of watching) c.offer(entry);
  });

  const updateTrace = (): void => {
    const now = new Set<number>();
    for (const c of clients) if (c.watchesTrace) now.add(c.tenantId);
    if (now.size === traced.size && [...now].every((t) => traced.has(t))) return;
    traced.clear();
    for (const t of now) traced.add(t);
    deps.trace?.setWatched(new Set(traced));
  };

  const snapshotFrame = (c: EventClient): string => {
    const tenantId = c.tenantId;
    const s = stream(tenantId);
    const own = c.ownAccounts;
    const only = c.subscription.accounts;
    const keep = (accounts: Iterable<string | undefined>): boolean => {
      const list = [...accounts].filter((a): a is string => a !== undefined);
      if (own && !list.some((a) => own.has(a))) return false;
      if (only && !list.some((a) => only.includes(a))) return false;
      return true;
    };
    // The stream's parties of a call it has seen win: an account that left it (transferred it away) no longer sees it.
    const calls = deps.snapshot.calls(tenantId).filter((call) =>
      keep(s.accountsOfCall(call.id) ?? [call.caller.account, call.callee.account]));
    const registrations = roleSeesRegistrations(c.user.role) ? deps.snapshot.registrations(tenantId).filter((r) => keep([r.user])) : [];
    const extensions = deps.snapshot.extensions(tenantId).filter((x) => keep([x.user]));
    const parking = deps.snapshot.parking(tenantId).filter((p) => keep([p.caller.account]));
    return JSON.stringify({ type: 'snapshot', seq: s.seq, tenant: tenantId, calls, registrations, extensions, parking });
  };

  let resyncs = 0;
  let slowCloses = 0;
  let staleResumes = 0;
  const host = {
    snapshotFrame,
    subscriptionChanged: () => updateTrace(),
    resynced: (c: EventClient) => {
      resyncs++;
      log?.info({ tenantId: c.tenantId, user: c.user.email }, 'event consumer overrun: backlog dropped, resync sent');
    },
    closed: (c: EventClient, code: number) => {
      if (code === CLOSE_TRY_AGAIN_LATER) {
        slowCloses++;
        log?.info({ tenantId: c.tenantId, user: c.user.email }, 'event consumer overrun twice: closed with 1013');
      }
      updateTrace();
    },
  };

  const pinger = setInterval(() => {
    for (const c of clients) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }, limits.pingIntervalMs);
  pinger.unref();

  const refuse = (socket: Duplex, status: number, message: string): void => {
    const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' }[status] ?? 'Error';
    const body = JSON.stringify({ error: message });
    if (socket.writable) {
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
    socket.destroy();
  };

  const accept = async (req: IncomingMessage): Promise<{ user: WebUser; tenantId: number; since?: number; subscription: ClientSubscription; own: ReadonlySet<string> | null }> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== EVENTS_PATH) throw new HttpRefusal(404, `no route GET ${url.pathname}`);
    const origin = req.headers.origin;
    if (origin && !sameOrigin(origin, req.headers.host) && !(deps.allowedOrigins ?? []).includes(origin)) {
      throw new HttpRefusal(403, 'origin not allowed');
    }
    const user = await deps.authenticate(req);
    if (!user || user.disabled) throw new HttpRefusal(401, 'not authenticated');
    const sinceText = url.searchParams.get('since');
    let since: number | undefined;
    if (sinceText !== null) {
      if (!/^\d{1,16}$/.test(sinceText)) throw new HttpRefusal(400, 'since: must be a sequence number');
      since = Number(sinceText);
    }
    const tenantText = url.searchParams.get('tenant');
    let tenantId: number;
    if (user.role === 'operator') {
      if (tenantText === null) throw new HttpRefusal(400, 'tenant: an operator names the tenant to watch');
      if (!/^\d{1,12}$/.test(tenantText) || !(await deps.tenantExists(Number(tenantText)))) throw new HttpRefusal(404, 'no such tenant');
      tenantId = Number(tenantText);
    } else {
      if (user.tenantId === null) throw new HttpRefusal(401, 'not authenticated');
      // Another tenant's id is "not found", never "forbidden".
      if (tenantText !== null && tenantText !== String(user.tenantId)) throw new HttpRefusal(404, 'no such tenant');
      tenantId = user.tenantId;
    }
    if ((byTenant.get(tenantId)?.size ?? 0) >= limits.maxClientsPerTenant) throw new HttpRefusal(429, 'too many event streams for this tenant');
    const types = listParam(url.searchParams.get('subscribe'));
    if (types && !types.every((t) => PATTERN.test(t))) throw new HttpRefusal(400, 'subscribe: not an event type or prefix.*');
    const accounts = listParam(url.searchParams.get('accounts'));
    const own = user.role === 'member' ? new Set(await deps.memberAccounts(user)) : null;
    return { user, tenantId, since, subscription: { types, accounts }, own };
  };

  const start = (ws: WebSocket, a: Awaited<ReturnType<typeof accept>>): void => {
    // accept() checked the cap before its awaits; connections racing through them are refused here.
    if ((byTenant.get(a.tenantId)?.size ?? 0) >= limits.maxClientsPerTenant) {
      ws.close(CLOSE_TRY_AGAIN_LATER, 'too many event streams for this tenant');
      return;
    }
    const client = new EventClient(ws, a.user, a.tenantId, a.own, a.subscription, limits, host);
    clients.add(client);
    let set = byTenant.get(a.tenantId);
    if (!set) byTenant.set(a.tenantId, (set = new Set()));
    set.add(client);
    ws.on('pong', () => { client.alive = true; });
    ws.on('message', (data, isBinary) => onMessage(client, data.toString(), isBinary));
    ws.on('close', () => {
      client.detach();
      clients.delete(client);
      byTenant.get(a.tenantId)?.delete(client);
      if (byTenant.get(a.tenantId)?.size === 0) byTenant.delete(a.tenantId);
      updateTrace();
    });
    ws.on('error', (err) => log?.debug({ err: err.message }, 'event client socket error'));
    updateTrace();
    // Same turn as the registration above: nothing can fall between the snapshot (or replay) and the live events.
    const s = stream(a.tenantId);
    if (a.since !== undefined) {
      const replay = s.replay(a.since);
      if (replay.ok) {
        for (const e of replay.entries) client.offer(e);
        return;
      }
      staleResumes++;
      client.send(JSON.stringify({ type: 'resync' }));
    }
    client.send(snapshotFrame(client));
  };

  const onMessage = (client: EventClient, text: string, isBinary: boolean): void => {
    let parsed: unknown;
    try {
      parsed = isBinary ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const r = subscriptionSchema.safeParse(parsed);
    if (!r.success) {
      const issue = r.error.issues[0];
      const field = issue?.path.join('.') || undefined;
      client.send(JSON.stringify({ type: 'error', error: issue ? `${field ? `${field}: ` : ''}${issue.message}` : 'expected {"subscribe": [...]}', ...(field && { field }) }));
      return;
    }
    client.subscription = { types: r.data.subscribe, accounts: r.data.accounts ?? null };
    updateTrace();
    client.send(JSON.stringify({ type: 'subscribed', subscribe: r.data.subscribe, accounts: r.data.accounts ?? null }));
  };

  let closed = false;
  return {
    handleUpgrade(req, socket, head) {
      if (closed) {
        refuse(socket, 503, 'shutting down');
        return;
      }
      socket.on('error', () => socket.destroy());
      accept(req).then(
        (a) => {
          if (closed || socket.destroyed) {
            socket.destroy();
            return;
          }
          wss.handleUpgrade(req, socket, head, (ws) => start(ws, a));
        },
        (err: unknown) => {
          if (err instanceof HttpRefusal) refuse(socket, err.status, err.message);
          else {
            log?.error({ err }, 'event stream upgrade failed');
            refuse(socket, 500, 'internal error');
          }
        },
      );
    },
    isTraced: (tenantId) => traced.has(tenantId),
    stats: () => ({ clients: clients.size, resyncs, slowCloses, staleResumes }),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(pinger);
      unsubscribe();
      for (const c of clients) c.close(1001, 'server shutting down');
      for (const c of clients) c.ws.terminate();
      clients.clear();
      byTenant.clear();
      updateTrace();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

function listParam(value: string | null): string[] | null {
  if (value === null) return null;
  return value.split(',').map((v) => v.trim()).filter((v) => v.length > 0).slice(0, 256);
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}
