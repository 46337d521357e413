import { Resolver } from 'node:dns/promises';

/** One NAPTR record as `node:dns` returns it. */
export interface NaptrRecord {
  flags: string;
  service: string;
  regexp: string;
  replacement: string;
  order: number;
  preference: number;
}

export interface EnumLookupOptions {
  /** NAPTR resolver; default `node:dns` (tests inject a fake — no internet in CI). */
  resolveNaptr?: (domain: string) => Promise<NaptrRecord[]>;
  /** ENUM tree; default `e164.arpa` (RFC 6116 §2.2). Private trees (e.g. `e164.org`) work too. */
  suffix?: string;
}

export class EnumLookupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnumLookupError';
  }
}

const NOT_FOUND_CODES = new Set(['ENOTFOUND', 'ENODATA', 'ESERVFAIL', 'ENONAME', 'NXDOMAIN']);
const MAX_DIGITS = 15; // E.164

/** `+44 20-7946 0000` → `0.0.0.0.6.4.9.7.0.2.4.4.e164.arpa` (RFC 6116 §2.4). */
export function enumDomain(number: string, suffix = 'e164.arpa'): string {
  const digits = e164Digits(number);
  return `${[...digits].reverse().join('.')}.${suffix.replace(/^\.+|\.+$/g, '')}`;
}

function e164Digits(number: string): string {
  const cleaned = number.trim().replace(/[\s\-().]/g, '');
  if (!/^\+?[0-9]{1,15}$/.test(cleaned)) {
    throw new EnumLookupError(`ENUMLookup: "${number.slice(0, 40)}" is not an E.164 number (up to ${MAX_DIGITS} digits)`);
  }
  return cleaned.replace(/^\+/, '');
}

/**
 * RFC 6116 ENUM: the SIP URI for an E.164 number, or null. Takes the terminal (`u` flag)
 * `E2U+sip` records, best first by order then preference, and returns the first whose
 * regexp yields a sip:/sips: URI. Non-terminal records (a replacement domain) are not followed:
 * public ENUM does not use them and following them would let a zone send us on a chase.
 */
export async function enumLookup(number: string, opts: EnumLookupOptions = {}): Promise<string | null> {
  const digits = e164Digits(number);
  const domain = enumDomain(digits, opts.suffix);
  const resolve = opts.resolveNaptr ?? defaultResolveNaptr;
  let records: NaptrRecord[];
  try {
    records = await resolve(domain);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_FOUND_CODES.has(code)) return null;
    throw new EnumLookupError(`ENUMLookup: DNS lookup of ${domain} failed: ${(err as Error).message}`);
  }
  const candidates = records
    .filter((r) => r.flags.toLowerCase() === 'u' && isSipService(r.service) && r.regexp.length > 0)
    .sort((a, b) => a.order - b.order || a.preference - b.preference);
  for (const r of candidates) {
    const uri = applyNaptrRegexp(r.regexp, `+${digits}`);
    if (uri && /^sips?:[^\s<>"]+$/i.test(uri) && uri.length <= 1024) return uri;
  }
  return null;
}

/** `E2U+sip`, also `E2U+voice:sip` style (RFC 6116 §3.4.3: type, then optional subtypes). */
function isSipService(service: string): boolean {
  const parts = service.toLowerCase().split('+');
  return parts[0] === 'e2u' && parts.slice(1).some((p) => p === 'sip' || p.endsWith(':sip'));
}

/**
 * RFC 3402 §3.2 substitution expression `<delim>ERE<delim>repl<delim>flags`; `\1`–`\9` in the
 * replacement refer to groups. Returns undefined when the expression is malformed or does not match.
 */
export function applyNaptrRegexp(expression: string, input: string): string | undefined {
  const delim = expression[0];
  if (!delim || /[0-9\\i]/.test(delim)) return undefined;
  const parts: string[] = [];
  let current = '';
  for (let i = 1; i < expression.length; i++) {
    const ch = expression[i]!;
    if (ch === '\\' && expression[i + 1] === delim) {
      current += delim;
      i++;
    } else if (ch === delim) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  if (parts.length !== 3 || !/^i?$/.test(parts[2]!)) return undefined;
  const [pattern, replacement] = parts as [string, string];
  let re: RegExp;
  try {
    re = new RegExp(pattern, parts[2] === 'i' ? 'i' : '');
  } catch {
    return undefined;
  }
  const m = re.exec(input);
  if (!m) return undefined;
  let out = '';
  for (let i = 0; i < replacement.length; i++) {
    const ch = replacement[i]!;
    if (ch === '\\' && i + 1 < replacement.length) {
      const next = replacement[++i]!;
      out += /[0-9]/.test(next) ? (m[Number(next)] ?? '') : next;
    } else {
      out += ch;
    }
  }
  return out;
}

async function defaultResolveNaptr(domain: string): Promise<NaptrRecord[]> {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  return resolver.resolveNaptr(domain);
}
