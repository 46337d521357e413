/** RFC 3261 §7.3.3 compact forms (plus the registered ones of later RFCs). */
const COMPACT_FORMS: Record<string, string> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  s: 'subject',
  f: 'from',
  t: 'to',
  v: 'via',
  k: 'supported',
  c: 'content-type',
  o: 'event',
  r: 'refer-to',
  b: 'referred-by',
  u: 'allow-events',
  x: 'session-expires',
  a: 'accept-contact',
  j: 'reject-contact',
  d: 'request-disposition',
  y: 'identity',
  n: 'identity-info',
};

/**
 * Headers whose grammar is a comma-separated list (RFC 3261 §7.3.1), so several values on one
 * line are split by getAll(). Everything else — notably WWW-Authenticate, Authorization,
 * Proxy-Authenticate, Proxy-Authorization, Date, Retry-After, and unknown headers whose grammar
 * we cannot know — is returned one value per line, commas untouched.
 */
const LIST_HEADERS = new Set([
  'via', 'contact', 'route', 'record-route', 'path', 'service-route',
  'allow', 'supported', 'require', 'proxy-require', 'unsupported',
  'accept', 'accept-encoding', 'accept-language', 'content-encoding', 'content-language',
  'alert-info', 'call-info', 'error-info', 'in-reply-to', 'warning', 'allow-events',
  'p-asserted-identity', 'p-preferred-identity', 'reason', 'history-info',
  'accept-contact', 'reject-contact', 'request-disposition', 'security-client',
  'security-server', 'security-verify', 'p-associated-uri', 'recv-info', 'accept-resource-priority',
  'resource-priority', 'privacy',
]);

/** Canonical (lower-case, long-form) key of a header name. */
export function headerKey(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 1) return COMPACT_FORMS[lower] ?? lower;
  return lower;
}

export function isListHeader(key: string): boolean {
  return LIST_HEADERS.has(key);
}

/** Trims SIP linear white space only (String.trim would also eat e.g. U+FEFF inside UTF-8 values). */
export function trimLws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isLwsCode(s.charCodeAt(a))) a++;
  while (b > a && isLwsCode(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

function isLwsCode(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/**
 * Splits a header value at top-level commas: commas inside quoted strings (with \-escapes) and
 * inside <...> do not separate values. Values are trimmed of LWS; empty values are dropped.
 */
export function splitHeaderList(value: string): string[] {
  if (value.indexOf(',') < 0) {
    const t = trimLws(value);
    return t ? [t] : [];
  }
  const out: string[] = [];
  let start = 0;
  let inQuotes = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuotes) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inQuotes = false;
    } else if (c === 0x22) {
      inQuotes = true;
    } else if (inAngle) {
      if (c === 0x3e /* > */) inAngle = false;
    } else if (c === 0x3c /* < */) {
      inAngle = true;
    } else if (c === 0x2c /* , */) {
      const part = trimLws(value.slice(start, i));
      if (part) out.push(part);
      start = i + 1;
    }
  }
  const last = trimLws(value.slice(start));
  if (last) out.push(last);
  return out;
}

interface HeaderEntry {
  /** Name as spelled on the wire (or as given by the caller). */
  name: string;
  key: string;
  value: string;
  /** Exact original line text (folding included, no trailing CRLF); undefined once rewritten. */
  raw: string | undefined;
}

/**
 * Ordered, case-insensitive header list (RFC 3261 §7.3). Each entry is one header line; lines
 * received from the wire keep their exact text, so untouched headers serialize byte-for-byte.
 */
export class SipHeaders {
  private list: HeaderEntry[] = [];
  /** Incremented by every mutation; messages use it to drop cached parsed values. */
  version = 0;

  /** Used by the parser: adds a line exactly as received. */
  appendRaw(name: string, value: string, raw: string): void {
    this.list.push({ name, key: headerKey(name), value, raw });
  }

  /** Same as appendRaw with the key already computed (parser hot path). */
  appendParsed(name: string, key: string, value: string, raw: string): void {
    this.list.push({ name, key, value, raw });
  }

  get(name: string): string | undefined {
    const key = headerKey(name);
    for (const e of this.list) if (e.key === key) return e.value;
    return undefined;
  }

  getAll(name: string): string[] {
    const key = headerKey(name);
    const out: string[] = [];
    const split = LIST_HEADERS.has(key);
    for (const e of this.list) {
      if (e.key !== key) continue;
      if (split) {
        for (const v of splitHeaderList(e.value)) out.push(v);
      } else {
        out.push(e.value);
      }
    }
    return out;
  }

  /** Every header line of that name, unsplit. */
  getLines(name: string): string[] {
    const key = headerKey(name);
    const out: string[] = [];
    for (const e of this.list) if (e.key === key) out.push(e.value);
    return out;
  }

  has(name: string): boolean {
    const key = headerKey(name);
    for (const e of this.list) if (e.key === key) return true;
    return false;
  }

  /** Replaces every line of that name; keeps the position of the first one if there was one. */
  set(name: string, value: string | string[]): void {
    const key = headerKey(name);
    const values = Array.isArray(value) ? value : [value];
    const fresh = values.map((v): HeaderEntry => ({ name, key, value: v, raw: undefined }));
    const first = this.list.findIndex((e) => e.key === key);
    if (first < 0) {
      this.list.push(...fresh);
    } else {
      const kept = this.list.filter((e, i) => i < first || e.key !== key);
      kept.splice(first, 0, ...fresh);
      this.list = kept;
    }
    this.version++;
  }

  append(name: string, value: string): void {
    this.list.push({ name, key: headerKey(name), value, raw: undefined });
    this.version++;
  }

  /** Inserts before the first line of the same header (or at the top), e.g. a new Via. */
  prepend(name: string, value: string): void {
    const key = headerKey(name);
    const first = this.list.findIndex((e) => e.key === key);
    this.list.splice(first < 0 ? 0 : first, 0, { name, key, value, raw: undefined });
    this.version++;
  }

  remove(name: string): void {
    const key = headerKey(name);
    const before = this.list.length;
    this.list = this.list.filter((e) => e.key !== key);
    if (this.list.length !== before) this.version++;
  }

  /** Removes the first value of a (possibly comma-joined) header, e.g. the top Via or Route. */
  removeFirst(name: string): void {
    const key = headerKey(name);
    const i = this.list.findIndex((e) => e.key === key);
    if (i < 0) return;
    const e = this.list[i]!;
    const values = LIST_HEADERS.has(key) ? splitHeaderList(e.value) : [e.value];
    if (values.length <= 1) {
      this.list.splice(i, 1);
    } else {
      this.list[i] = { name: e.name, key, value: values.slice(1).join(', '), raw: undefined };
    }
    this.version++;
  }

  entries(): Array<[name: string, value: string]> {
    return this.list.map((e): [string, string] => [e.name, e.value]);
  }

  get size(): number {
    return this.list.length;
  }

  clone(): SipHeaders {
    const h = new SipHeaders();
    h.list = this.list.map((e) => ({ ...e }));
    return h;
  }

  /** Copies every line of that header from another list, keeping the original text. */
  copyLinesFrom(other: SipHeaders, name: string): void {
    const key = headerKey(name);
    for (const e of other.list) if (e.key === key) this.list.push({ ...e });
    this.version++;
  }

  /**
   * Wire text of all lines, each followed by CRLF; untouched lines from their original text.
   * The Content-Length line is rewritten (or added at the end) when it does not match the body.
   */
  serializeWithContentLength(bodyLength: number): string {
    let out = '';
    let seenLength = false;
    for (const e of this.list) {
      if (e.key === 'content-length') {
        if (seenLength) continue;
        seenLength = true;
        if (e.raw !== undefined && Number(e.value) === bodyLength && /^\d+$/.test(e.value)) {
          out += e.raw + '\r\n';
        } else {
          out += `${e.name}: ${bodyLength}\r\n`;
        }
        continue;
      }
      out += (e.raw ?? `${e.name}: ${e.value}`) + '\r\n';
    }
    if (!seenLength) out += `Content-Length: ${bodyLength}\r\n`;
    return out;
  }
}
