/**
 * Dial strings (DESIGN.md "Dial strings"):
 *
 *   plan    = group *( "|" group )          sequential groups
 *   group   = leg *( "&" leg )              parallel legs
 *   leg     = target [ "[" option *( "," option ) "]" ]
 *   target  = "<" sip-or-sips-uri ">"       anything but ">" inside, so & | [ , are literal
 *           / sip-or-sips-uri               bare: ends at & | [ or whitespace; "[v6]" host allowed
 *           / user "@local" / user "@" domain-or-provider / provider
 *   option  = key "=" ( quoted-string / raw-value )   raw value ends at "," or "]"
 *
 * A URI containing "&", "|", "[" (other than an IPv6 host) or "," must be written in angle
 * brackets: `<sip:conf@example.com;transport=tcp?subject=a&priority=urgent>`.
 *
 * Variables (${dst}, ${exten}, ${fromname}, ${fromuriuser}, each also as ${name:N} = substring
 * from N) are expanded inside each target and option value. The structure (| & [ ] ,) is parsed
 * from the text as written, and only then are variables expanded — so a caller-controlled value
 * such as the From display name can never add legs or options (no dial-string injection).
 * The expanded values are validated like literal ones.
 */

export class DialStringError extends Error {
  /** 1-based character position in the dial string as written. */
  readonly position: number;
  constructor(message: string, position: number) {
    super(`${message} at position ${position}`);
    this.name = 'DialStringError';
    this.position = position;
  }
}

export interface DialVars {
  /** Request-URI user of the call being handled (${dst}; also the user of a bare provider leg). */
  dst: string;
  /** ${exten}; defaults to dst. */
  exten?: string;
  /** From display name (${fromname}); empty when absent. */
  fromName?: string;
  /** From URI user (${fromuriuser}); empty when absent. */
  fromUriUser?: string;
}

export type DialTarget =
  /** `user@local`: a SIP account of the tenant. */
  | { kind: 'local'; user: string }
  /** `user@name`: `name` is a provider name or a tenant domain (lower-cased) — resolved by the caller, providers first. */
  | { kind: 'named'; user: string; host: string }
  /** `provider` alone: user is the request user (${dst}). */
  | { kind: 'provider'; user: string; provider: string }
  /** A sip:/sips: URI, text without angle brackets. */
  | { kind: 'uri'; uri: string };

/** tr= : what to do with a REFER received on this leg (DESIGN.md "Transfer policy"). */
export type TransferPolicy =
  | 'refuse'       // tr=n (default): 603
  | 'pass-through' // tr=p: relay the REFER to the other party
  | 'switch';      // tr=c: the switch runs the tenant's `transfer` dialplan

/**
 * rm= : what a 3xx response on this leg does (DESIGN.md "Trust and money": no leg is dialled
 * that nobody chose, and a 302 is chosen by the remote party).
 */
export type RedirectMode =
  | 'own-accounts'  // default: Contacts naming the tenant's own accounts become new legs; the rest as rm=n
  | 'follow'        // rm=f: every Contact becomes a new leg in the same group (each once)
  | 'new-dialplan'  // rm=n: the result asks for a new dialplan run with the redirect target
  | 'manual';       // rm=m: the result carries the redirect to the script

export interface CustomHeader { name: string; value: string }

export interface LegOptions {
  /** dt: seconds after the group starts before this leg is started (0–120). */
  delaySeconds: number;
  /** cd: hang up this many seconds after answer (1–86400); undefined = no limit. */
  callDurationLimitSeconds?: number;
  transferPolicy: TransferPolicy;
  /** fd / fu / fh: From display name / user / host for this leg. */
  fromDisplayName?: string;
  fromUser?: string;
  fromHost?: string;
  redirectMode: RedirectMode;
  /** ma: rewrite private addresses in SDP (default true). */
  mangleSdp: boolean;
  /** ch=Name:Value, in the order written. */
  customHeaders: CustomHeader[];
}

export interface DialLeg {
  target: DialTarget;
  options: LegOptions;
  /** Normalized destination, used to drop duplicates. */
  key: string;
  /** 1-based position of the leg in the dial string. */
  position: number;
}

export interface DialGroup { legs: DialLeg[] }
export interface DialPlan { groups: DialGroup[] }

export const MAX_DIAL_DELAY_SECONDS = 120;
export const MAX_CALL_DURATION_SECONDS = 86_400;
const MAX_DIAL_STRING_LENGTH = 4096;
const MAX_VALUE_LENGTH = 256;

/** Headers the B2BUA owns; a script setting them would break the dialog or routing. */
const PROTECTED_HEADERS = new Set([
  'via', 'v', 'from', 'f', 'to', 't', 'call-id', 'i', 'cseq', 'contact', 'm', 'max-forwards',
  'content-length', 'l', 'content-type', 'c', 'route', 'record-route', 'proxy-authorization',
  'authorization', 'www-authenticate', 'proxy-authenticate', 'expires', 'refer-to', 'r',
  'replaces', 'require', 'proxy-require',
]);

const TOKEN_RE = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
/** A SIP user part after expansion: printable, no separators that would change the URI's meaning. */
const USER_RE = /^[A-Za-z0-9\-_.!~*'()&=+$,;?/#%]+$/;
const HOST_RE = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;
const IPV4_RE = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const CONTROL_RE = /[\u0000-\u001f\u007f]/;

/** A piece of the dial string as written, with its 1-based start position, before variable expansion. */
interface RawText { text: string; position: number }
interface RawLeg { target: RawText; isUri: boolean; options: RawOption[]; position: number }
interface RawOption { key: RawText; value: RawText }

class DialStringScanner {
  private i = 0;
  constructor(private readonly s: string) {}

  get index(): number { return this.i; }
  private pos(at = this.i): number { return at + 1; }
  private fail(message: string, at = this.i): never { throw new DialStringError(message, this.pos(at)); }
  private peek(): string | undefined { return this.s[this.i]; }
  private skipSpace(): void { while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++; }

  parse(): RawLeg[][] {
    const groups: RawLeg[][] = [];
    for (;;) {
      const legs: RawLeg[] = [];
      for (;;) {
        legs.push(this.parseLeg());
        this.skipSpace();
        if (this.peek() === '&') { this.i++; continue; }
        break;
      }
      groups.push(legs);
      const c = this.peek();
      if (c === undefined) break;
      if (c === '|') { this.i++; continue; }
      this.fail(`Unexpected character '${c}'`);
    }
    return groups;
  }

  private parseLeg(): RawLeg {
    this.skipSpace();
    const position = this.pos();
    const c = this.peek();
    if (c === undefined || c === '&' || c === '|' || c === '[') this.fail('Empty leg');
    let target: RawText;
    let isUri = true;
    if (c === '<') {
      const start = this.i + 1;
      const end = this.s.indexOf('>', start);
      if (end < 0) this.fail("Unclosed '<'");
      const text = this.s.slice(start, end);
      if (text.includes('<')) this.fail("Nested '<'", start + text.indexOf('<'));
      this.i = end + 1;
      target = { text, position: start + 1 };
      if (!/^\s*sips?:/i.test(text)) this.fail("Only sip: and sips: URIs may be written in '<...>'", start);
    } else if (/^sips?:/i.test(this.s.slice(this.i))) {
      target = this.readBareUri();
    } else {
      target = this.readPlain();
      isUri = false;
    }
    this.skipSpace();
    const options = this.peek() === '[' ? this.parseOptions() : [];
    return { target, isUri, options, position };
  }

  /** Reads a `${...}` variable reference as one unit so its contents never act as separators. */
  private skipVariable(): void {
    const open = this.i;
    const close = this.s.indexOf('}', open + 2);
    if (close < 0) this.fail("Unclosed '${'", open);
    this.i = close + 1;
  }

  private readPlain(): RawText {
    const start = this.i;
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (c === '$' && this.s[this.i + 1] === '{') { this.skipVariable(); continue; }
      if (c === '&' || c === '|' || c === '[' || /\s/.test(c)) break;
      if (c === ']' || c === '<' || c === '>' || c === '"' || c === ',') this.fail(`Unexpected character '${c}'`);
      this.i++;
    }
    return { text: this.s.slice(start, this.i), position: this.pos(start) };
  }

  /** A bare URI ends at & | [ or whitespace, except that "[" opening the host is an IPv6 reference. */
  private readBareUri(): RawText {
    const start = this.i;
    this.i += this.s[this.i + 3] === ':' ? 4 : 5; // "sip:" or "sips:"
    let hostStart = true; // right after the scheme or after "@"
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (c === '$' && this.s[this.i + 1] === '{') { this.skipVariable(); hostStart = false; continue; }
      if (c === '[' && hostStart) {
        const close = this.s.indexOf(']', this.i);
        if (close < 0) this.fail("Unclosed '[' in IPv6 host", this.i);
        this.i = close + 1;
        hostStart = false;
        continue;
      }
      if (c === '&' || c === '|' || c === '[' || /\s/.test(c)) break;
      if (c === ']' || c === '<' || c === '>' || c === '"' || c === ',') this.fail(`Unexpected character '${c}' (write the URI in '<...>')`);
      hostStart = c === '@';
      this.i++;
    }
    return { text: this.s.slice(start, this.i), position: this.pos(start) };
  }

  private parseOptions(): RawOption[] {
    const open = this.i;
    this.i++; // '['
    const options: RawOption[] = [];
    for (;;) {
      this.skipSpace();
      if (this.i >= this.s.length) this.fail("Unbalanced '['", open);
      const keyStart = this.i;
      while (this.i < this.s.length && /[A-Za-z]/.test(this.s[this.i])) this.i++;
      if (this.i === keyStart) {
        if (this.peek() === ']') this.fail('Expected an option name before \']\'');
        this.fail(this.peek() === undefined ? "Unbalanced '['" : 'Expected an option name', this.peek() === undefined ? open : this.i);
      }
      const key: RawText = { text: this.s.slice(keyStart, this.i).toLowerCase(), position: this.pos(keyStart) };
      this.skipSpace();
      if (this.i >= this.s.length) this.fail("Unbalanced '['", open);
      if (this.peek() !== '=') this.fail(`Expected '=' after option '${key.text}'`);
      this.i++;
      this.skipSpace();
      let value: RawText;
      if (this.peek() === '"') {
        const qStart = this.i;
        this.i++;
        let text = '';
        for (;;) {
          const c = this.s[this.i];
          if (c === undefined) this.fail('Unclosed quoted value', qStart);
          if (c === '"') { this.i++; break; }
          if (c === '\\') {
            const next = this.s[this.i + 1];
            if (next !== '"' && next !== '\\') this.fail("Bad escape in quoted value (only \\\" and \\\\)", this.i);
            text += next;
            this.i += 2;
            continue;
          }
          text += c;
          this.i++;
        }
        value = { text, position: this.pos(qStart + 1) };
        this.skipSpace();
      } else {
        const vStart = this.i;
        while (this.i < this.s.length) {
          const c = this.s[this.i];
          if (c === '$' && this.s[this.i + 1] === '{') { this.skipVariable(); continue; }
          if (c === ',' || c === ']') break;
          if (c === '[' || c === '"') this.fail(`Unexpected character '${c}' in option value`);
          this.i++;
        }
        if (this.i >= this.s.length) this.fail("Unbalanced '['", open);
        value = { text: this.s.slice(vStart, this.i).trim(), position: this.pos(vStart) };
      }
      options.push({ key, value });
      const c = this.peek();
      if (c === ',') { this.i++; continue; }
      if (c === ']') { this.i++; return options; }
      if (c === undefined) this.fail("Unbalanced '['", open);
      this.fail(`Unexpected character '${c}' in options`);
    }
  }
}

const KNOWN_VARIABLES = new Set(['dst', 'exten', 'fromname', 'fromuriuser']);

/** Expands ${name} / ${name:N} in a raw piece; positions in errors point into the original text. */
function expandVariables(raw: RawText, vars: DialVars, allowedValue?: RegExp): string {
  let out = '';
  let i = 0;
  const t = raw.text;
  while (i < t.length) {
    const open = t.indexOf('${', i);
    if (open < 0) { out += t.slice(i); break; }
    out += t.slice(i, open);
    const close = t.indexOf('}', open);
    if (close < 0) throw new DialStringError("Unclosed '${'", raw.position + open);
    const body = t.slice(open + 2, close).trim();
    const m = /^([A-Za-z]+)(?::(\d{1,4}))?$/.exec(body);
    if (!m) throw new DialStringError(`Bad variable '\${${body}}'`, raw.position + open);
    const name = m[1].toLowerCase();
    if (!KNOWN_VARIABLES.has(name)) throw new DialStringError(`Unknown variable '\${${m[1]}}'`, raw.position + open);
    let value = name === 'dst' ? vars.dst
      : name === 'exten' ? (vars.exten ?? vars.dst)
      : name === 'fromname' ? (vars.fromName ?? '')
      : (vars.fromUriUser ?? '');
    if (m[2] !== undefined) value = value.slice(Number(m[2]));
    if (allowedValue && !allowedValue.test(value)) {
      throw new DialStringError(`Value of '\${${m[1]}}' contains characters not allowed here`, raw.position + open);
    }
    out += value;
    i = close + 1;
  }
  return out;
}

function validateUser(user: string, position: number, what: string): string {
  if (user === '') throw new DialStringError(`Empty ${what}`, position);
  if (user.length > MAX_VALUE_LENGTH) throw new DialStringError(`${what} too long`, position);
  if (!USER_RE.test(user)) throw new DialStringError(`Invalid character in ${what} '${user}'`, position);
  return user;
}

function validateHost(host: string, position: number, what: string): string {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const ok = (IPV4_RE.test(bare) && bare.split('.').every((p) => Number(p) <= 255))
    || (bare.includes(':') && /^[0-9A-Fa-f:.]+$/.test(bare))
    || (HOST_RE.test(bare) && bare.length <= 253);
  if (!ok) throw new DialStringError(`Invalid ${what} '${host}'`, position);
  return bare.toLowerCase();
}

function validateFreeText(value: string, position: number, what: string): string {
  if (CONTROL_RE.test(value)) throw new DialStringError(`Control character in ${what}`, position);
  if (value.length > MAX_VALUE_LENGTH) throw new DialStringError(`${what} too long`, position);
  return value;
}

function parseSeconds(value: string, position: number, key: string, min: number, max: number): number {
  if (!/^\d{1,6}$/.test(value)) throw new DialStringError(`Option '${key}' needs a whole number of seconds, got '${value}'`, position);
  const n = Number(value);
  if (n < min || n > max) throw new DialStringError(`Option '${key}' must be between ${min} and ${max}, got ${n}`, position);
  return n;
}

/** Lower-cases scheme and host of a sip(s) URI; user, params and headers keep their spelling. */
function normalizeUriKey(uri: string): string {
  const m = /^(sips?):(?:([^@]*)@)?(\[[^\]]*\]|[^;?:]*)(.*)$/i.exec(uri);
  if (!m) return uri;
  return `${m[1].toLowerCase()}:${m[2] !== undefined ? `${m[2]}@` : ''}${m[3].toLowerCase()}${m[4]}`;
}

/** Normalized destination key of a target; used for de-duplication (also by the fork controller for 3xx targets). */
export function dialTargetKey(target: DialTarget): string {
  switch (target.kind) {
    case 'local': return `local:${target.user}`;
    case 'named': return `addr:${target.user}@${target.host}`;
    case 'provider': return `addr:${target.user}@${target.provider}`;
    case 'uri': return `uri:${normalizeUriKey(target.uri)}`;
  }
}

/** Index of the last '@' of a raw piece that is outside every `${...}`, or -1. */
function lastLiteralAt(t: string): number {
  let found = -1;
  for (let i = 0; i < t.length; i++) {
    if (t[i] === '$' && t[i + 1] === '{') {
      const close = t.indexOf('}', i);
      if (close < 0) break;
      i = close;
      continue;
    }
    if (t[i] === '@') found = i;
  }
  return found;
}

/** Inside a URI a variable may only supply characters that cannot change the URI's structure. */
const URI_VARIABLE_VALUE_RE = /^[A-Za-z0-9\-_.!~*'()+%#]*$/;

function buildTarget(raw: RawText, isUri: boolean, vars: DialVars): DialTarget {
  if (isUri) {
    const text = expandVariables(raw, vars, URI_VARIABLE_VALUE_RE).trim();
    if (CONTROL_RE.test(text) || /[\s<>"]/.test(text)) throw new DialStringError('Invalid character in URI', raw.position);
    const m = /^sips?:(?:([^@]*)@)?(\[[^\]]*\]|[^;?:]*)/i.exec(text);
    if (!m || m[2] === '') throw new DialStringError('URI without a host', raw.position);
    if (m[1] !== undefined && m[1] === '') throw new DialStringError('URI with an empty user', raw.position);
    validateHost(m[2], raw.position, 'URI host');
    if (text.length > 1024) throw new DialStringError('URI too long', raw.position);
    return { kind: 'uri', uri: text };
  }
  const at = lastLiteralAt(raw.text);
  if (at < 0) {
    const provider = validateHost(expandVariables(raw, vars).trim(), raw.position, 'provider name');
    return { kind: 'provider', provider, user: validateUser(vars.dst, raw.position, 'request user for provider leg') };
  }
  const user = validateUser(expandVariables({ text: raw.text.slice(0, at), position: raw.position }, vars), raw.position, 'user');
  const hostPosition = raw.position + at + 1;
  const host = validateHost(expandVariables({ text: raw.text.slice(at + 1), position: hostPosition }, vars), hostPosition, 'domain or provider');
  if (host === 'local') return { kind: 'local', user };
  return { kind: 'named', user, host };
}

function buildOptions(raws: RawOption[], vars: DialVars): LegOptions {
  const options: LegOptions = { delaySeconds: 0, transferPolicy: 'refuse', redirectMode: 'own-accounts', mangleSdp: true, customHeaders: [] };
  const seen = new Set<string>();
  for (const { key, value: rawValue } of raws) {
    const k = key.text;
    if (k !== 'ch') {
      if (seen.has(k)) throw new DialStringError(`Duplicate option '${k}'`, key.position);
      seen.add(k);
    }
    const value = expandVariables(rawValue, vars);
    const at = rawValue.position;
    switch (k) {
      case 'dt': options.delaySeconds = parseSeconds(value.trim(), at, k, 0, MAX_DIAL_DELAY_SECONDS); break;
      case 'cd': options.callDurationLimitSeconds = parseSeconds(value.trim(), at, k, 1, MAX_CALL_DURATION_SECONDS); break;
      case 'tr': {
        const v = value.trim().toLowerCase();
        if (v === 'n') options.transferPolicy = 'refuse';
        else if (v === 'p') options.transferPolicy = 'pass-through';
        else if (v === 'c') options.transferPolicy = 'switch';
        else throw new DialStringError(`Option 'tr' must be n, p or c, got '${value}'`, at);
        break;
      }
      case 'rm': {
        const v = value.trim().toLowerCase();
        if (v === 'n') options.redirectMode = 'new-dialplan';
        else if (v === 'm') options.redirectMode = 'manual';
        else if (v === 'f') options.redirectMode = 'follow';
        else throw new DialStringError(`Option 'rm' must be n, m or f, got '${value}'`, at);
        break;
      }
      case 'ma': {
        const v = value.trim().toLowerCase();
        if (v === 'true') options.mangleSdp = true;
        else if (v === 'false') options.mangleSdp = false;
        else throw new DialStringError(`Option 'ma' must be true or false, got '${value}'`, at);
        break;
      }
      case 'fd': options.fromDisplayName = validateFreeText(value, at, 'From display name'); break;
      case 'fu': options.fromUser = validateUser(value.trim(), at, 'From user'); break;
      case 'fh': options.fromHost = validateHost(value.trim(), at, 'From host'); break;
      case 'ch': {
        const colon = value.indexOf(':');
        if (colon < 0) throw new DialStringError("Option 'ch' must be Name:Value", at);
        const name = value.slice(0, colon).trim();
        const headerValue = value.slice(colon + 1).trim();
        if (!TOKEN_RE.test(name)) throw new DialStringError(`Invalid header name '${name}'`, at);
        if (PROTECTED_HEADERS.has(name.toLowerCase())) throw new DialStringError(`Header '${name}' cannot be set from a dial string`, at);
        validateFreeText(headerValue, at, `value of header '${name}'`);
        options.customHeaders.push({ name, value: headerValue });
        break;
      }
      default:
        throw new DialStringError(`Unknown option '${k}'`, key.position);
    }
  }
  return options;
}

/**
 * The From hosts (`fh=`) a dial string asks for, as written. They are checked against the
 * tenant's domains before anything is dialled, so a variable may not supply one: its value would
 * only be known per call, from the caller's request.
 */
export function dialStringFromHosts(text: string): string[] {
  if (text.length > MAX_DIAL_STRING_LENGTH) throw new DialStringError(`Dial string longer than ${MAX_DIAL_STRING_LENGTH} characters`, MAX_DIAL_STRING_LENGTH + 1);
  const hosts: string[] = [];
  if (text.trim() === '') return hosts;
  for (const legs of new DialStringScanner(text).parse()) {
    for (const leg of legs) {
      for (const { key, value } of leg.options) {
        if (key.text !== 'fh') continue;
        if (value.text.includes('${')) throw new DialStringError("Option 'fh' cannot use variables", value.position);
        hosts.push(validateHost(value.text.trim(), value.position, 'From host'));
      }
    }
  }
  return hosts;
}

/**
 * Parses a dial string into sequential groups of parallel legs. Duplicate destinations (same
 * normalized target anywhere in the plan) are dropped, keeping the first; a group left empty
 * by that is dropped too. Throws DialStringError.
 */
export function parseDialString(text: string, vars: DialVars): DialPlan {
  if (text.length > MAX_DIAL_STRING_LENGTH) throw new DialStringError(`Dial string longer than ${MAX_DIAL_STRING_LENGTH} characters`, MAX_DIAL_STRING_LENGTH + 1);
  if (text.trim() === '') throw new DialStringError('Empty dial string', 1);
  const rawGroups = new DialStringScanner(text).parse();
  const seen = new Set<string>();
  const groups: DialGroup[] = [];
  for (const rawLegs of rawGroups) {
    const legs: DialLeg[] = [];
    for (const raw of rawLegs) {
      const target = buildTarget(raw.target, raw.isUri, vars);
      const options = buildOptions(raw.options, vars);
      const key = dialTargetKey(target);
      if (seen.has(key)) continue;
      seen.add(key);
      legs.push({ target, options, key, position: raw.position });
    }
    if (legs.length) groups.push({ legs });
  }
  return { groups };
}
