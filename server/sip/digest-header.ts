/**
 * Parsing and formatting of HTTP-style authentication headers as SIP uses them
 * (RFC 3261 §25.1 / RFC 7235 §2.1 / RFC 7616 §3): `WWW-Authenticate`,
 * `Proxy-Authenticate`, `Authorization`, `Proxy-Authorization`.
 */

/** One challenge or credentials set: `Digest realm="x", nonce="y", ...`. */
export interface AuthParams {
  /** Scheme as written (compare case-insensitively). */
  scheme: string;
  /** Parameter names lower-cased; values unquoted and unescaped. */
  params: Record<string, string>;
}

/** Headers longer than this are refused outright: no legitimate Digest header comes close. */
const MAX_HEADER_LENGTH = 8192;

function isTokenChar(c: string): boolean {
  // RFC 3261 token: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
  // plus "/" ":" "=" etc. are excluded; token68 ("Basic abc==") is not needed for SIP digest.
  return /[A-Za-z0-9\-.!%*_+`'~]/.test(c);
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

/**
 * Parses a header value holding one or more challenges/credentials. Handles quoted strings
 * with backslash escapes, commas inside quotes, unquoted tokens, linear white space, and
 * several schemes in one value (`Digest a=1, Digest b=2`). Returns undefined when malformed
 * (unterminated quote, missing `=`, duplicate parameter).
 */
export function parseAuthHeader(value: string): AuthParams[] | undefined {
  if (value.length > MAX_HEADER_LENGTH) return undefined;
  const out: AuthParams[] = [];
  let i = 0;
  const n = value.length;
  const skipSpace = (): void => {
    while (i < n && isSpace(value[i])) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && isTokenChar(value[i])) i++;
    return value.slice(start, i);
  };

  let current: AuthParams | undefined;
  while (i < n) {
    skipSpace();
    while (i < n && (value[i] === ',' || isSpace(value[i]))) i++;
    if (i >= n) break;
    const token = readToken();
    if (token === '') return undefined;
    skipSpace();
    if (value[i] !== '=') {
      // A bare token starts a new scheme.
      current = { scheme: token, params: {} };
      out.push(current);
      continue;
    }
    if (!current) return undefined;
    i++; // '='
    skipSpace();
    let paramValue: string;
    if (value[i] === '"') {
      i++;
      let buf = '';
      let closed = false;
      while (i < n) {
        const c = value[i];
        if (c === '\\') {
          if (i + 1 >= n) return undefined;
          buf += value[i + 1];
          i += 2;
          continue;
        }
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        buf += c;
        i++;
      }
      if (!closed) return undefined;
      paramValue = buf;
    } else {
      paramValue = readToken();
      if (paramValue === '') return undefined;
    }
    const name = token.toLowerCase();
    if (Object.prototype.hasOwnProperty.call(current.params, name)) return undefined;
    current.params[name] = paramValue;
    skipSpace();
    if (i < n && value[i] !== ',') return undefined;
  }
  return out;
}

/** RFC 3261 quoted-string: escapes `"` and `\`. */
export function quoteString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A parameter for {@link formatAuthHeader}: `quoted` selects `k="v"` over `k=v`. */
export interface AuthParamOut {
  name: string;
  value: string;
  quoted: boolean;
}

export function formatAuthHeader(scheme: string, params: AuthParamOut[]): string {
  return `${scheme} ${params.map((p) => `${p.name}=${p.quoted ? quoteString(p.value) : p.value}`).join(', ')}`;
}
