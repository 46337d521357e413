import type { StreamEvent } from '../api/index.ts';

/**
 * The console's rows, built from the event stream's `sip.trace` and `dialplan.log` frames (see
 * server/events/event-types.ts for their fields), and the filters over them.
 */

export interface Endpoint { address: string; port: number }

export interface SipRow {
  kind: 'sip';
  seq: number;
  time: number;
  direction: 'in' | 'out';
  transport: string;
  src: Endpoint;
  dst: Endpoint;
  text: string;
  sipCallId: string;
  callId?: string;
  leg?: 'a' | 'b';
  legTarget?: string;
  /** The request line or status line. */
  firstLine: string;
  /** Request method, or the CSeq method of a response. */
  method: string;
  /** Response status; undefined for a request. */
  status?: number;
  fromUser: string;
  toUser: string;
}

export interface LogRow {
  kind: 'log';
  seq: number;
  time: number;
  callId: string;
  level: 'info' | 'error';
  dialplan: string;
  message: string;
  line?: number;
  column?: number;
}

export type ConsoleRow = SipRow | LogRow;

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const endpoint = (v: unknown): Endpoint => {
  const o = (v && typeof v === 'object' ? v : {}) as Record<string, unknown>;
  return { address: str(o['address']), port: num(o['port']) };
};

/** One header's value (first occurrence, compact forms too). */
function header(text: string, names: string[]): string {
  const head = text.split(/\r?\n\r?\n/, 1)[0] ?? '';
  for (const line of head.split(/\r?\n/).slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    if (names.includes(line.slice(0, colon).trim().toLowerCase())) return line.slice(colon + 1).trim();
  }
  return '';
}

function uriUser(value: string): string {
  return /sips?:([^@;>]+)@/i.exec(value)?.[1] ?? '';
}

export function rowOf(e: StreamEvent): ConsoleRow | null {
  const time = typeof e.time === 'number' ? e.time : Date.parse(String(e.time));
  if (e.type === 'sip.trace') {
    const text = str(e['text']);
    const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
    const status = /^SIP\/2\.0 (\d{3})/.exec(firstLine);
    const method = status ? (header(text, ['cseq']).split(/\s+/)[1] ?? '') : (firstLine.split(' ', 1)[0] ?? '');
    const callId = str(e['callId']) || undefined;
    const leg = e['leg'] === 'a' || e['leg'] === 'b' ? e['leg'] : undefined;
    const legTarget = str(e['legTarget']) || undefined;
    return {
      kind: 'sip', seq: e.seq, time, direction: e['direction'] === 'out' ? 'out' : 'in', transport: str(e['transport']),
      src: endpoint(e['src']), dst: endpoint(e['dst']), text, sipCallId: str(e['sipCallId']),
      ...(callId && { callId }), ...(leg && { leg }), ...(legTarget && { legTarget }),
      firstLine, method: method.toUpperCase(), ...(status && { status: Number(status[1]) }),
      fromUser: uriUser(header(text, ['from', 'f'])), toUser: uriUser(header(text, ['to', 't'])),
    };
  }
  if (e.type === 'dialplan.log') {
    const line = typeof e['line'] === 'number' ? e['line'] : undefined;
    const column = typeof e['column'] === 'number' ? e['column'] : undefined;
    return {
      kind: 'log', seq: e.seq, time, callId: str(e['callId']), level: e['level'] === 'error' ? 'error' : 'info',
      dialplan: str(e['dialplan']), message: str(e['message']),
      ...(line !== undefined && { line }), ...(column !== undefined && { column }),
    };
  }
  return null;
}

export const METHODS = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'OPTIONS', 'REFER', 'NOTIFY', 'SUBSCRIBE', 'INFO', 'UPDATE', 'PRACK', 'MESSAGE'] as const;

export interface ConsoleFilter {
  method: string;
  account: string;
  callId: string;
  /** '' any, 'request', or '1'..'6' for 1xx..6xx. */
  statusClass: string;
  text: string;
  regex: boolean;
}

export const EMPTY_FILTER: ConsoleFilter = { method: '', account: '', callId: '', statusClass: '', text: '', regex: false };

export type CompiledFilter = { ok: true; test(row: ConsoleRow, accountsOfCall: (callId: string) => readonly string[]): boolean } | { ok: false; field: 'text'; message: string };

/** What the row says, for the free-text filter. */
function searchable(row: ConsoleRow): string {
  return row.kind === 'sip' ? row.text : `${row.dialplan} ${row.message}`;
}

export function compileFilter(f: ConsoleFilter): CompiledFilter {
  let matchText: ((s: string) => boolean) | undefined;
  if (f.text) {
    if (f.regex) {
      try {
        const re = new RegExp(f.text, 'i');
        matchText = (s) => re.test(s);
      } catch (error) {
        return { ok: false, field: 'text', message: `Not a valid regular expression: ${(error as Error).message.replace(/^Invalid regular expression: /, '')}` };
      }
    } else {
      const needle = f.text.toLowerCase();
      matchText = (s) => s.toLowerCase().includes(needle);
    }
  }
  const callNeedle = f.callId.trim().toLowerCase();
  const account = f.account.trim();
  return {
    ok: true,
    test(row, accountsOfCall) {
      if (f.method && (row.kind !== 'sip' || row.method !== f.method)) return false;
      if (f.statusClass) {
        if (row.kind !== 'sip') return false;
        if (f.statusClass === 'request' ? row.status !== undefined : String(row.status ?? '')[0] !== f.statusClass) return false;
      }
      if (callNeedle) {
        const ids = row.kind === 'sip' ? [row.callId ?? '', row.sipCallId] : [row.callId];
        if (!ids.some((id) => id.toLowerCase().includes(callNeedle))) return false;
      }
      if (account) {
        const direct = row.kind === 'sip' && (row.fromUser === account || row.toUser === account);
        if (!direct && !(row.callId && accountsOfCall(row.callId).includes(account))) return false;
      }
      if (matchText && !matchText(searchable(row))) return false;
      return true;
    },
  };
}

/** A short label of a SIP row: the method and URI of a request, the status of a response. */
export function summary(row: SipRow): string {
  if (row.status !== undefined) return `${row.firstLine.replace(/^SIP\/2\.0 /, '')}${row.method === 'INVITE' ? '' : ` (${row.method})`}`;
  return row.firstLine.replace(/ SIP\/2\.0$/, '');
}

export function endpointText(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/** The call as text: every message in full and every log line, in time order. */
export function callText(callId: string, rows: readonly ConsoleRow[]): string {
  const start = rows[0]?.time ?? 0;
  const out = [`Patchbay call ${callId}`, `exported ${new Date().toISOString()}`, ''];
  for (const row of rows) {
    const stamp = `${new Date(row.time).toISOString()} (+${((row.time - start) / 1000).toFixed(3)} s)`;
    if (row.kind === 'log') {
      out.push(`${stamp} dialplan ${row.dialplan} ${row.level}: ${row.message}${row.line !== undefined ? ` (line ${row.line})` : ''}`, '');
    } else {
      out.push(`${stamp} ${row.direction === 'in' ? 'received' : 'sent'} ${row.transport.toUpperCase()} ${endpointText(row.src)} -> ${endpointText(row.dst)}${row.leg ? ` leg ${row.leg}${row.legTarget ? ` (${row.legTarget})` : ''}` : ''}`);
      out.push(row.text.replace(/\r\n/g, '\n').trimEnd(), '');
    }
  }
  return out.join('\n');
}
