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

/** RFC 3261 token characters: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~". */
const TOKEN_CHARS = (() => {
  const table = new Uint8Array(128);
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~";
  for (let k = 0; k < chars.length; k++) table[chars.charCodeAt(k)] = 1;
  return table;
})();

// "/" ":" "=" etc. are excluded; token68 ("Basic abc==") is not needed for SIP digest.
function isTokenCode(c: number): boolean {
  return c < 128 && TOKEN_CHARS[c] === 1;
}

function isSpaceCode(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

const COMMA = 0x2c;
const EQUALS = 0x3d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Parses a header value holding one or more challenges/credentials. Handles quoted strings
 * with backslash escapes, commas inside quotes, unquoted tokens, linear white space, and
 * several schemes in one value (`Digest a=1, Digest b=2`). Returns undefined when malformed
 * (unterminated quote, missing `=`, duplicate parameter).
 *
 * It runs on every authenticated REGISTER and INVITE: values are cut with `slice` (a quoted
 * string is built piece by piece only when it holds an escape), never a character at a time —
 * the char-by-char version was a sixth of all the bytes the REGISTER path allocated.
 */
export function parseAuthHeader(value: string): AuthParams[] | undefined {
  if (value.length > MAX_HEADER_LENGTH) return undefined;
  const out: AuthParams[] = [];
  let i = 0;
  const n = value.length;
  const skipSpace = (): void => {
    while (i < n && isSpaceCode(value.charCodeAt(i))) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && isTokenCode(value.charCodeAt(i))) i++;
    return value.slice(start, i);
  };

  let current: AuthParams | undefined;
  while (i < n) {
    skipSpace();
    while (i < n) {
      const c = value.charCodeAt(i);
      if (c !== COMMA && !isSpaceCode(c)) break;
      i++;
    }
    if (i >= n) break;
    const token = readToken();
    if (token === '') return undefined;
    skipSpace();
    if (value.charCodeAt(i) !== EQUALS) {
      // A bare token starts a new scheme.
      current = { scheme: token, params: {} };
      out.push(current);
      continue;
    }
    if (!current) return undefined;
    i++; // '='
    skipSpace();
    let paramValue: string;
    if (value.charCodeAt(i) === QUOTE) {
      i++;
      const start = i;
      let segment = i;
      let escaped: string | undefined;
      let closed = false;
      while (i < n) {
        const c = value.charCodeAt(i);
        if (c === BACKSLASH) {
          if (i + 1 >= n) return undefined;
          escaped = (escaped ?? '') + value.slice(segment, i) + value[i + 1];
          i += 2;
          segment = i;
          continue;
        }
        if (c === QUOTE) {
          closed = true;
          break;
        }
        i++;
      }
      if (!closed) return undefined;
      paramValue = escaped === undefined ? value.slice(start, i) : escaped + value.slice(segment, i);
      i++; // closing quote
    } else {
      paramValue = readToken();
      if (paramValue === '') return undefined;
    }
    const name = token.toLowerCase();
    if (Object.prototype.hasOwnProperty.call(current.params, name)) return undefined;
    current.params[name] = paramValue;
    skipSpace();
    if (i < n && value.charCodeAt(i) !== COMMA) return undefined;
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
