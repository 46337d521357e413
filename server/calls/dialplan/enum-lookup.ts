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
 * replacement refer to groups (`\0` to the whole match). Returns undefined when the expression is
 * malformed, is not one of the forms below, or does not match.
 *
 * The expression comes from whoever controls the DNS zone, so it is never handed to `RegExp`
 * (a backtracking engine on the SIP event loop: `^(\d*)*$`-style patterns are a ReDoS). Only the
 * forms ENUM uses in practice (RFC 6116 §3.2.1 examples, carrier zones) are accepted, and matched
 * in one linear pass: `^` then literal characters, `\d`/`[0-9]` and `.` (one character each),
 * optionally one trailing `.*`, optionally grouped by non-nested `( )`, optionally `$` — e.g.
 * `!^.*$!sip:info@example.com!`, `!^\+44(.*)$!sip:\1@example.net!`, `!^(\+1555)(.*)$!sip:\2@x!`.
 */
export function applyNaptrRegexp(expression: string, input: string): string | undefined {
  if (expression.length > MAX_EXPRESSION_LENGTH) return undefined;
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
  const [patternText, replacement] = parts as [string, string];
  const pattern = parseEnumPattern(patternText, parts[2] === 'i');
  if (!pattern) return undefined;
  const m = matchEnumPattern(pattern, input);
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

const MAX_EXPRESSION_LENGTH = 512;

/** One position of an accepted pattern: a fixed character, a class of one, or the trailing `.*`. */
type EnumAtom = { kind: 'char'; ch: string } | { kind: 'digit' } | { kind: 'any' } | { kind: 'rest' };

interface EnumPattern {
  atoms: EnumAtom[];
  /** Group n (1-based) spans atoms [start, end). */
  groups: Array<{ start: number; end: number }>;
  anchoredEnd: boolean;
  ignoreCase: boolean;
}

/** The accepted subset of POSIX ERE (see applyNaptrRegexp); undefined for anything else. */
function parseEnumPattern(text: string, ignoreCase: boolean): EnumPattern | undefined {
  if (!text.startsWith('^')) return undefined;
  const atoms: EnumAtom[] = [];
  const groups: Array<{ start: number; end: number }> = [];
  let open: number | undefined;
  let anchoredEnd = false;
  let i = 1;
  while (i < text.length) {
    const ch = text[i]!;
    const rested = atoms.at(-1)?.kind === 'rest';
    if (ch === '$') {
      if (i !== text.length - 1 || open !== undefined) return undefined;
      anchoredEnd = true;
      i++;
      continue;
    }
    if (ch === ')') {
      if (open === undefined) return undefined;
      groups.push({ start: open, end: atoms.length });
      open = undefined;
      i++;
      continue;
    }
    if (rested) return undefined; // `.*` only at the end
    if (ch === '(') {
      if (open !== undefined) return undefined; // no nesting
      open = atoms.length;
      i++;
      continue;
    }
    if (ch === '.') {
      if (text[i + 1] === '*') {
        atoms.push({ kind: 'rest' });
        i += 2;
      } else {
        atoms.push({ kind: 'any' });
        i++;
      }
      continue;
    }
    if (ch === '\\') {
      const next = text[i + 1];
      if (next === undefined) return undefined;
      if (next === 'd') atoms.push({ kind: 'digit' });
      else if (/[+.*?()[\]{}|\\^$\-#:@]/.test(next)) atoms.push({ kind: 'char', ch: next });
      else return undefined;
      i += 2;
      continue;
    }
    if (text.startsWith('[0-9]', i)) {
      atoms.push({ kind: 'digit' });
      i += 5;
      continue;
    }
    if (/[0-9A-Za-z]/.test(ch)) {
      atoms.push({ kind: 'char', ch });
      i++;
      continue;
    }
    return undefined; // quantifiers, alternation, other classes: not an ENUM form
  }
  if (open !== undefined || groups.length > 9) return undefined;
  return { atoms, groups, anchoredEnd, ignoreCase };
}

/** `[whole, group1, …]` like RegExp.exec, or undefined; one pass over `input`. */
function matchEnumPattern(p: EnumPattern, input: string): string[] | undefined {
  // offsets[k] = input position where atom k starts (all atoms but `.*` take one character).
  const offsets: number[] = [];
  let pos = 0;
  for (const atom of p.atoms) {
    offsets.push(pos);
    if (atom.kind === 'rest') {
      pos = input.length;
      continue;
    }
    const c = input[pos];
    if (c === undefined) return undefined;
    if (atom.kind === 'digit' && !/[0-9]/.test(c)) return undefined;
    if (atom.kind === 'char' && !(c === atom.ch || (p.ignoreCase && c.toLowerCase() === atom.ch.toLowerCase()))) return undefined;
    pos++;
  }
  offsets.push(pos);
  if (p.anchoredEnd && pos !== input.length) return undefined;
  return [input.slice(0, pos), ...p.groups.map((g) => input.slice(offsets[g.start], offsets[g.end]))];
}

async function defaultResolveNaptr(domain: string): Promise<NaptrRecord[]> {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  return resolver.resolveNaptr(domain);
}
